/**
 * The lab's device simulators are faithful: checked from the scanner namespace with
 * independent clients — the `onvif` npm package (Discovery.probe, Cam) and a raw dgram/http
 * client — against literal values taken from the profiles' sources, not only from the
 * profiles themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  labProfile,
  labProfiles,
  LAB_LOG_DIR,
  labScript,
  onvifProfiles,
  runLabClient,
  SCANNER_IP,
  startDevice,
  stopDevice,
  wsDiscoveryProfiles,
} from './lab-helpers.js';
import type { Reply } from '../lab/clients/raw-client.js';

// ---- shapes of the clients' JSON ----
interface OnvifProbeMatch {
  probeMatches: {
    probeMatch: {
      endpointReference: { address: string };
      types: string;
      scopes?: string;
      XAddrs: string;
      metadataVersion: number;
    };
  };
}
interface DiscoverResult {
  callbackError: string[] | null;
  errors: string[];
  count: number;
  found: Array<{ from: string; fromPort: number; match: OnvifProbeMatch }>;
}
interface CallResult {
  ok: boolean;
  error?: string;
  value?: unknown;
  xml?: string;
  before: number;
  after: number;
}
interface QueryResult {
  target: string;
  dateTime: CallResult;
  deviceInformation: CallResult;
}
type RawReply = Omit<Reply, 'raw'>;
interface RawProbe {
  messageId: string;
  replies: RawReply[];
}
interface HttpResult {
  status?: number;
  headers?: Record<string, string | string[]>;
  rawHeaders?: string[];
  body?: string;
  error?: string;
}

const ONVIF = 'onvif://www.onvif.org/';
const WSD = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';

const probe = (...args: string[]): Promise<RawProbe> => runLabClient<RawProbe>('raw-client', ['probe', '--timeout', '800', ...args]);
const repliersOf = (r: RawProbe): string[] => r.replies.map((x) => x.from).sort();
const ipsOf = (names: string[]): string[] => names.map((n) => labProfile(n).ip).sort();

describe('lab profiles', () => {
  it('define the required devices at their addresses with vendor OUIs', () => {
    const byName = Object.fromEntries(labProfiles().map((p) => [p.name, p]));
    for (const [name, ip, oui] of [
      ['hikvision', '198.18.0.10', '28:57:be'],
      ['lts', '198.18.0.11', 'bc:ad:28'],
      ['dahua', '198.18.0.20', '08:ed:ed'],
      ['axis', '198.18.0.30', 'ac:cc:8e'],
      ['printer', '198.18.0.40', '3c:d9:2b'],
    ] as const) {
      expect(byName[name]?.ip, name).toBe(ip);
      expect(byName[name]?.mac.startsWith(`${oui}:`), `${name} MAC ${byName[name]?.mac}`).toBe(true);
    }
    expect(new Set(labProfiles().map((p) => p.mac)).size).toBe(labProfiles().length);
  });
});

describe('WS-Discovery, seen by the onvif package (Discovery.probe resolve:false on eth0)', () => {
  let result: DiscoverResult;
  beforeAll(async () => {
    result = await runLabClient<DiscoverResult>('onvif-client', ['discover', '2500']);
  });

  it('gets only well-formed answers', () => {
    expect(result.errors).toEqual([]);
    expect(result.callbackError).toBeNull();
  });

  it('finds every WS-Discovery device once, answering from its own address and port 3702', () => {
    const expected = wsDiscoveryProfiles().map((p) => [p.ip, p.wsDiscovery?.endpointReference]);
    const got = result.found.map((f) => [f.from, f.match.probeMatches.probeMatch.endpointReference.address]);
    expect(got.sort()).toEqual(expected.sort());
    expect(result.count).toBe(wsDiscoveryProfiles().length);
    for (const f of result.found) expect(f.fromPort).toBe(3702);
  });

  const matchOf = (name: string): OnvifProbeMatch['probeMatches']['probeMatch'] => {
    const f = result.found.find((x) => x.from === labProfile(name).ip);
    if (!f) throw new Error(`${name} did not answer`);
    return f.match.probeMatches.probeMatch;
  };

  it.each(wsDiscoveryProfiles().filter((p) => p.kind === 'camera').map((p) => p.name))(
    '%s: Types, Scopes, XAddrs and MetadataVersion are those of its profile',
    (name) => {
      const cfg = labProfile(name).wsDiscovery;
      const m = matchOf(name);
      expect(m.types).toBe(cfg?.types.join(' '));
      expect(m.scopes).toBe(cfg?.scopes.join(' '));
      expect(m.XAddrs).toBe(cfg?.xaddrs.join(' '));
      expect(m.metadataVersion).toBe(cfg?.metadataVersion);
      expect(m.XAddrs.split(' ')[0]).toBe(`http://${labProfile(name).ip}/onvif/device_service`);
    },
  );

  it('hikvision: Hikvision scope set, URL-encoded name, IPv6 XAddr', () => {
    const m = matchOf('hikvision');
    expect(m.types).toBe('dn:NetworkVideoTransmitter tds:Device');
    expect(m.scopes?.split(' ')).toEqual([
      `${ONVIF}type/video_encoder`,
      `${ONVIF}Profile/Streaming`,
      `${ONVIF}MAC/${labProfile('hikvision').mac}`,
      `${ONVIF}hardware/DS-2CD2143G2-I`,
      `${ONVIF}name/HIKVISION%20DS-2CD2143G2-I`,
      `${ONVIF}location/city/hangzhou`,
    ]);
    expect(m.XAddrs.split(' ')).toContain('http://[2001:db8::10]/onvif/device_service');
  });

  it('lts: LTS name on a Hikvision layout', () => {
    const scopes = matchOf('lts').scopes?.split(' ') ?? [];
    expect(scopes).toContain(`${ONVIF}name/LTS`);
    expect(scopes).toContain(`${ONVIF}hardware/CMIP8242W-28M`);
    expect(scopes).toContain(`${ONVIF}location/city/hangzhou`);
  });

  it('dahua: the captured Dahua scope set', () => {
    expect(matchOf('dahua').scopes?.split(' ')).toEqual([
      `${ONVIF}location/country/china`,
      `${ONVIF}name/Dahua`,
      `${ONVIF}hardware/DH-IPC-HDW1230T2`,
      `${ONVIF}Profile/Streaming`,
      `${ONVIF}type/Network_Video_Transmitter`,
      `${ONVIF}extension/unique_identifier/1`,
      `${ONVIF}Profile/T`,
    ]);
  });

  it('axis: AXIS name and an https XAddr', () => {
    const m = matchOf('axis');
    expect(m.scopes?.split(' ')).toEqual(expect.arrayContaining([`${ONVIF}name/AXIS`, `${ONVIF}hardware/P3245-LV`]));
    expect(m.XAddrs.split(' ')).toContain('https://198.18.0.30/onvif/device_service');
  });

  it('printer: answers the ONVIF probe with WSD print types, no scopes, an XAddr on :5357', () => {
    const m = matchOf('printer');
    expect(m.types).toBe('wsdp:Device wprt:PrintDeviceType');
    expect(m.scopes).toBeUndefined();
    expect(m.XAddrs).toMatch(/^http:\/\/198\.18\.0\.40:5357\//);
  });
});

describe('WS-Discovery, seen by a raw client', () => {
  const cameras = wsDiscoveryProfiles()
    .filter((p) => p.wsDiscovery?.answerTypes !== '*')
    .map((p) => p.name);
  const everyone = wsDiscoveryProfiles().map((p) => p.name);

  it('ProbeMatches headers: RelatesTo = probe MessageID, own urn:uuid MessageID, Action, To anonymous', async () => {
    const r = await probe('--types', 'dn:NetworkVideoTransmitter');
    expect(repliersOf(r)).toEqual(ipsOf(everyone));
    const ids = new Set<string>();
    for (const x of r.replies) {
      expect(x.parseError).toBeUndefined();
      expect(x.relatesTo).toBe(r.messageId);
      expect(x.messageId).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(x.messageId).not.toBe(r.messageId);
      expect(x.action).toBe(`${WSD}/ProbeMatches`);
      expect(x.to).toBe('http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous');
      expect(x.port).toBe(3702);
      ids.add(x.messageId ?? '');
    }
    expect(ids.size).toBe(r.replies.length);
  });

  it('cameras match on the local type name whatever the prefix; empty Types match everything', async () => {
    expect(repliersOf(await probe('--types', 'x:Device'))).toEqual(ipsOf(everyone));
    expect(repliersOf(await probe('--types', ''))).toEqual(ipsOf(everyone));
    // Only the printer (answers every probe) replies to a type no camera has.
    expect(repliersOf(await probe('--types', 'wprt:PrintDeviceType'))).toEqual(ipsOf(everyone.filter((n) => !cameras.includes(n))));
  });

  it('scopes in the probe filter by RFC 3986 prefix', async () => {
    const r = await probe('--types', 'dn:NetworkVideoTransmitter', '--scopes', `${ONVIF}name/Dahua`);
    expect(repliersOf(r)).toEqual(ipsOf(['dahua', 'printer', 'twonic']));
    const r2 = await probe('--types', 'dn:NetworkVideoTransmitter', '--scopes', `${ONVIF}location/city`);
    expect(repliersOf(r2)).toEqual(ipsOf(['hikdefault', 'hikvision', 'lts', 'printer']));
  });

  it('a unicast probe is answered by that device only', async () => {
    const r = await probe('--types', 'dn:NetworkVideoTransmitter', '--to', '198.18.0.20');
    expect(repliersOf(r)).toEqual(['198.18.0.20']);
    expect(r.replies[0]?.address).toBe(labProfile('dahua').wsDiscovery?.endpointReference);
  });

  it('malformed datagrams are logged and ignored: every device still answers the next probe', async () => {
    const logFile = join(LAB_LOG_DIR, 'dahua.log');
    const logBefore = readFileSync(logFile, 'utf8').length;
    const r = await probe('--garbage', '--types', 'dn:NetworkVideoTransmitter');
    expect(repliersOf(r)).toEqual(ipsOf(everyone));
    const log = readFileSync(logFile, 'utf8').slice(logBefore);
    expect(log).toMatch(new RegExp(`ignored malformed datagram \\(\\d+ bytes\\) from ${SCANNER_IP.replace(/\./g, '\\.')}:\\d+`));
    const status = await labScript(['status']);
    expect(status.stdout).toContain('lab: up');
  });
});

describe('ONVIF device service, seen by the onvif package (Cam, autoconnect:false)', () => {
  let results: Map<string, QueryResult>;
  beforeAll(async () => {
    const list = await runLabClient<QueryResult[]>('onvif-client', ['query', ...onvifProfiles().map((p) => p.ip)]);
    results = new Map(list.map((r) => [r.target, r]));
  });
  const of = (name: string): QueryResult => {
    const r = results.get(labProfile(name).ip);
    if (!r) throw new Error(`no result for ${name}`);
    return r;
  };

  it.each(onvifProfiles().map((p) => p.name))('%s: GetSystemDateAndTime without credentials, clock offset applied', (name) => {
    const cfg = labProfile(name).onvif;
    const dt = of(name).dateTime;
    expect(dt.error).toBeUndefined();
    expect(dt.ok).toBe(true);
    expect(dt.xml).toContain(`<tt:DateTimeType>${cfg?.dateTimeType}</tt:DateTimeType>`);
    expect(dt.xml).toMatch(/<tt:UTCDateTime><tt:Time><tt:Hour>\d+<\/tt:Hour><tt:Minute>\d+<\/tt:Minute><tt:Second>\d+<\/tt:Second><\/tt:Time><tt:Date><tt:Year>\d{4}<\/tt:Year>/);
    const deviceMs = Date.parse(String(dt.value));
    const offsetS = (deviceMs - (dt.before + dt.after) / 2) / 1000;
    expect(Math.abs(offsetS - (cfg?.clockOffsetSeconds ?? 0))).toBeLessThan(2.5);
  });

  it('lts: the skewed clock (Manual, -7325 s) shows in GetSystemDateAndTime', () => {
    const dt = of('lts').dateTime;
    expect(dt.xml).toContain('<tt:DateTimeType>Manual</tt:DateTimeType>');
    const offsetS = (Date.parse(String(dt.value)) - (dt.before + dt.after) / 2) / 1000;
    expect(offsetS).toBeGreaterThan(-7325 - 2.5);
    expect(offsetS).toBeLessThan(-7325 + 2.5);
    // and an unskewed device is within a second or two of the local clock
    const h = of('hikvision').dateTime;
    expect(Math.abs(Date.parse(String(h.value)) - (h.before + h.after) / 2)).toBeLessThan(2500);
  });

  it('open devices give their GetDeviceInformation without credentials', () => {
    const info = (name: string): Record<string, unknown> => {
      const r = of(name).deviceInformation;
      expect(r.error, name).toBeUndefined();
      const v = r.value as Record<string, unknown>;
      // the onvif package turns numeric-looking strings into numbers ("88" → 88, "1.00" → 1)
      return { ...v, hardwareId: String(v.hardwareId) };
    };
    expect(info('lts')).toEqual({
      manufacturer: 'LTS',
      model: 'CMIP8242W-28M',
      firmwareVersion: 'V5.6.5 build 200316',
      serialNumber: 'CMIP8242W-28M20200321AAWRE12345678',
      hardwareId: '88',
    });
    expect(info('dahua')).toEqual({
      manufacturer: 'Dahua',
      model: 'DH-IPC-HDW1230T2',
      firmwareVersion: '2.800.0000000.13.R, Build Date 2021-07-07',
      serialNumber: '6C01E93PAG69A7D',
      hardwareId: '1',
    });
    expect(of('dahua').deviceInformation.xml).toContain('<tds:HardwareId>1.00</tds:HardwareId>');
    expect(info('axis')).toMatchObject({ manufacturer: 'AXIS', model: 'P3245-LV', firmwareVersion: '10.12.182', serialNumber: 'ACCC8E123456' });
  });

  it('hikvision refuses GetDeviceInformation (HTTP Digest 401), the client gets an error', () => {
    const r = of('hikvision').deviceInformation;
    expect(r.ok).toBe(false);
    expect(r.error).toBe('Digest authentication failed 401');
  });

  it('amcrest refuses GetDeviceInformation with a SOAP Fault (ter:NotAuthorized)', () => {
    const r = of('amcrest').deviceInformation;
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^ONVIF SOAP Fault: .*not authorized/);
  });

  it('with the lab credentials: Digest (hikvision) and WS-Security UsernameToken (amcrest) are accepted', async () => {
    const hik = labProfile('hikvision').onvif?.credentials;
    const amc = labProfile('amcrest').onvif?.credentials;
    if (!hik || !amc) throw new Error('profiles lack credentials');
    const [h] = await runLabClient<QueryResult[]>('onvif-client', ['query', '--user', hik.username, '--pass', hik.password, '--digest', '198.18.0.10']);
    expect(h?.deviceInformation.error).toBeUndefined();
    expect(h?.deviceInformation.value).toMatchObject({ manufacturer: 'HIKVISION', model: 'DS-2CD2143G2-I' });
    const [a] = await runLabClient<QueryResult[]>('onvif-client', ['query', '--user', amc.username, '--pass', amc.password, '198.18.0.21']);
    expect(a?.deviceInformation.value).toMatchObject({ manufacturer: 'Amcrest', model: 'IP2M-841' });
    const [bad] = await runLabClient<QueryResult[]>('onvif-client', ['query', '--user', hik.username, '--pass', 'wrong', '--digest', '198.18.0.10']);
    expect(bad?.deviceInformation.error).toBe('Digest authentication failed 401');
  });
});

describe('ONVIF device service, seen by a raw HTTP client', () => {
  const soap = (ip: string, op: string): Promise<HttpResult> =>
    runLabClient<HttpResult>('raw-client', ['soap', `http://${ip}/onvif/device_service`, op]);

  it('hikvision 401: one WWW-Authenticate Digest challenge in the Hikvision form, Server App-webs/', async () => {
    const r = await soap('198.18.0.10', 'GetDeviceInformation');
    expect(r.status).toBe(401);
    const challenges = (r.rawHeaders ?? []).filter((_, i, a) => i % 2 === 1 && a[i - 1]?.toLowerCase() === 'www-authenticate');
    expect(challenges).toHaveLength(1);
    expect(challenges[0]).toMatch(/^Digest qop="auth", realm="IP Camera\([0-9A-Z]+\)", nonce="[0-9a-f]{40,}", stale="FALSE"$/);
    expect(r.headers?.server).toBe('App-webs/');
    const ok = await soap('198.18.0.10', 'GetSystemDateAndTime');
    expect(ok.status).toBe(200);
    expect(ok.headers?.['content-type']).toMatch(/^application\/soap\+xml/);
    expect(ok.body).toContain('<tds:GetSystemDateAndTimeResponse>');
  });

  it('amcrest: HTTP 400 SOAP 1.2 Fault, Code env:Sender, Subcode ter:NotAuthorized', async () => {
    const r = await soap('198.18.0.21', 'GetDeviceInformation');
    expect(r.status).toBe(400);
    expect(r.headers?.['content-type']).toMatch(/^application\/soap\+xml/);
    expect(r.headers?.['www-authenticate']).toBeUndefined();
    expect(r.body).toContain('xmlns:env="http://www.w3.org/2003/05/soap-envelope"');
    expect(r.body).toContain('xmlns:ter="http://www.onvif.org/ver10/error"');
    expect(r.body).toContain('<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>');
  });

  it('dahua: no Server header; malformed XML gets 400 ter:WellFormed and the device keeps serving', async () => {
    const bad = await runLabClient<HttpResult>('raw-client', ['post', 'http://198.18.0.20/onvif/device_service', '<s:Envelope><s:Body><Get']);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('ter:WellFormed');
    const ok = await soap('198.18.0.20', 'GetDeviceInformation');
    expect(ok.status).toBe(200);
    expect(ok.headers?.server).toBeUndefined();
    expect(ok.body).toContain('<tds:Model>DH-IPC-HDW1230T2</tds:Model>');
  });
});

describe('stopDevice / startDevice', () => {
  it('a stopped device is silent (no ProbeMatches, port 80 closed) and answers again once started', async () => {
    await stopDevice('axis');
    try {
      const r = await probe('--types', 'dn:NetworkVideoTransmitter');
      expect(repliersOf(r)).not.toContain('198.18.0.30');
      expect(repliersOf(r)).toContain('198.18.0.20');
      const http = await runLabClient<HttpResult>('raw-client', ['soap', 'http://198.18.0.30/onvif/device_service', 'GetSystemDateAndTime']);
      expect(http.error).toMatch(/ECONNREFUSED/);
    } finally {
      await startDevice('axis');
    }
    const r2 = await probe('--types', 'dn:NetworkVideoTransmitter', '--to', '198.18.0.30');
    expect(repliersOf(r2)).toEqual(['198.18.0.30']);
  });
});
