/**
 * Alerts: which sweeps raise which alerts (agent/alerts/alerts.ts), their CEF lines and RFC 5424
 * messages read back by a strict parser (tests/support/cef-parser.ts), and the sinks over real
 * loopback sockets: syslog over UDP, TCP and TLS, the webhook through the outbox with a retry.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepAlerts, type Alert, type AlertState, type DeviceAlert } from '../../agent/alerts/alerts.js';
import { cefLine, escapeHeader } from '../../agent/alerts/cef.js';
import { openAlertSinks, type AlertSinkConfig } from '../../agent/alerts/sinks.js';
import { DEFAULT_UDP_MAX_MESSAGE_OCTETS, MIN_UDP_MAX_MESSAGE_OCTETS, octetCounted, SYSLOG_ATTEMPTS, syslogMessage } from '../../agent/alerts/syslog.js';
import { computeSiteChanges, type SiteState } from '../../agent/pipeline/changes.js';
import type { Inventory } from '../../agent/types.js';
import { parseCef, parseSyslog, splitOctetCounted } from '../support/cef-parser.js';
import { startHttpReceiver } from '../support/http-receiver.js';
import { startSyslogReceiver } from '../support/syslog-receiver.js';
import { dahuaCamera, firstScan, hikvisionCamera, hikvisionNvr, secondScan, SITE } from './store-contract.js';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * Sweeps in order through the change engine (a device is removed at its first miss) and the alerts;
 * `alertsFrom` is the sweep the alert sinks were configured at (0: from the first).
 */
function sweeps(inventories: Inventory[], alertsFrom = 0): Alert[][] {
  let presence: SiteState | null = null;
  let state: AlertState | null = null;
  return inventories.map((inventory) => {
    const { events, state: next } = computeSiteChanges(presence, inventory, { removeAfterMissedSweeps: 1 });
    const raised = sweepAlerts(inventory, events, presence, state);
    presence = next;
    if (alertsFrom-- > 0) return [];
    state = raised.state;
    return raised.alerts;
  });
}

const brief = (alerts: Alert[]) =>
  alerts.map((a) => (a.type === 'baseline-taken' ? [a.type, a.site, a.baseline] : [a.type, a.deviceId, a.cve?.id ?? a.firmware?.after ?? null]));

describe('alerts: what a sweep raises', () => {
  it('raises linked additions, removals, firmware changes and CVEs that newly count, each once', () => {
    const third = secondScan();
    third.scan.id = '20260316T081500Z-5e5e5e';
    const hik = third.devices.find((d) => d.id === hikvisionCamera().id);
    if (!hik) throw new Error('fixture');
    hik.vulnerabilities = [
      { id: 'CVE-2021-36260', status: 'possibly-affected', severity: 'critical' },
      { id: 'CVE-2017-7921', status: 'not-affected', severity: 'critical' },
      { id: 'CVE-2099-0001', status: 'cannot-tell' },
    ];
    const fourth = structuredClone(third);
    fourth.scan.id = '20260323T081500Z-6f6f6f';

    const [first, second, thirdAlerts, fourthAlerts] = sweeps([firstScan(), secondScan(), third, fourth]);
    // The first sweep has nothing to compare with: one baseline, not an alert per device. The
    // Axis camera is not linked; the Dahua camera's CVE has no status (an older document): it counts.
    expect(brief(first ?? [])).toEqual([['baseline-taken', SITE, { devices: 3, linked: { hikvision: 1, dahua: 1 }, flaggedCves: 1, devicesWithCves: 1 }]]);
    expect(brief(second ?? [])).toEqual([
      ['device-removed', dahuaCamera().id, null],
      ['linked-device-added', hikvisionNvr().id, null],
      ['firmware-changed', hikvisionCamera().id, 'V5.7.15 build 230420'],
    ]);
    const removed = second?.find((a): a is DeviceAlert => a.type === 'device-removed');
    // What it was, from the presence state: it is in no inventory any more.
    expect(removed?.device).toMatchObject({ model: dahuaCamera().identity.model, linkedVendor: 'dahua', mac: dahuaCamera().mac });
    expect(second?.find((a): a is DeviceAlert => a.type === 'firmware-changed')?.firmware).toEqual({ before: 'V5.7.3 build 220112', after: 'V5.7.15 build 230420' });
    // Only the possibly-affected CVE counts; not-affected and cannot-tell do not. Then it is known.
    expect(brief(thirdAlerts ?? [])).toEqual([['new-affected-cve', hikvisionCamera().id, 'CVE-2021-36260']]);
    expect(fourthAlerts).toEqual([]);
  });

  it('takes a baseline of the CVEs when alerts are configured on a site already swept, and still alerts its device changes', () => {
    const second = secondScan();
    const dahua = structuredClone(dahuaCamera());
    second.devices.push(dahua); // still there: its CVE counted before the alerts were configured
    const [before, first] = sweeps([firstScan(), second], 1);
    expect(before).toEqual([]);
    expect(brief(first ?? [])).toEqual([
      ['baseline-taken', SITE, { devices: 4, linked: { hikvision: 2, dahua: 1 }, flaggedCves: 1, devicesWithCves: 1 }],
      ['linked-device-added', hikvisionNvr().id, null],
      ['firmware-changed', hikvisionCamera().id, 'V5.7.15 build 230420'],
    ]);
  });
});

