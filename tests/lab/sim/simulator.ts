/**
 * One simulated device: `node simulator.js PROFILE.json [--ready-file FILE]`.
 *
 * Run by scripts/lab.sh inside the device's network namespace (cctvlab-NAME). Starts every
 * responder whose profile key is present, then writes the ready file (JSON: pid, name,
 * endpoints) and prints `READY <name> pid=<pid>`. SIGTERM/SIGINT: closes the sockets, removes
 * the ready file and exits 0. A bad packet is logged and ignored; a start-up failure exits 1.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { HttpHost } from './http-host.js';
import { createLog } from './log.js';
import { isIpv6Only, loadProfile } from './profile.js';
import { NON_PROTOCOL_KEYS, RESPONDERS } from './responders/index.js';
import type { RunningResponder } from './responders/types.js';

function usage(): never {
  process.stderr.write('usage: simulator.js PROFILE.json [--ready-file FILE]\n');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profilePath = args[0];
  if (!profilePath || profilePath.startsWith('-')) usage();
  let readyFile: string | undefined;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--ready-file' && args[i + 1]) readyFile = args[++i];
    else usage();
  }

  const profile = loadProfile(profilePath);
  const log = createLog(profile.name);
  log.info(`starting pid=${process.pid} ip=${profile.ip} mac=${profile.mac}`);

  process.on('uncaughtException', (e) => log.warn(`uncaught exception (ignored): ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => log.warn(`unhandled rejection (ignored): ${String(e)}`));

  const known = new Set(RESPONDERS.map((r) => r.key));
  for (const key of Object.keys(profile)) {
    if (!NON_PROTOCOL_KEYS.has(key) && !known.has(key)) log.warn(`profile key '${key}' has no responder yet (ignored)`);
  }

  const http = new HttpHost(log.child('http'));
  const running: RunningResponder[] = [];
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    if (readyFile) rmSync(readyFile, { force: true });
    await Promise.allSettled([...running.map((r) => r.close()), http.close()]);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const endpoints: string[] = [];
  for (const responder of RESPONDERS) {
    if (profile[responder.key] === undefined) continue;
    const r = await responder.start({ profile, log, http, bindAddress: '0.0.0.0' });
    running.push(r);
    endpoints.push(...r.endpoints);
  }
  // A device with the `ipv6` key serves its web pages and ONVIF over IPv6 too; one with no IPv4 address only there.
  if (profile.ipv6 && isIpv6Only(profile)) await http.listen('::');
  else await http.listen('0.0.0.0', profile.ipv6 !== undefined);
  if (stopping) return;
  // A device lives until it is stopped, also one that speaks no protocol at all (its kernel still
  // answers ARP): with no socket open, Node would otherwise exit here.
  setInterval(() => undefined, 2 ** 31 - 1);

  if (readyFile) {
    const tmp = `${readyFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, name: profile.name, ip: profile.ip, endpoints, at: new Date().toISOString() }) + '\n');
    renameSync(tmp, readyFile);
  }
  log.info(`endpoints: ${endpoints.join('; ') || 'none'}`);
  process.stdout.write(`READY ${profile.name} pid=${process.pid}\n`);
}

main().catch((e: unknown) => {
  process.stdout.write(`${new Date().toISOString()} FATAL ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
