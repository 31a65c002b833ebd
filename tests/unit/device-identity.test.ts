/**
 * Issue 11: device type and brand for every device, rules declared once per kind of value, and
 * MACs carried in realms. Real-shaped inputs: the captured ISAPI, DHIP and UPnP fixtures
 * (tests/fixtures/*\/README.md name their sources), run through the same fingerprint and
 * classification as a scan.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintDevice, matchReport } from '../../agent/fingerprint/index.js';
import { brandOfModel, isGenericLabel } from '../../agent/fingerprint/labels.js';
import { carriedMacEvidence } from '../../agent/fingerprint/mac-carriers.js';
import { checkSerialCarrierExamples, serialFragmentEvidence } from '../../agent/fingerprint/serial-carriers.js';
import { buildDevice } from '../../agent/pipeline/assess.js';
import { identityFieldsOf, mergeObservations } from '../../agent/pipeline/merge.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import { classify } from '../../agent/pipeline/classify.js';
import { parseIsapiDeviceInfo } from '../../agent/protocols/isapi.js';
import { parseDhipReply } from '../../agent/protocols/dhip.js';
import { descriptionFields, parseDeviceDescription } from '../../agent/protocols/upnp.js';
import type { DiscovererName } from '../../agent/discovery/index.js';
import type { Fields, Observation } from '../../agent/types.js';

const db = loadKnowledge();
const fixtures = join(__dirname, '..', 'fixtures');
const at = '2026-12-05T18:00:00.000Z';
const ip = '198.18.0.99';

function observation(source: DiscovererName, fields: Fields): Observation {
  return { source, ip, at, status: 'ok', fields };
}

function typeOf(...observations: Observation[]): string | null {
  return fingerprintDevice(db, { macs: [], observations }).identity.deviceType;
}

describe('device type from every field that says what a device is', () => {
  it('ISAPI deviceType: NVR is a recorder, VIS (a DS-KV door station) an intercom', () => {
    const nvr = parseIsapiDeviceInfo(readFileSync(join(fixtures, 'isapi', 'ds-7608ni-i2.deviceinfo.xml')));
    const doorStation = parseIsapiDeviceInfo(readFileSync(join(fixtures, 'isapi', 'ds-kv8213-wme1.deviceinfo.xml')));
    if (!nvr || !doorStation) throw new Error('ISAPI fixtures did not parse');
    expect(typeOf(observation('vendor-identity', nvr))).toBe('recorder');
    expect(typeOf(observation('vendor-identity', doorStation))).toBe('intercom');
  });

  it('DHIP: an Intelbras MHDX is a recorder, a white-label IPC- a camera', () => {
    for (const [file, type] of [['intelbras-mhdx-1016.reply.bin', 'recorder'], ['ipc-hdw1431t1-s4.reply.bin', 'camera']] as const) {
      const reply = parseDhipReply(readFileSync(join(fixtures, 'dhip', file)));
      if (!reply) throw new Error(`${file} did not parse`);
      expect({ file, type: typeOf(observation('dhip', reply.fields)) }).toEqual({ file, type });
    }
  });

  it('UPnP: an InternetGatewayDevice is a router; WS-Discovery PrintDeviceType a printer', () => {
    const netgear = parseDeviceDescription(readFileSync(join(fixtures, 'upnp', 'netgear-dg834gv4.xml')));
    if (!netgear) throw new Error('UPnP fixture did not parse');
    expect(typeOf(observation('upnp-description', descriptionFields(netgear)))).toBe('router');
    expect(typeOf(observation('ws-discovery', { 'wsd.types': ['wsdp:Device', 'wprt:PrintDeviceType'] }))).toBe('printer');
  });

  it('NetworkVideoTransmitter alone is a camera, but a model or class word that says recorder wins', () => {
    const nvt = { 'onvif.types': ['dn:NetworkVideoTransmitter', 'tds:Device'] };
    expect(typeOf(observation('ws-discovery', nvt))).toBe('camera');
    // Dahua NVRs answer WS-Discovery as transmitters too; their model names the kind.
    expect(typeOf(observation('ws-discovery', { ...nvt, 'onvif.scope.hardware': ['DHI-NVR4104-P-4KS2'] }))).toBe('recorder');
    expect(typeOf(observation('ws-discovery', nvt), observation('dhip', { 'dhip.deviceClass': 'NVR' }))).toBe('recorder');
    // Hikvision iDS-96… are DeepinMind recorders, not DeepinView cameras.
    expect(typeOf(observation('sadp', { 'sadp.model': 'iDS-9632NXI-I8/16S' }))).toBe('recorder');
  });

  it('an encoder: its model says so, over the NetworkVideoTransmitter an encoder announces like a camera', () => {
    const nvt = { 'onvif.types': ['dn:NetworkVideoTransmitter'], 'onvif.scope.type': ['video_encoder', 'Network_Video_Transmitter'] };
    // NVT and the video_encoder scope alone: cameras announce them too, so a camera.
    expect(typeOf(observation('ws-discovery', nvt))).toBe('camera');
    expect(typeOf(observation('ws-discovery', { ...nvt, 'onvif.scope.hardware': ['DS-6704HUHI'] }))).toBe('encoder');
    expect(typeOf(observation('dhip', { 'dhip.deviceType': 'DH-NVS0404HG-AS-E' }))).toBe('encoder');
    expect(typeOf(observation('vendor-identity', { 'dahua.cgi.model': 'NVS0104HDC' }))).toBe('encoder');
    // A Hikvision DS-6…HD… is a decoder, not an encoder; Dahua NVR… stays a recorder.
    expect(typeOf(observation('sadp', { 'sadp.model': 'DS-6401HDI' }))).not.toBe('encoder');
    expect(typeOf(observation('dhip', { 'dhip.deviceType': 'DHI-NVR4104-P-4KS2' }))).toBe('recorder');
  });

  it('nothing that tells: null', () => {
    expect(typeOf(observation('http-pages', { 'http.title': 'WEB SERVICE' }))).toBeNull();
  });
});

describe('a rule about a kind of value runs on every field of that kind', () => {
  it('the Amcrest model grammar fires on ONVIF, DHIP and UPnP alike, with each field\'s evidence source', () => {
    for (const [field, source] of [['onvif.device.model', 'onvif'], ['dhip.deviceType', 'dhip'], ['upnp.modelName', 'ssdp'], ['isapi.model', 'http']] as const) {
      expect({ field, rules: matchReport(db, field, 'IP2M-841').matches.map((m) => m.rule).sort() }).toEqual({ field, rules: ['model-amcrest', 'type-oem-camera'] });
      const fp = fingerprintDevice(db, { macs: [], observations: [observation('onvif-device-service', { [field]: 'IP2M-841' })] });
      expect(fp.evidence.find((e) => e.rule === 'model-amcrest')).toMatchObject({ source, supports: 'amcrest' });
    }
  });

  // Each case matched in some fields and not in others while every field had its own rule file:
  // the LTS label on ONVIF and SADP but not in a UPnP description, DHIP or the Dahua CGI; the
  // Hikvision realm IP Camera(…) on HTTP and ONVIF but not RTSP; the Hikvision serial shape on
  // ONVIF and SADP but not ISAPI; the Dahua build string on ONVIF and DHIP but not the Dahua CGI or
  // SADP. Now each is one rule, run on every field of its kind, writing that field's source.
  it('a label, a realm, a serial and a firmware shape that matched in one field and not another now match in every field of their kind', () => {
    const cases = [
      { value: 'LTS', rule: 'label-lts', supports: 'lts', fields: ['onvif.device.manufacturer', 'onvif.scope.name', 'sadp.oemInfo', 'upnp.manufacturer', 'dhip.vendor', 'dahua.cgi.vendor', 'isapi.manufacturer'] },
      { value: 'IP Camera(21388)', rule: 'realm-hikvision-ip-camera', supports: 'hikvision', fields: ['http.auth.realm', 'onvif.auth.realm', 'rtsp.auth.realm'] },
      { value: 'DS-2CD2385G1-I20200414AAWRE33842150', rule: 'serial-hikvision', supports: 'hikvision', fields: ['onvif.device.serial', 'sadp.serial', 'isapi.serial', 'upnp.serialNumber'] },
      { value: '2.800.0000016.0.R', rule: 'firmware-dahua', supports: 'dahua', fields: ['onvif.device.firmware', 'dhip.version', 'dahua.cgi.firmware', 'sadp.firmware'] },
    ];
    for (const c of cases) {
      for (const field of c.fields) {
        const source = db.fields.get(field)?.evidence;
        const fp = fingerprintDevice(db, { macs: [], observations: [observation('http-pages', { [field]: c.value })] });
        expect({ field, evidence: fp.evidence.find((e) => e.rule === c.rule) }).toEqual({
          field,
          evidence: { source, detail: `${field} = ${JSON.stringify(c.value)}`, supports: c.supports, rule: c.rule, confidence: db.rulesById.get(c.rule)?.confidence },
        });
      }
    }
    // The serial a Hikvision serial carries is the model, whichever field gave it.
    expect(matchReport(db, 'isapi.serial', 'DS-2CD2366G2-ISU/SL20210726AAWRG41390691').matches.map((m) => m.identity)).toEqual([{ model: 'DS-2CD2366G2-ISU/SL' }]);
    // One rule, one id and one set of examples, however many fields run it.
    expect(new Set(db.rules.filter((r) => r.id === 'label-lts').map((r) => r.file))).toEqual(new Set(['kinds/brand-label.yaml']));
  });

  it('each field names its kinds and evidence source once, in fields.yaml', () => {
    const modelFields = [...db.fields.values()].filter((f) => f.kinds.includes('model')).map((f) => f.name);
    expect(modelFields).toEqual(expect.arrayContaining(['onvif.device.model', 'onvif.scope.hardware', 'sadp.model', 'dhip.deviceType', 'upnp.modelName', 'isapi.model', 'dahua.cgi.model']));
    for (const name of modelFields) expect(db.rulesByField.get(name)?.some((r) => r.id === 'model-hikvision-camera')).toBe(true);
  });
});

describe('brand: a placeholder label is no brand', () => {
  it('Private, General and generic ONVIF names are placeholders; real labels are not', () => {
    for (const label of ['Private', 'General', 'IP-Camera', 'general']) expect({ label, generic: isGenericLabel(db, label) }).toEqual({ label, generic: true });
    for (const label of ['Amcrest', 'HIKVISION', 'LTS']) expect({ label, generic: isGenericLabel(db, label) }).toEqual({ label, generic: false });
  });

  it('the brand a model prefix names: DS- Hikvision, DH-/DHI- Dahua, an unprefixed IPC- none', () => {
    expect(brandOfModel(db, 'DS-2CD2143G2-I')?.name).toBe('Hikvision');
    expect(brandOfModel(db, 'dhi-nvr4104-p-4ks2')?.name).toBe('Dahua');
    expect(brandOfModel(db, 'IPC-HDW1431T1-S4')).toBeNull();
  });

  it('a white-label DHIP reply (Vendor "Private") on a Dahua OUI: made by Dahua, brand empty, relation oem', () => {
    const reply = parseDhipReply(readFileSync(join(fixtures, 'dhip', 'ipc-hdw1431t1-s4.reply.bin')));
    if (!reply) throw new Error('DHIP fixture did not parse');
    const fp = fingerprintDevice(db, { macs: ['08:ed:ed:87:42:7a'], observations: [observation('dhip', reply.fields)] });
    const r = classify(db, fp.evidence, fp.identity);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: null, deviceType: 'camera' });
  });
});

describe('MACs carried in realms, and `fingerprints match mac`', () => {
  const realm = observation('rtsp', { 'rtsp.auth.realm': 'AXIS_WS_ACCC8E3A0A8F' });

  it('a realm MAC that is not the device\'s own counts like an OUI, under the realm\'s source; its own MAC adds nothing', () => {
    expect(carriedMacEvidence(db, db.macCarriers, [realm], ['02:00:00:00:00:01'])).toEqual([
      {
        source: 'rtsp',
        detail: 'rtsp.auth.realm = "AXIS_WS_ACCC8E3A0A8F" carries MAC ac:cc:8e:3a:0a:8f (realm-axis-mac), registered to Axis Communications AB (IEEE ACCC8E)',
        supports: 'axis',
        rule: 'oui-registry',
        confidence: db.vendors.get('axis')?.ouiConfidence,
      },
    ]);
    expect(carriedMacEvidence(db, db.macCarriers, [realm], ['AC-CC-8E-3A-0A-8F'])).toEqual([]);
  });

  it('`match mac` gives the verdict a scan gives the same MAC as the device\'s own', () => {
    for (const mac of ['28:57:be:6a:1c:10', '3c:d9:2b:40:40:40', '6c:f1:7e:05:00:50']) {
      const scanned = fingerprintDevice(db, { macs: [mac], observations: [] }).evidence.find((e) => e.rule === 'oui-registry');
      const [entry] = matchReport(db, 'mac', mac.toUpperCase().replace(/:/g, '-'), db.macCarriers).macs ?? [];
      expect({ mac, supports: entry?.supports, confidence: entry?.confidence }).toEqual({ mac, supports: scanned?.supports, confidence: scanned?.confidence });
    }
    expect(matchReport(db, 'sadp.mac', '58-50-ed-1f-e3-85').macs?.[0]).toMatchObject({ mac: '58:50:ed:1f:e3:85', supports: 'hikvision' });
    expect(() => matchReport(db, 'mac', 'not-a-mac')).toThrow(/CCTV_ERR_NOT_A_MAC|not a MAC address/);
  });
});

describe('serial pieces carried in realms, checked against the device\'s serial', () => {
  // The lab's hikisapi camera: realm IP Camera(G4139), serial …AAWRG41390691 (sub-serial G41390691).
  const serial = observation('vendor-identity', { 'isapi.serial': 'DS-2CD2366G2-ISU/SL20210726AAWRG41390691' });
  const realm = (value: string) => observation('http-pages', { 'http.auth.realm': value });

  it('a Hikvision realm whose piece is the serial\'s: a platform trait of Hikvision, under the realm\'s source', () => {
    expect(serialFragmentEvidence(db, db.serialCarriers, [realm('IP Camera(G4139)'), serial])).toEqual([
      {
        source: 'http',
        detail: 'http.auth.realm = "IP Camera(G4139)" carries serial piece "G4139" (realm-hikvision-sub-serial), which agrees with isapi.serial = "DS-2CD2366G2-ISU/SL20210726AAWRG41390691"',
        supports: 'hikvision',
        rule: 'serial-fragment',
        confidence: db.serialCarriers.find((c) => c.id === 'realm-hikvision-sub-serial')?.confidence,
      },
    ]);
  });

  it('a realm whose piece is not the serial\'s is recorded, supporting nothing; with no serial, nothing is written', () => {
    const [disagreement, ...rest] = serialFragmentEvidence(db, db.serialCarriers, [realm('IP Camera(FN636)'), serial]);
    expect(rest).toEqual([]);
    expect(disagreement).toEqual({
      source: 'http',
      detail: 'http.auth.realm = "IP Camera(FN636)" carries serial piece "FN636" (realm-hikvision-sub-serial), which agrees with no serial the device gives (isapi.serial = "DS-2CD2366G2-ISU/SL20210726AAWRG41390691"): the value may come from another device, or a serial was changed',
      supports: null,
      rule: 'serial-fragment',
      confidence: 0,
    });
    expect(serialFragmentEvidence(db, db.serialCarriers, [realm('IP Camera(G4139)')])).toEqual([]);
    // A Dahua realm names the whole serial: the RTSP realm agrees with the DHIP serial.
    const dahua = serialFragmentEvidence(db, db.serialCarriers, [
      observation('rtsp', { 'rtsp.auth.realm': 'Login to 4K01FD2PAJ6E3FF' }),
      observation('dhip', { 'dhip.serial': '4K01FD2PAJ6E3FF' }),
    ]);
    expect(dahua.map((e) => [e.source, e.supports, e.rule])).toEqual([['rtsp', 'dahua', 'serial-fragment']]);
  });

  it('in a device: agreement adds to the maker\'s platform evidence, disagreement shows in the evidence list', () => {
    const device = (realmValue: string) => {
      const [host] = mergeObservations([{ ...realm(realmValue), mac: '02:00:00:00:00:99' }, serial], identityFieldsOf(db.fields));
      if (!host) throw new Error('no host');
      return buildDevice(db, host);
    };
    const agreeing = device('IP Camera(G4139)');
    const other = device('IP Camera(FN636)');
    expect(agreeing.evidence.filter((e) => e.rule === 'serial-fragment').map((e) => e.supports)).toEqual(['hikvision']);
    expect(other.evidence.filter((e) => e.rule === 'serial-fragment').map((e) => e.supports)).toEqual([null]);
    expect(agreeing.classification.linkedVendor).toBe('hikvision');
    expect(agreeing.classification.confidence).toBeGreaterThan(other.classification.confidence);
  });

  it('fingerprints verify checks every carrier example: a wrong `agrees` is reported', () => {
    expect(checkSerialCarrierExamples(db.serialCarriers)).toEqual([]);
    const [first] = db.serialCarriers;
    if (!first) throw new Error('no serial carrier');
    const flipped = { ...first, examples: first.examples.map((e) => ({ ...e, agrees: !e.agrees })) };
    expect(checkSerialCarrierExamples([flipped])).toHaveLength(first.examples.length);
  });
});
