/**
 * One registry of coded errors (fastify's habit). Each message says what was wrong and what to do,
 * in words a council network admin can act on. Errors are thrown only for bad input, bad
 * configuration or an unusable environment — never for what a device on the network does.
 */

export const ERRORS = {
  CCTV_ERR_BAD_TARGET: {
    exit: 2,
    message: (target: string, why: string) =>
      `Target "${target}" is not valid: ${why}. Give an IPv4 address (198.18.0.10), a CIDR block (198.18.0.0/24) or a range (198.18.0.10-198.18.0.20), or an IPv6 address (fdcc:7a6e:1ab::10, fe80::2a57:beff:fe6a:1c10%eth0 with its interface), a small IPv6 block (fdcc:7a6e:1ab::/120) or range.`,
  },
  CCTV_ERR_TOO_MANY_TARGETS: {
    exit: 2,
    message: (count: number, max: number) =>
      `The targets add up to ${count} addresses, more than the ${max} one scan may probe. Split the scan into blocks of a /16 or smaller (one scan or daemon site each).`,
  },
  CCTV_ERR_IPV6_RANGE_TOO_LARGE: {
    exit: 2,
    message: (target: string, count: bigint, max: number) =>
      `Target "${target}" names ${count} IPv6 addresses, and an IPv6 target may name at most ${max} (a /120). An IPv6 subnet (a /64 holds 18,446,744,073,709,551,616 addresses) cannot be swept: it would take millions of years. Its devices are found without a target, by listening (WS-Discovery on FF02::C and the IPv6 neighbour table, on every chosen interface); name single IPv6 addresses or a small block only for devices you know are there.`,
  },
  CCTV_ERR_UNKNOWN_INTERFACE: {
    exit: 2,
    message: (name: string, known: string[]) =>
      `Network interface "${name}" does not exist or has no IPv4 address. Interfaces that can be used here: ${known.length ? known.join(', ') : 'none'}.`,
  },
  CCTV_ERR_LOOPBACK_INTERFACE: {
    exit: 2,
    message: (name: string, usable: string[]) =>
      `Network interface "${name}" is the loopback interface: it reaches only this machine, never a camera, so the scan refuses it. Name the interface on the CCTV network instead${usable.length ? ` (here: ${usable.join(', ')})` : ''}, or leave --interface out to use every one that is up.`,
  },
  CCTV_ERR_NO_INTERFACE: {
    exit: 2,
    message: () =>
      'No network interface is up with an IPv4 address, so there is nothing to scan from. Connect the machine to the CCTV network, or name one with --interface.',
  },
  CCTV_ERR_BAD_OPTION: {
    exit: 2,
    message: (option: string, why: string) => `Option ${option} is not valid: ${why}.`,
  },
  CCTV_ERR_STORE_UNWRITABLE: {
    exit: 2,
    message: (dir: string, why: string) =>
      `The inventory store "${dir}" cannot be written (${why}). Choose a folder you can write to with --store DIR.`,
  },
  CCTV_ERR_REPORT_UNWRITABLE: {
    exit: 2,
    message: (file: string, why: string) =>
      `The output file "${file}" cannot be written (${why}). Give --out a path in a folder that exists and that you can write to.`,
  },
  CCTV_ERR_STORE_LOCKED: {
    exit: 2,
    message: (dir: string, holder: string) =>
      `The inventory store "${dir}" is in use by another cctv-agent run (${holder}). Wait for it to finish; if no run is active, delete the stale lock file it names.`,
  },
  CCTV_ERR_STORE_CONFLICT: {
    exit: 2,
    message: (dir: string, site: string) =>
      `Another cctv-agent run saved a scan of site "${site}" into "${dir}" while this one was saving, again and again. Run one scan of a site at a time, then scan again.`,
  },
  CCTV_ERR_STORE_CORRUPT: {
    exit: 2,
    message: (file: string, why: string) =>
      `The store file "${file}" cannot be read (${why}). Restore it from a backup or move it aside; the next scan will start the site afresh.`,
  },
  CCTV_ERR_STORE_NOT_FOUND: {
    exit: 2,
    message: (store: string, why: string) =>
      `The inventory store "${store}" does not exist (${why}). Check the --store value for a typing mistake: reading never creates a store, a scan does.`,
  },
  CCTV_ERR_STORE_UNREADABLE: {
    exit: 2,
    message: (store: string, why: string) =>
      `The inventory store "${store}" cannot be read (${why}). Check that it is reachable from this machine and that its account may read it, then try again.`,
  },
  CCTV_ERR_STORE_WRITE_ONLY: {
    exit: 2,
    message: (store: string, why: string) =>
      `The store "${store}" cannot be read back: ${why}. Read the documents where that store delivers them, or give --store a folder or a couchdb+https://host:port/database store.`,
  },
  CCTV_ERR_STORE_SPEC: {
    exit: 2,
    message: (store: string, why: string) =>
      `The store "${store}" is not configured correctly: ${why}. Fix the --store value or the store entry in the config file ("cctv-agent scan --help" lists the store forms).`,
  },
  CCTV_ERR_STORE_SECRET: {
    exit: 2,
    message: (source: string, why: string) =>
      `The store secret from ${source} cannot be used (${why}). Set that environment variable, or write the secret alone in that file, before starting cctv-agent.`,
  },
  CCTV_ERR_STORE_SECRET_EXPOSED: {
    exit: 2,
    message: (file: string, mode: string) =>
      `The store secret file "${file}" can be read or changed by other users (mode ${mode}). Make it private with "chmod 600 ${file}", then start cctv-agent again.`,
  },
  CCTV_ERR_BAD_NAME: {
    exit: 2,
    message: (kind: string, value: string) =>
      `The ${kind} "${value}" cannot be used: it must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit (for example "town-hall").`,
  },
  CCTV_ERR_NO_INVENTORY: {
    exit: 2,
    message: (site: string, dir: string) =>
      `There is no inventory for site "${site}" in "${dir}" yet. Run "cctv-agent scan --site ${site} --store ${dir}" first.`,
  },
  CCTV_ERR_CREDENTIALS_UNREADABLE: {
    exit: 2,
    message: (file: string, why: string) =>
      `The credentials file "${file}" cannot be used (${why}). Give --credentials the path of the JSON file you wrote for this scan.`,
  },
  CCTV_ERR_CREDENTIALS_EXPOSED: {
    exit: 2,
    message: (file: string, mode: string) =>
      `The credentials file "${file}" can be read or changed by other users (mode ${mode}). Make it private with "chmod 600 ${file}", then scan again.`,
  },
  CCTV_ERR_CREDENTIALS_INVALID: {
    exit: 2,
    message: (file: string, why: string) =>
      `The credentials file "${file}" is not valid: ${why}. It must be a JSON array of entries like {"ip": "198.18.0.10", "username": "…", "password": "…"} ("cidr" instead of "ip" for a block, neither for every device).`,
  },
  CCTV_ERR_FINGERPRINT_DATA: {
    exit: 2,
    message: (file: string, why: string) =>
      `The fingerprint data file "${file}" is invalid: ${why}. Fix the file, then run "cctv-agent fingerprints verify".`,
  },
  CCTV_ERR_UNKNOWN_FIELD: {
    exit: 2,
    message: (field: string) =>
      `"${field}" is not an observation field the fingerprint rules know. Run "cctv-agent fingerprints fields" to list them (for example onvif.scope.name).`,
  },
  CCTV_ERR_NOT_A_MAC: {
    exit: 2,
    message: (value: string) =>
      `"${value}" is not a MAC address. Give six bytes in hexadecimal, in any common notation (28:57:be:6a:1c:10, 28-57-BE-6A-1C-10, 2857.be6a.1c10 or 2857BE6A1C10).`,
  },
  CCTV_ERR_CONFIG_UNREADABLE: {
    exit: 2,
    message: (file: string, why: string) =>
      `The daemon configuration file "${file}" cannot be read (${why}). Give --config the path of the YAML or JSON file (examples/daemon.yaml shows every key).`,
  },
  CCTV_ERR_BAD_CONFIG: {
    exit: 2,
    message: (problems: string) =>
      `The daemon configuration is not valid; nothing was started:\n${problems}\nFix these lines (examples/daemon.yaml shows every key) and start the daemon again.`,
  },
  CCTV_ERR_HEALTH_UNAVAILABLE: {
    exit: 2,
    message: (address: string, why: string) =>
      `The health and metrics endpoint cannot listen on ${address} (${why}). Choose a free port in the configuration's health.listen, or stop what is using it.`,
  },
  CCTV_ERR_HANDOVER_UNREADABLE: {
    exit: 2,
    message: (file: string, why: string) =>
      `The handover file "${file}" cannot be read (${why}). Give --expected the path of the CSV, JSON or Excel (.xlsx) handover schedule.`,
  },
  CCTV_ERR_BAD_HANDOVER: {
    exit: 2,
    message: (file: string, line: number, column: number, why: string) =>
      `The handover file "${file}" is not valid at line ${line}, column ${column}: ${why}. Fix that line (columns: ip, mac, serial, model, firmware, brand, location) and run verify again.`,
  },
  CCTV_ERR_BAD_XLSX: {
    exit: 2,
    message: (file: string, why: string) =>
      `The handover file "${file}" cannot be read as an Excel workbook (.xlsx): ${why}. Save the schedule from the spreadsheet program as "Excel Workbook (.xlsx)" or as CSV, and run verify again.`,
  },
  CCTV_ERR_BAD_HANDOVER_CELL: {
    exit: 2,
    message: (file: string, sheet: string, cell: string, why: string) =>
      `The handover workbook "${file}" is not valid at cell ${cell} of sheet "${sheet}": ${why}. Fix that cell (columns: ip, mac, serial, model, firmware, brand, location) and run verify again.`,
  },
  CCTV_ERR_NO_SCAN: {
    exit: 2,
    message: (site: string, scanId: string, dir: string) =>
      `Site "${site}" in "${dir}" has no scan "${scanId}". Run "cctv-agent diff --site ${site} --store ${dir}" without scan ids to compare the last two scans, or pick a scan id the store holds (a file name under scans/${site} in a folder store, without .json).`,
  },
  CCTV_ERR_NOT_ENOUGH_SCANS: {
    exit: 2,
    message: (site: string, dir: string, count: number) =>
      `Site "${site}" in "${dir}" has ${count} scan(s); a diff needs two. Run "cctv-agent scan --site ${site} --store ${dir}" again, or name two scans.`,
  },
} as const;

/**
 * The exit status when the reader of stdout or stderr went away (`cctv-agent inventory --json | head -c 100`):
 * 128 + SIGPIPE (13), what a shell reports for a program a closed pipe ends (POSIX XCU 2.8.2 "Exit Status
 * for Commands"; `cat`, `grep` and `yes` end so). Node ignores SIGPIPE, so without agent/cli.ts's handler
 * the write fails with EPIPE and a stack trace. `set -o pipefail` scripts see the same status as for
 * those programs; 0 would hide that the output was cut short, and 1 would claim an internal fault.
 */
export const CLOSED_PIPE_EXIT = 141;

export type ErrorCode = keyof typeof ERRORS;
type MessageArgs<C extends ErrorCode> = Parameters<(typeof ERRORS)[C]['message']>;

export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, exitCode: number) {
    super(message);
    this.name = 'AgentError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Builds the registered error for `code`; the message text lives only in ERRORS. */
export function agentError<C extends ErrorCode>(code: C, ...args: MessageArgs<C>): AgentError {
  const entry = ERRORS[code];
  const message = (entry.message as (...a: MessageArgs<C>) => string)(...args);
  return new AgentError(code, message, entry.exit);
}
