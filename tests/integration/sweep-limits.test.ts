/**
 * The TCP sweep's bounds in the lab (issues 10 and 15), in one scan: the /22 that holds the lab's
 * /24, less the tarpit's address, run under `ulimit -n 256`. It completes without EMFILE, with every
 * lab device found and the sweep's sockets within the budget the limit allows
 * (agent/net/fd-limit.ts). The tarpit (tests/lab/profiles/tarpit.json: it announces itself by SSDP,
 * and every SYN it gets goes unanswered) is heard but not named, so the sweep after the window
 * tries all its ports: it must give it up after one round of connect timeouts, say so in the log
 * and in the device's evidence. Named (the shared default scan), it answers ARP, so host discovery
 * finds it live and the sweep gives it one round of connects: it is given up after that round's
 * timeout, within the time host discovery takes anyway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepSocketBudget } from '../../agent/net/fd-limit.js';
import type { Inventory } from '../../agent/types.js';
import { isIpv6Only } from '../lab/sim/profile.js';
import { AGENT_CLI, labProfile, labProfiles, runInNamespace, SCANNER_NS, type RunResult } from './lab-helpers.js';
import { sharedScan, type AgentLogLine } from './shared-scan.js';

/** The descriptor limit of the test: a small one, as on a locked-down host. */
const FD_LIMIT = 256;
/** A /22 that holds the lab /24 (the other three /24s have no route in the lab, so they fail at once), less the tarpit. */
const TARPIT = labProfile('tarpit');
const RANGE = ['198.18.0.0-198.18.0.69', '198.18.0.71-198.18.3.255'];
/**
 * The discovery window: as long as the shared scan's, so the tarpit's SSDP answer is heard on a
 * loaded machine; it costs nothing, as the sweep of the named /22 under this limit takes longer.
 */
const WINDOW_SECONDS = '3';
/** The sweep's wait for a host that has answered nothing (nmap's initial RTT timeout). */
const INITIAL_TIMEOUT_MS = 1000;

const storeDir = mkdtempSync(join(tmpdir(), 'cctv-sweep-limits-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

function logLines(stderr: string): AgentLogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AgentLogLine);
}

function sweepLine(lines: AgentLogLine[]): AgentLogLine {
  const line = lines.find((l) => l.module === 'tcp-connect' && l.msg === 'TCP connect sweep finished');
  if (!line) throw new Error('no "TCP connect sweep finished" log line');
  return line;
}

describe(`a scan of a /22 under ulimit -n ${FD_LIMIT}`, () => {
  let run: RunResult;
  beforeAll(async () => {
    // `ulimit -n` sets the soft and the hard limit, so Node cannot raise it at start-up.
    run = await runInNamespace(
      SCANNER_NS,
      ['bash', '-c', `ulimit -n ${FD_LIMIT} && exec "$@"`, 'scan-under-ulimit', process.execPath, AGENT_CLI, 'scan', ...RANGE, '--json', '--site', 'fd-limit', '--store', storeDir, '--timeout', WINDOW_SECONDS],
      { timeoutMs: 90_000 },
    );
    process.stderr.write(`[sweep-limits] scan of ${RANGE.join(' ')} under ulimit -n ${FD_LIMIT}: exit ${String(run.code)} in ${run.durationMs} ms\n`);
  });

  it('completes without running out of descriptors, the sweep within its socket budget', () => {
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.stderr).not.toMatch(/EMFILE|ENFILE|too many open files/i);
    const sweep = sweepLine(logLines(run.stderr));
    expect(sweep).toMatchObject({ fdLimit: FD_LIMIT, sockets: sweepSocketBudget(FD_LIMIT), localLimit: 0, aborted: false });
    // The 768 routed addresses (198.18.1.0-198.18.3.255, each given the 80/443 check) and the
    // on-link ones that answered ARP (host discovery sweeps no other on-link address).
    expect(sweep.hosts).toBeGreaterThan(768);
    expect(sweep.hosts).toBeLessThanOrEqual(768 + 253);
  });

  it('gives up the tarpit, heard but not named, after one round of connect timeouts, and says so', () => {
    const lines = logLines(run.stderr);
    const givenUp = lines.filter((l) => l.module === 'tcp-connect' && l.msg.startsWith('host answered none of its first connects'));
    expect(givenUp).toEqual([expect.objectContaining({ ip: TARPIT.ip, timeoutMs: INITIAL_TIMEOUT_MS })]);
    const [line] = givenUp as [AgentLogLine & { silent: number[]; skipped: number[] }];
    expect(line.silent.length + line.skipped.length).toBe(9);
    expect(line.skipped.length).toBeGreaterThan(line.silent.length);
    // The sweep of hosts heard but not named took one round for the tarpit, not one per port. Those
    // hosts are the tarpit, the IPv6-only devices and the misaddressed devices heard over IPv6
    // link-local (reached there, never at their foreign IPv4 address); a dual-stack device named by
    // its IPv4 address is not swept again at its IPv6 ones.
    const heardNotNamed = 1 + labProfiles().filter((p) => isIpv6Only(p) || (p.misaddressed !== undefined && p.ipv6 !== undefined)).length;
    const afterWindow = lines.filter((l) => l.module === 'tcp-connect' && l.msg === 'TCP connect sweep finished')[1];
    expect(afterWindow).toMatchObject({ hosts: heardNotNamed, givenUpHosts: 1 });
    expect(afterWindow?.ms).toBeLessThan(2 * INITIAL_TIMEOUT_MS);
    const device = (JSON.parse(run.stdout) as Inventory).devices.find((d) => d.ip === TARPIT.ip);
    expect(device?.services).toEqual([]);
    expect(device?.evidence.find((e) => e.rule === 'port-host-silent')).toMatchObject({ source: 'port', supports: null, confidence: 0 });
  });

  it('finds every lab device', () => {
    const found = new Set((JSON.parse(run.stdout) as Inventory).devices.map((d) => d.ip));
    expect(labProfiles().filter((p) => !found.has(p.ip)).map((p) => p.name)).toEqual([]);
  });
});

describe('the tarpit in the shared default scan', () => {
  it('costs one round of connect timeouts, within host discovery\'s time, and is still a device, with its MAC and no services', () => {
    const shared = sharedScan();
    const tarpit = labProfile('tarpit');
    const device = shared.inventory.devices.find((d) => d.ip === tarpit.ip);
    expect(device).toMatchObject({ mac: tarpit.mac, services: [], classification: { linkedVendor: null } });
    // It answers ARP, so host discovery finds it live and it gets a round of connects on the swept
    // ports; it answers none and is given up after that round's one 1 s timeout, not asked port
    // after port. The sweep lasts as long as host discovery (the /24's dead addresses cost the
    // kernel's 3 s of ARP), the tarpit's timeout spent meanwhile.
    const givenUp = shared.logLines.filter((l) => l.module === 'tcp-connect' && l.msg.startsWith('host answered none of its first connects') && l.ip === tarpit.ip);
    expect(givenUp).toEqual([expect.objectContaining({ timeoutMs: INITIAL_TIMEOUT_MS })]);
    const discovery = shared.logLines.find((l) => l.msg === 'host discovery finished');
    const sweep = sweepLine(shared.logLines);
    expect(discovery?.ms).toBeGreaterThan(0);
    expect((sweep.ms as number) - (discovery?.ms as number)).toBeLessThan(2 * INITIAL_TIMEOUT_MS);
  });
});