/** An alert whose device wrote CEF and syslog syntax into every field it controls. */
function hostileAlert(): DeviceAlert {
  return {
    type: 'new-affected-cve',
    at: '2026-03-09T08:15:39.004Z',
    site: SITE,
    scanId: '20260309T081500Z-9c3d7e',
    deviceId: 'mac:bc:ad:28:4f:12:9e',
    ip: '198.18.0.21',
    device: {
      mac: 'bc:ad:28:4f:12:9e',
      manufacturer: 'Hik|vision\\ cs1=evil',
      brand: 'LTS',
      model: 'DS=2CD|2143\nG2 msg=x',
      firmware: 'V5.7.3 build 220112\r\nCEF:0|x|y',
      serial: null,
      linkedVendor: 'hikvision',
      relation: 'oem',
    },
    cve: { id: 'CVE-2021-36260', status: 'affected', severity: 'critical', kev: '2022-01-10' },
  };
}

describe('alerts: CEF and RFC 5424', () => {
  it('escapes what a device wrote so that a strict CEF parser reads every value back as it was', () => {
    const alert = hostileAlert();
    const line = cefLine(alert);
    const cef = parseCef(line);
    expect(cef).toMatchObject({ vendor: 'cctv-agent', product: 'cctv-agent', signatureId: 'new-affected-cve', severity: 9 });
    expect(cef.extension).toMatchObject({
      rt: String(Date.parse(alert.at)),
      dst: '198.18.0.21',
      dmac: 'bc:ad:28:4f:12:9e',
      cs1Label: 'site',
      cs1: SITE,
      cs3: alert.deviceId,
      cs4: 'hikvision/oem',
      cs5Label: 'cve',
      cs5: 'CVE-2021-36260 affected',
      cs6: alert.device.firmware,
      flexString1: alert.device.model,
      flexString2: alert.device.manufacturer,
    });
    expect(cef.extension.msg).toContain('CVE-2021-36260 affected');
    // The header's own escapes: | and \ escaped, a line break made a space.
    expect(escapeHeader('a|b\\c\nd')).toBe('a\\|b\\\\c d');
    expect(() => parseCef('CEF:0|a|b|c|d|e|5|cs1=x=y')).toThrow(/unescaped =/);
    expect(() => parseCef('CEF:0|a\\x|b|c|d|e|5|')).toThrow(/header escape/);
  });

  it('wraps each line in an RFC 5424 message, severity from the CEF severity, IPv6 in c6a3', () => {
    const alert: DeviceAlert = { ...hostileAlert(), type: 'device-removed', ip: 'fd00::21' };
    delete alert.cve;
    const message = parseSyslog(syslogMessage(alert, 16, 'collector host', 4242));
    expect(message).toMatchObject({ facility: 16, severity: 5, hostname: 'collectorhost', appName: 'cctv-agent', procId: '4242', msgId: 'device-removed', timestamp: alert.at });
    const cef = parseCef(message.msg);
    expect(cef.severity).toBe(3);
    expect(cef.extension).toMatchObject({ c6a3: 'fd00::21', c6a3Label: 'deviceAddress' });
    expect(cef.extension.dst).toBeUndefined();
    expect(splitOctetCounted(Buffer.concat([octetCounted('é one'), octetCounted('two')]))).toEqual(['é one', 'two']);
  });

  it('sends a baseline as one informational CEF event with its counts, naming no device', () => {
    const [first] = sweeps([firstScan()]);
    const baseline = first?.[0];
    if (baseline?.type !== 'baseline-taken') throw new Error('no baseline');
    const message = parseSyslog(syslogMessage(baseline, 16, 'h', 1));
    expect(message).toMatchObject({ severity: 5, msgId: 'baseline-taken' });
    const cef = parseCef(message.msg);
    expect(cef).toMatchObject({ signatureId: 'baseline-taken', name: 'CCTV site baseline taken', severity: 1 });
    expect(cef.extension).toEqual({
      rt: String(Date.parse(baseline.at)),
      msg: `baseline taken for site ${SITE}: 3 devices, 1 linked to hikvision, 1 linked to dahua; 1 CVEs that count on 1 devices; alerts from the next sweep on are changes to this`,
      externalId: `${baseline.scanId}/baseline-taken`,
      cs1Label: 'site',
      cs1: SITE,
      cs2Label: 'scanId',
      cs2: baseline.scanId,
      cnt: '3',
      cn1Label: 'linkedDevices',
      cn1: '2',
      cn2Label: 'flaggedCves',
      cn2: '1',
    });
  });
});

