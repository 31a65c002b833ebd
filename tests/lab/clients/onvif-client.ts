/**
 * Independent ONVIF client for the lab tests, built on the `onvif` npm package (0.8.3), run
 * inside cctvlab-scan. Prints one JSON document on stdout.
 *
 *   node onvif-client.js discover [timeoutMs]   Discovery.probe({resolve:false, device:'eth0'})
 *   node onvif-client.js query [--user U --pass P [--digest]] IP[:PORT]...
 *       Cam(autoconnect:false): GetSystemDateAndTime, GetDeviceInformation; with credentials the
 *       package sends WS-Security UsernameToken, or HTTP Digest only with --digest.
 *
 * Traps of the package (measured with onvif 0.8.3 in a network-namespace lab, tcpdump and a
 * malformed responder): resolve:true would auto-connect to every camera,
 * and without an 'error' listener a bad reply crashes the process; both are avoided here.
 */
import { createRequire } from 'node:module';
import type { RemoteInfo } from 'node:dgram';

const require = createRequire(import.meta.url);
const onvif = require('onvif') as typeof import('onvif');

interface Found {
  from: string;
  fromPort: number;
  match: unknown;
}

function discover(timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const events: Found[] = [];
    const errors: string[] = [];
    const onDevice = (cam: unknown, rinfo: RemoteInfo): void => {
      events.push({ from: rinfo.address, fromPort: rinfo.port, match: cam });
    };
    const onError = (e: Error | string): void => {
      errors.push(String(e));
    };
    onvif.Discovery.on('device', onDevice);
    onvif.Discovery.on('error', onError);
    onvif.Discovery.probe({ resolve: false, device: 'eth0', timeout: timeoutMs }, (err, devices) => {
      onvif.Discovery.removeListener('device', onDevice);
      onvif.Discovery.removeListener('error', onError);
      resolve({
        callbackError: err ? (Array.isArray(err) ? err.map(String) : [String(err)]) : null,
        errors,
        count: devices?.length ?? 0,
        found: events,
      });
    });
  });
}

interface CallResult {
  ok: boolean;
  error?: string;
  value?: unknown;
  xml?: string;
  /** Local clock around the call (ms since epoch). */
  before: number;
  after: number;
}

function call(cam: import('onvif').Cam, method: 'getSystemDateAndTime' | 'getDeviceInformation'): Promise<CallResult> {
  return new Promise((resolve) => {
    const before = Date.now();
    const cb = (err: Error | null, value?: unknown, xml?: string): void => {
      const after = Date.now();
      if (err) resolve({ ok: false, error: err.message, xml, before, after });
      else resolve({ ok: true, value: value instanceof Date ? value.toISOString() : value, xml, before, after });
    };
    if (method === 'getSystemDateAndTime') cam.getSystemDateAndTime(cb);
    else cam.getDeviceInformation(cb);
  });
}

async function query(args: string[]): Promise<unknown> {
  const out: unknown[] = [];
  let username: string | undefined;
  let password: string | undefined;
  let digest = false;
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--user') username = args[++i];
    else if (a === '--pass') password = args[++i];
    else if (a === '--digest') digest = true;
    else if (a) targets.push(a);
  }
  for (const t of targets) {
    const [hostname, port] = t.split(':');
    if (!hostname) continue;
    const cam = new onvif.Cam({
      hostname,
      port: port ? Number(port) : 80,
      autoconnect: false,
      timeout: 5000,
      ...(username !== undefined ? { username, password } : {}),
      useWSSecurity: !digest,
    });
    const dateTime = await call(cam, 'getSystemDateAndTime');
    const deviceInformation = await call(cam, 'getDeviceInformation');
    out.push({ target: t, dateTime, deviceInformation });
  }
  return out;
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  let result: unknown;
  if (cmd === 'discover') result = await discover(Number(rest[0] ?? 3000));
  else if (cmd === 'query') result = await query(rest);
  else {
    process.stderr.write('usage: onvif-client.js discover [timeoutMs] | query [--user U --pass P [--digest]] IP[:PORT]...\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
