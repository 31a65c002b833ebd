#!/usr/bin/env node
/**
 * cctv-agent command line. stdout carries only what was asked for (with --json exactly one JSON
 * document); pino logs go to stderr. Exit codes: 0 done (whatever a scan found), 1 an internal
 * fault, 2 bad input or an unusable environment (nothing written), and for `fingerprints verify`
 * 1 when the data has problems.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Level } from 'pino';
import { AgentError, agentError } from './errors.js';
import { createLogger, LOG_LEVELS } from './log.js';
import { chooseInterfaces, listScanInterfaces } from './net/interfaces.js';
import { parseTargets } from './targets.js';
import { loadCredentials } from './credentials.js';
import { recordScan } from './pipeline/changes.js';
import { openStore, storeStateDir } from './store/index.js';
import { assertStoreName } from './store/names.js';
import { openPlace, readScan, readScanPair } from './store/read.js';
import { defaultFingerprintDir, fieldsText, matchReport, matchText, readFields, verifyFingerprints } from './fingerprint/index.js';
import { linkedVendorNames, loadKnowledge } from './knowledge/index.js';
import { inventoryTable } from './report/table.js';
import { diffScans, diffTable } from './report/diff.js';
import { readHandoverFile } from './handover/schedule.js';
import { verifyExitCode, verifyHandover, verifyHtml, verifyTable } from './handover/verify.js';
import { createProgress } from './report/progress.js';
import { REPORT_FORMATS, writeReport, type ReportFormat } from './report/index.js';

const DEFAULT_STORE = './cctv-inventory';
/** Where `scan --store <push URL>` keeps that store's outbox (see storeStateDir). */
const SCAN_STATE_ROOT = './cctv-agent-state';
/** How long `scan` waits for a push store to deliver before leaving the document in its outbox. */
const SCAN_PUSH_WAIT_MS = 30_000;
const DEFAULT_SITE = 'default';
const READ_STORE_HELP =
  'the store to read, as scan takes it: a folder (the embedded JSON store) or couchdb+http(s)://host:port/database (an http(s):// push store cannot be read back)';
const MAX_WINDOW_SECONDS = 300;

function windowSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_WINDOW_SECONDS) {
    throw new InvalidArgumentError(`give a number of seconds from 0.1 to ${MAX_WINDOW_SECONDS}`);
  }
  return seconds;
}

/**
 * Gentle by default: an empty /24 costs about 2 connects a host (ports.yaml `hostDiscovery`), some
 * 2 s at this rate; a live host gets the full port list.
 */
const DEFAULT_RATE = 250;
const MAX_RATE = 5000;

function positiveRate(value: string): number {
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate < 1 || rate > MAX_RATE) throw new InvalidArgumentError(`give a number from 1 to ${MAX_RATE}`);
  return rate;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function logLevelOption(): Option {
  return new Option('--log-level <level>', 'how much to log on stderr').choices([...LOG_LEVELS, 'silent']).default('info');
}