describe('alerts: sinks over loopback', () => {
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cctv-alerts-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A self-signed EC certificate for 127.0.0.1 (fast to make), with openssl. */
  async function selfSigned(dir: string): Promise<{ key: string; cert: string; certFile: string }> {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=syslog test', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'pipe' });
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8'), certFile: join(dir, 'cert.pem') };
  }

  it.each(['udp', 'tcp', 'tls'] as const)('sends each alert as one message over %s', async (transport) => {
    const dir = await tempDir();
    const pki = transport === 'tls' ? await selfSigned(dir) : undefined;
    const receiver = await startSyslogReceiver(transport, pki);
    cleanups.push(() => receiver.close());
    const config: AlertSinkConfig = { type: 'syslog', host: '127.0.0.1', port: receiver.port, transport, ...(pki ? { caFile: pki.certFile } : {}) };
    const [sink] = await openAlertSinks([config], { log: silent, stateDir: dir });
    const alerts: DeviceAlert[] = [hostileAlert(), { ...hostileAlert(), type: 'linked-device-added' }];
    await sink?.send(firstScan(), alerts);
    const got = (await receiver.waitFor(2)).map((m) => parseCef(parseSyslog(m).msg));
    expect(got.map((c) => c.signatureId)).toEqual(['new-affected-cve', 'linked-device-added']);
    expect(got[0]?.extension.flexString1).toBe(hostileAlert().device.model);
  });

  it('does not send over TLS to a server whose certificate it cannot verify, and says so in the log', async () => {
    const dir = await tempDir();
    const receiver = await startSyslogReceiver('tls', await selfSigned(dir));
    cleanups.push(() => receiver.close());
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => lines.push(l) });
    const [sink] = await openAlertSinks([{ type: 'syslog', host: '127.0.0.1', port: receiver.port, transport: 'tls' }], { log, stateDir: dir });
    await sink?.send(firstScan(), [hostileAlert()]);
    expect(await sink?.flush(5_000)).toBe(true);
    expect(receiver.messages).toEqual([]);
    const logged = JSON.parse(lines.join('')); // one line: a certificate that does not verify is not retried
    expect(logged).toMatchObject({ attempts: 1 });
    expect(logged.msg).toMatch(/alerts could not be sent to syslog/);
    expect(logged.err).toMatch(/self.signed|certificate/);
  });

  /** A loopback port nothing listens on (yet). */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    for (const end = Date.now() + 5_000; !check(); await sleep(10)) if (Date.now() > end) throw new Error(`${what} within 5 s`);
  }

  it('sends a refused TCP batch again on a new connection once the server is up, in the background', async () => {
    const dir = await tempDir();
    const port = await closedPort();
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const [sink] = await openAlertSinks([{ type: 'syslog', host: '127.0.0.1', port, transport: 'tcp' }], { log, stateDir: dir, syslogRetryPauseMs: 300 });
    if (!sink) throw new Error('no sink');
    cleanups.push(() => sink.close());
    await sink.send(firstScan(), [hostileAlert()]); // returns before any attempt ends
    await until(() => lines.some((l) => l.includes('will retry')), 'a refused attempt');
    const receiver = await startSyslogReceiver('tcp', undefined, port);
    cleanups.push(() => receiver.close());
    expect(await sink.flush(5_000)).toBe(true);
    expect((await receiver.waitFor(1)).map((m) => parseCef(parseSyslog(m).msg).extension.externalId)).toEqual([`${hostileAlert().scanId}/${hostileAlert().deviceId}/new-affected-cve/CVE-2021-36260`]);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ attempt: 1, retryInMs: 300 });
  });

  it('gives a batch up after its attempts to a server that stays down, and says so', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const [sink] = await openAlertSinks([{ type: 'syslog', host: '127.0.0.1', port: await closedPort(), transport: 'tcp' }], { log, stateDir: dir, syslogRetryPauseMs: 20 });
    if (!sink) throw new Error('no sink');
    cleanups.push(() => sink.close());
    await sink.send(firstScan(), [hostileAlert(), hostileAlert()]);
    expect(await sink.flush(5_000)).toBe(true);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; attempt?: number; attempts?: number; alerts: number });
    expect(logged.map((l) => [l.msg.split(';')[0], l.attempt ?? l.attempts])).toEqual([
      ['syslog connection failed', 1],
      ['syslog connection failed', 2],
      ['alerts could not be sent to syslog and are dropped (the webhook sink is the one with a durable outbox)', SYSLOG_ATTEMPTS],
    ]);
    expect(logged[2]?.alerts).toBe(2);
  });

  it('keeps a UDP message within its datagram size by shortening what the device wrote, never the identifiers', async () => {
    const dir = await tempDir();
    const receiver = await startSyslogReceiver('udp');
    cleanups.push(() => receiver.close());
    const alert = hostileAlert();
    alert.device.model = `DS=2CD|${'x'.repeat(5_000)}`;
    alert.device.manufacturer = 'é'.repeat(2_000);
    const sinks = await openAlertSinks(
      [
        { type: 'syslog', host: '127.0.0.1', port: receiver.port, transport: 'udp' },
        { type: 'syslog', host: '127.0.0.1', port: receiver.port, transport: 'udp', maxMessageOctets: MIN_UDP_MAX_MESSAGE_OCTETS },
      ],
      { log: silent, stateDir: dir },
    );
    for (const sink of sinks) {
      cleanups.push(() => sink.close());
      await sink.send(firstScan(), [alert]);
      expect(await sink.flush(5_000)).toBe(true);
    }
    const got = await receiver.waitFor(2);
    expect(got.map((m) => Buffer.byteLength(m))).toEqual([expect.any(Number), expect.any(Number)]);
    expect(Buffer.byteLength(got[0] ?? '')).toBeLessThanOrEqual(DEFAULT_UDP_MAX_MESSAGE_OCTETS);
    expect(Buffer.byteLength(got[1] ?? '')).toBeLessThanOrEqual(MIN_UDP_MAX_MESSAGE_OCTETS);
    const [wide, narrow] = got.map((m) => parseCef(parseSyslog(m).msg).extension);
    for (const ext of [wide, narrow]) expect(ext).toMatchObject({ dst: alert.ip, dmac: alert.device.mac, cs1: SITE, cs2: alert.scanId, cs3: alert.deviceId, cs5: 'CVE-2021-36260 affected' });
    expect(wide?.flexString1).toMatch(/^DS=2CD\|x+\.\.\.$/);
    expect(narrow?.flexString1).toBeUndefined();
  });

  it('posts a sweep\'s alerts to the webhook through the outbox, retrying until the receiver takes them, and nothing for a sweep without alerts', async () => {
    const dir = await tempDir();
    const receiver = await startHttpReceiver();
    cleanups.push(() => receiver.close());
    let refusals = 1;
    receiver.override = () => (refusals-- > 0 ? 503 : undefined);
    const [sink] = await openAlertSinks([{ type: 'webhook', url: receiver.url }], { log: silent, stateDir: dir });
    if (!sink) throw new Error('no sink');
    cleanups.push(() => sink.close());
    await sink.send(secondScan(), []);
    await sink.send(firstScan(), [hostileAlert()]);
    expect(await sink.flush(10_000)).toBe(true);
    expect(receiver.requests.map(([status]) => status)).toEqual([503, 201]);
    const body = receiver.received[0]?.body as unknown as { schema: string; site: string; scanId: string; alerts: Alert[] };
    expect(body).toMatchObject({ schema: 'cctv-agent/alerts/v1', site: SITE, scanId: firstScan().scan.id, alerts: [hostileAlert()] });
  });
});