function printJson(document: unknown): void {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

interface ScanFlags extends KnowledgeFlags {
  interface: string[];
  timeout: number;
  active: boolean;
  rate: number;
  credentials?: string;
  site: string;
  store: string;
  json?: boolean;
  logLevel: Level | 'silent';
}

/** `--fingerprints DIR`: another knowledge base folder than the one shipped beside the program. */
interface KnowledgeFlags {
  fingerprints?: string;
}

async function scanCommand(targetSpecs: string[], flags: ScanFlags): Promise<void> {
  const log = createLogger(flags.logLevel);
  // Everything the operator gave is checked, and the store opened, before a packet is sent.
  assertStoreName('site name', flags.site);
  const targets = parseTargets(targetSpecs);
  const interfaces = chooseInterfaces(flags.interface);
  const credentials = flags.credentials === undefined ? undefined : loadCredentials(flags.credentials);
  // Every table of the knowledge base is read and checked before the store is opened and the first packet sent.
  const knowledge = loadKnowledge(flags.fingerprints);
  const store = await openStore(flags.store, { log, stateDir: storeStateDir(SCAN_STATE_ROOT, flags.store) });
  // A corrupt store fails now, before the network is touched, not after the scan.
  await store.latest(flags.site);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress(process.stderr, { json: flags.json === true });
  try {
    // Loaded here, not at start-up: the discoverers pull in the SSDP and mDNS libraries, which
    // `--help` and the reading commands do not need.
    const { runScan } = await import('./pipeline/scan.js');
    const inventory = await runScan({
      site: flags.site,
      interfaces,
      targets,
      timeoutMs: flags.timeout * 1000,
      active: flags.active,
      ratePerSecond: flags.rate,
      credentials,
      knowledge,
      log,
      signal: abort.signal,
      onProgress: (p) => progress.update(`${p.phase}: ${p.hosts} host(s), ${p.observations} observation(s)`),
    });
    progress.update('saving the inventory');
    const saved = await recordScan(store, inventory);
    progress.done();
    log.info({ location: saved.location, changes: saved.events.length }, 'inventory saved');
    if (!(await store.flush(SCAN_PUSH_WAIT_MS))) {
      log.warn({ store: store.name, ...store.status() }, 'the inventory is not delivered yet; it stays in the outbox for the next run');
    }
    if (flags.json) printJson(inventory);
    else process.stdout.write(inventoryTable(inventory, linkedVendorNames(knowledge.dir)));
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
  }
}

interface InventoryFlags {
  site: string;
  store: string;
  json?: boolean;
  logLevel: Level | 'silent';
}

async function inventoryCommand(flags: InventoryFlags): Promise<void> {
  const store = await openPlace(flags, createLogger(flags.logLevel));
  const inventory = await readScan(store, flags);
  if (flags.json) printJson(inventory);
  else process.stdout.write(inventoryTable(inventory, linkedVendorNames()));
}

interface DiffFlags {
  site: string;
  store: string;
  json?: boolean;
  logLevel: Level | 'silent';
}

/** Compares two scans of a site: the named ones, or the last two in the store. */
async function diffCommand(scanA: string | undefined, scanB: string | undefined, flags: DiffFlags): Promise<void> {
  if (scanA !== undefined && scanB === undefined) throw agentError('CCTV_ERR_BAD_OPTION', 'SCAN_B', 'name both scans, or neither for the last two');
  const store = await openPlace(flags, createLogger(flags.logLevel));
  const [from, to] = await readScanPair(store, flags, scanA !== undefined && scanB !== undefined ? [scanA, scanB] : undefined);
  const diff = diffScans(from, to);
  if (flags.json) printJson(diff);
  else process.stdout.write(diffTable(diff));
}

interface HandoverFlags {
  expected: string;
  site: string;
  scan?: string;
  store: string;
  format: 'table' | 'json' | 'html';
  allowLinked?: boolean;
  logLevel: Level | 'silent';
}

async function handoverCommand(flags: HandoverFlags): Promise<void> {
  const log = createLogger(flags.logLevel);
  assertStoreName('site name', flags.site);
  // A bad handover file fails before the store is touched.
  const expected = readHandoverFile(flags.expected);
  const progress = createProgress(process.stderr, { json: flags.format === 'json' });
  progress.update(`matching ${expected.length} expected device(s) with the scan`);
  try {
    const inventory = await readScan(await openPlace(flags, log), flags, flags.scan);
    const result = verifyHandover(expected, inventory, { allowLinked: flags.allowLinked === true, names: linkedVendorNames() });
    progress.done();
    if (flags.format === 'json') printJson(result);
    else process.stdout.write(flags.format === 'html' ? verifyHtml(result) : verifyTable(result));
    process.exitCode = verifyExitCode(result);
  } finally {
    progress.done();
  }
}

function verifyCommand(flags: KnowledgeFlags & { json?: boolean }): void {
  // Loading checks every file's schema and meaning (or throws); verifying runs every example.
  const problems = verifyFingerprints(loadKnowledge(flags.fingerprints));
  if (flags.json) printJson({ ok: problems.length === 0, problems });
  else if (problems.length === 0) process.stdout.write('fingerprints: every rule and example verified\n');
  else {
    const lines = problems.map((p) => `${p.file}${p.rule ? ` rule ${p.rule}` : ''}: ${p.message}`);
    process.stdout.write(`${lines.join('\n')}\n${problems.length} problem(s) in the fingerprint data\n`);
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
}

function fieldsCommand(flags: KnowledgeFlags & { json?: boolean }): void {
  const fields = readFields(flags.fingerprints ?? defaultFingerprintDir());
  if (flags.json) printJson([...fields.values()]);
  else process.stdout.write(fieldsText(fields));
}

function matchCommand(field: string, value: string, flags: KnowledgeFlags & { json?: boolean }): void {
  const db = loadKnowledge(flags.fingerprints);
  const report = matchReport(db, field, value);
  if (flags.json) printJson(report);
  else process.stdout.write(matchText(db, report));
}

interface ReportFlags {
  site: string;
  scan?: string;
  store: string;
  format: ReportFormat;
  out?: string;
  logLevel: Level | 'silent';
}

interface DaemonFlags extends KnowledgeFlags {
  config: string;
  state?: string;
  logLevel?: Level | 'silent';
}

/** A clean stop that leaves a handle open (a keep-alive socket) still ends the process this long after. */
const DAEMON_EXIT_GRACE_MS = 2_000;

async function daemonCommand(flags: DaemonFlags): Promise<void> {
  const { loadDaemonConfig } = await import('./daemon/config.js');
  const config = loadDaemonConfig(flags.config, { availableInterfaces: listScanInterfaces() });
  const log = createLogger(flags.logLevel ?? config.logLevel);
  // A bad knowledge base fails now, not at the first sweep.
  const knowledge = loadKnowledge(flags.fingerprints);
  const { Daemon } = await import('./daemon/daemon.js');
  const { runScan } = await import('./pipeline/scan.js');
  const stateDir = flags.state ?? config.stateDir ?? process.env.STATE_DIRECTORY ?? './cctv-agent-state';
  const daemon = await Daemon.start({
    config,
    stateDir,
    log,
    followConfigLogLevel: flags.logLevel === undefined,
    linkedVendors: knowledge.linkedVendors,
    sweep: (site, { signal, log: siteLog }) =>
      runScan({
        site: site.name,
        interfaces: chooseInterfaces(site.interfaces),
        targets: site.targets,
        timeoutMs: site.timeoutMs,
        active: site.active,
        ratePerSecond: site.ratePerSecond,
        credentials: site.credentials,
        knowledge,
        log: siteLog,
        signal,
      }),
  });
  await new Promise<void>((resolve) => {
    const onStop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stop requested');
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', () => {
      daemon.reload().catch((error: unknown) => log.error({ err: String(error) }, 'configuration reload failed; the running configuration is kept'));
    });
  });
  process.exitCode = 0;
  setTimeout(() => process.exit(0), DAEMON_EXIT_GRACE_MS).unref();
}

export function buildProgram(): Command {
  const program = new Command('cctv-agent')
    .description('Inventories the CCTV devices on a network and says, with evidence, which are made by or for Hikvision or Dahua.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('scan')
    .description('discover devices on the chosen interfaces (and probe the named TARGETs), then save the inventory to the store')
    .argument('[target...]', 'IPv4 address, CIDR block or range that active probes may touch (unicast WS-Discovery, TCP, HTTP, RTSP, TLS, ONVIF)')
    .option('-i, --interface <name>', 'interface to discover on (repeatable; default: every up, non-loopback IPv4 interface)', collect, [])
    .option('-t, --timeout <seconds>', 'discovery window in seconds', windowSeconds, 5)
    .option('-s, --site <name>', 'site name the inventory is filed under', DEFAULT_SITE)
    .option(
      '--store <dir|url>',
      'where the inventory goes: a folder (the embedded JSON store), an http(s):// collector, or couchdb+http(s)://host:port/database (push stores queue in ./cctv-agent-state/outbox)',
      DEFAULT_STORE,
    )
    .option('--no-active', 'send nothing but discovery multicast: no TCP, HTTP, RTSP, TLS or ONVIF probes')
    .option('--rate <per-second>', 'new connections per second for active probes, all hosts together (cameras fall over under bursts)', positiveRate, DEFAULT_RATE)
    .option('--credentials <file>', 'JSON file of device credentials you supply (private: chmod 600); used only to read ONVIF device information, never guessed')
    .option('--json', 'print the inventory document (cctv-inventory/v1) on stdout instead of a table')
    .option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)')
    .addOption(logLevelOption())
    .action((targets: string[], flags: ScanFlags) => scanCommand(targets, flags));

  program
    .command('inventory')
    .description("print a site's current inventory from the store")
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--store <dir|url>', READ_STORE_HELP, DEFAULT_STORE)
    .option('--json', 'print the inventory document instead of a table')
    .addOption(logLevelOption())
    .action((flags: InventoryFlags) => inventoryCommand(flags));

  program
    .command('report')
    .description("write a scan from the store as a table, CSV (opens in Excel), the JSON document or one self-contained HTML file")
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--scan <id>', "scan id (default: the site's latest scan)")
    .option('--store <dir|url>', READ_STORE_HELP, DEFAULT_STORE)
    .addOption(new Option('--format <format>', 'report format').choices([...REPORT_FORMATS]).default('table'))
    .option('--out <file>', 'write the report to FILE (replaced atomically) instead of stdout')
    .addOption(logLevelOption())
    .action((flags: ReportFlags) => writeReport({ ...flags, log: createLogger(flags.logLevel) }));

  program
    .command('diff')
    .description('list the devices added, removed and changed between two scans of a site (default: its last two)')
    .argument('[scanA]', 'id of the earlier scan (in a folder store, a file name under STORE/scans/SITE without .json)')
    .argument('[scanB]', 'id of the later scan')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--store <dir|url>', READ_STORE_HELP, DEFAULT_STORE)
    .option('--json', 'print { site, from, to, added, removed, changed } instead of a table')
    .addOption(logLevelOption())
    .action((scanA: string | undefined, scanB: string | undefined, flags: DiffFlags) => diffCommand(scanA, scanB, flags));

  program
    .command('verify')
    .description(
      "check an installer's handover schedule against a scan: matched, missing, unexpected and mismatched devices, and every " +
        'device linked to Hikvision or Dahua. Exit 0 when the handover holds, 1 when it does not, 2 for a bad file. A linked ' +
        'device fails the handover on its own (a site that must not have such devices is the usual reason to verify); ' +
        '--allow-linked reports it without failing',
    )
    .requiredOption('--expected <file>', 'CSV (header row) or JSON handover schedule; columns ip, mac, serial, model, firmware, brand, location')
    .option('-s, --site <name>', 'site name', DEFAULT_SITE)
    .option('--scan <id>', 'check this scan instead of the latest')
    .option('--store <dir|url>', READ_STORE_HELP, DEFAULT_STORE)
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'html']).default('table'))
    .option('--allow-linked', 'list Hikvision/Dahua-linked devices but do not fail the handover for them')
    .addOption(logLevelOption())
    .action((flags: HandoverFlags) => handoverCommand(flags));

  program
    .command('daemon')
    .description('run unattended: sweep each site of the configuration on its schedule, record change events, push to the configured stores, serve /healthz and /metrics')
    .requiredOption('-c, --config <file>', 'YAML or JSON configuration (see examples/daemon.yaml)')
    .option('--state <dir>', 'state folder: local inventories, presence state, push outboxes (default: the configuration\'s stateDir, else $STATE_DIRECTORY, else ./cctv-agent-state)')
    .addOption(new Option('--log-level <level>', "how much to log on stderr (default: the configuration's logLevel)").choices([...LOG_LEVELS, 'silent']))
    .option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)')
    .action((flags: DaemonFlags) => daemonCommand(flags));

  const fingerprints = program.command('fingerprints').description('work with the knowledge base in fingerprints/ (rules, vendors, OUI, CVEs, policies, ports, probes)');
  fingerprints
    .command('verify')
    .description('check every file of the knowledge base, every rule and every example (exit 1 on any problem, 2 for a file that cannot be read)')
    .option('--json', 'print the result as JSON')
    .option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)')
    .action((flags: KnowledgeFlags & { json?: boolean }) => verifyCommand(flags));
  fingerprints
    .command('fields')
    .description('list the observation fields rules can match: name, meaning, example')
    .option('--json', 'print the fields as JSON')
    .option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)')
    .action((flags: KnowledgeFlags & { json?: boolean }) => fieldsCommand(flags));
  fingerprints
    .command('match')
    .description('show which rules fire on VALUE of observation field FIELD, and why (exit 2 for an unknown field)')
    .argument('<field>', 'observation field, e.g. onvif.scope.name')
    .argument('<value>', 'the value as a device would report it')
    .option('--json', 'print { field, value, matches: [{ rule, supports, confidence, identity }] }')
    .option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)')
    .action((field: string, value: string, flags: KnowledgeFlags & { json?: boolean }) => matchCommand(field, value, flags));

  return program;
}

function fail(message: string, code: number): void {
  process.stderr.write(`cctv-agent: ${message}\n`);
  process.exitCode = code;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof AgentError) return fail(`${error.message} [${error.code}]`, error.exitCode);
    if (error instanceof CommanderError) {
      // Commander has already printed its own message (and the help) for usage errors.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    fail(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 1);
  }
}

await main(process.argv);
