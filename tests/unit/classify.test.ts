/**
 * OEM-aware classification over realistic observation sets: what the discoverers would emit for
 * a device (WS-Discovery ProbeMatch fields, ONVIF GetDeviceInformation, the neighbour-table MAC),
 * through fingerprintDevice and classify. Values come from the public sources cited in
 * fingerprints/ or the project's fixtures; serials/MACs not in a public source are marked as invented.
 */
import { describe, expect, it } from 'vitest';
import { classify, scoreGroups, vendorForLabel } from '../../agent/pipeline/classify.js';
import { fingerprintDevice } from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Evidence, Fields, Identity, Observation } from '../../agent/types.js';

const db = loadKnowledge();
const at = '2026-11-28T09:53:00.000Z';
const ip = '198.18.0.10';

function discovery(fields: Fields): Observation {
  return {
    source: 'ws-discovery',
    ip,
    at,
    status: 'ok',
    fields: {
      'onvif.endpoint': 'urn:uuid:4e3a5a80-1dd2-11b2-8000-000000000001',
      'onvif.types': ['dn:NetworkVideoTransmitter', 'tds:Device'],
      'onvif.xaddr': [`http://${ip}/onvif/device_service`],
      ...fields,
    },
  };
}

function deviceInfo(fields: Fields): Observation {
  return { source: 'onvif-device-service', ip, port: 80, at, status: 'ok', fields: { 'onvif.call': 'GetDeviceInformation', ...fields } };
}

/** A scope list as wsdiscovery.ts splits it. */
function scopes(list: string[]): Fields {
  const fields: Record<string, string[]> = { 'onvif.scope': list };
  for (const s of list) {
    const m = /^onvif:\/\/www\.onvif\.org\/(name|hardware|location|type|profile|mac)\/(.+)$/i.exec(s);
    if (m?.[1] && m[2]) (fields[`onvif.scope.${m[1].toLowerCase()}`] ??= []).push(m[2]);
  }
  return fields;
}

function run(mac: string | null, observations: Observation[]) {
  const fp = fingerprintDevice(db, { ...(mac ? { macs: [mac] } : {}), observations });
  const result = classify(db, fp.evidence, fp.identity);
  return { ...result, evidence: fp.evidence, fingerprintIdentity: fp.identity };
}

// --- realistic devices -------------------------------------------------------------------------

const hikvisionScopes = scopes([
  'onvif://www.onvif.org/type/video_encoder',
  'onvif://www.onvif.org/Profile/Streaming',
  'onvif://www.onvif.org/MAC/28:57:be:12:34:56',
  'onvif://www.onvif.org/hardware/DS-2CD2143G2-I',
  'onvif://www.onvif.org/name/HIKVISION DS-2CD2143G2-I',
  'onvif://www.onvif.org/location/city/hangzhou',
]);

const hikvisionCamera = [
  discovery(hikvisionScopes),
  deviceInfo({
    'onvif.device.manufacturer': 'HIKVISION',
    'onvif.device.model': 'DS-2CD2143G2-I',
    'onvif.device.firmware': 'V5.7.12 build 220819',
    // Hikvision serial shape (DS-2CD2385G1-I20200414AAWRE33842150 in
    // Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1);
    // the date, letters and digits are invented.
    'onvif.device.serial': 'DS-2CD2143G2-I20220101AAWRJ12345678',
    'onvif.device.hardwareId': '88',
    'onvif.http.server': 'App-webs/',
  }),
];

const dahuaScopes = scopes([
  'onvif://www.onvif.org/location/country/china',
  'onvif://www.onvif.org/name/Dahua',
  'onvif://www.onvif.org/hardware/DH-IPC-HDW1230T2',
  'onvif://www.onvif.org/Profile/Streaming',
  'onvif://www.onvif.org/type/Network_Video_Transmitter',
  'onvif://www.onvif.org/extension/unique_identifier/1',
  'onvif://www.onvif.org/Profile/T',
]);

describe('classify: Hikvision and its rebrands', () => {
  it('Hikvision camera (OUI + scopes + serial) → hikvision, direct, near certain', () => {
    const r = run('28:57:be:12:34:56', hikvisionCamera);
    expect(r.classification.linkedVendor).toBe('hikvision');
    expect(r.classification.relation).toBe('direct');
    expect(r.classification.confidence).toBeGreaterThan(0.99);
    expect(r.identity).toEqual({
      manufacturer: 'Hikvision',
      brand: 'Hikvision',
      model: 'DS-2CD2143G2-I',
      firmware: 'V5.7.12 build 220819',
      serial: 'DS-2CD2143G2-I20220101AAWRJ12345678',
      deviceType: 'camera',
    });
    expect(r.evidence.map((e) => e.rule)).toEqual(
      expect.arrayContaining(['oui-registry', 'label-hikvision', 'model-hikvision-camera', 'serial-hikvision', 'firmware-hikvision-build']),
    );
  });

  it('LTS (Hikvision OUI + name LTS + Hikvision serial shape) → hikvision, oem; made by Hikvision, sold as LTS', () => {
    const r = run('c4:2f:90:00:00:10', [
      discovery(scopes(['onvif://www.onvif.org/name/LTS', 'onvif://www.onvif.org/hardware/CMIP8242W-28M'])),
      // as tests/fixtures/onvif/device-information.xml
      deviceInfo({
        'onvif.device.manufacturer': 'LTS',
        'onvif.device.model': 'CMIP8242W-28M',
        'onvif.device.firmware': 'V5.6.5 build 200316',
        'onvif.device.serial': 'CMIP8242W-28M20200321AAWRE12345678',
        'onvif.device.hardwareId': '88',
      }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'hikvision', relation: 'oem' });
    expect(r.classification.confidence).toBeGreaterThan(0.9);
    expect(r.identity).toMatchObject({ manufacturer: 'Hikvision', brand: 'LTS', model: 'CMIP8242W-28M' });
  });

  it('LTS label alone (no platform trait) is still hikvision/oem, but weak', () => {
    const r = run(null, [discovery(scopes(['onvif://www.onvif.org/name/LTS']))]);
    expect(r.classification).toMatchObject({ linkedVendor: 'hikvision', relation: 'oem' });
    expect(r.classification.confidence).toBeLessThan(0.5);
  });

  it('EZVIZ (EZVIZ OUI + EZVIZ label) → hikvision, subsidiary', () => {
    const r = run('0c:a6:4c:00:00:20', [
      discovery(scopes(['onvif://www.onvif.org/name/EZVIZ'])),
      deviceInfo({ 'onvif.device.manufacturer': 'EZVIZ' }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'hikvision', relation: 'subsidiary' });
    expect(r.classification.confidence).toBeGreaterThan(0.7);
    expect(r.identity).toMatchObject({ manufacturer: 'Hikvision', brand: 'EZVIZ' });
  });

  it('an EZVIZ OUI alone → hikvision, subsidiary (the OUI holder is a Hikvision subsidiary)', () => {
    const r = run('0c:a6:4c:00:00:20', []);
    expect(r.classification).toEqual({ linkedVendor: 'hikvision', relation: 'subsidiary', confidence: 0.5 });
  });

  it('HiWatch (Hikvision own brand): name + HWP- model → hikvision, subsidiary', () => {
    const r = run(null, [
      discovery(scopes(['onvif://www.onvif.org/name/HIKVISION HiWatch HWP-N2404IH-DE3(F)', 'onvif://www.onvif.org/hardware/HWP-N2404IH-DE3(F)'])),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'hikvision', relation: 'subsidiary' });
    expect(r.identity).toMatchObject({ manufacturer: 'Hikvision', brand: 'HiWatch', model: 'HWP-N2404IH-DE3(F)' });
  });

  it('Hikvision OUI only → hikvision, direct, low confidence (< 0.6)', () => {
    const r = run('28:57:be:12:34:56', []);
    expect(r.classification.linkedVendor).toBe('hikvision');
    expect(r.classification.relation).toBe('direct');
    expect(r.classification.confidence).toBeLessThan(0.6);
    expect(r.identity).toEqual({ manufacturer: 'Hikvision', brand: null, model: null, firmware: null, serial: null, deviceType: null });
  });

  it('OUI + name + model traits together score > 0.9, clearly above the OUI alone', () => {
    const alone = run('28:57:be:12:34:56', []).classification.confidence;
    const together = run('28:57:be:12:34:56', [discovery(hikvisionScopes)]).classification.confidence;
    expect(alone).toBeLessThan(0.6);
    expect(together).toBeGreaterThan(0.9);
  });
});

describe('classify: Dahua and its rebrands', () => {
  it('Dahua camera (OUI + Dahua scope set + firmware) → dahua, direct', () => {
    const r = run('e0:50:8b:00:00:30', [
      discovery(dahuaScopes),
      deviceInfo({
        'onvif.device.manufacturer': 'Dahua',
        'onvif.device.model': 'DH-IPC-HDW1230T2',
        'onvif.device.firmware': '2.800.0000000.13.R',
        'onvif.device.serial': '6C01E93PAG69A7D',
      }),
    ]);
    expect(r.classification.linkedVendor).toBe('dahua');
    expect(r.classification.relation).toBe('direct');
    expect(r.classification.confidence).toBeGreaterThan(0.99);
    expect(r.identity).toEqual({
      manufacturer: 'Dahua',
      brand: 'Dahua',
      model: 'DH-IPC-HDW1230T2',
      firmware: '2.800.0000000.13.R',
      serial: '6C01E93PAG69A7D',
      deviceType: 'camera', // DH-IPC- names a camera (fingerprints/kinds/model-type.yaml),
    });
  });

  it('Amcrest with Dahua firmware traits (Dahua OUI 90:02:A9, AC01 build) → dahua, oem', () => {
    const r = run('90:02:a9:00:00:40', [
      deviceInfo({
        'onvif.device.manufacturer': 'Amcrest',
        'onvif.device.model': 'IP2M-841',
        'onvif.device.firmware': 'V2.400.AC01.15.R.20170328',
      }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.classification.confidence).toBeGreaterThan(0.85);
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: 'Amcrest', model: 'IP2M-841' });
  });

  it('Amcrest on its own OUI, with the Imou model leaking through → dahua, oem', () => {
    const r = run('9c:8e:cd:00:00:41', [
      deviceInfo({ 'onvif.device.manufacturer': 'Amcrest', 'onvif.device.model': 'IPC-AW46WN-S2', 'onvif.device.firmware': '2.420.AC00.15.R' }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: 'Amcrest' });
  });

  it('white label "Private" on a Dahua OUI → dahua, oem, no brand (a placeholder is not a brand; IPC- names none)', () => {
    const r = run('08:ed:ed:87:42:7a', [
      deviceInfo({
        'onvif.device.manufacturer': 'Private',
        'onvif.device.model': 'IPC-HDW1431T1-S4',
        'onvif.device.firmware': '2.800.0000000.13.R',
        'onvif.device.serial': '6C01E93PAG69A7D',
      }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.classification.confidence).toBeGreaterThan(0.9);
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: null, model: 'IPC-HDW1431T1-S4', deviceType: 'camera' });
  });

  it('Dahua firmware labelled "General" with a DH- model → dahua, direct, brand Dahua from the model prefix', () => {
    const r = run('08:ed:ed:87:42:7b', [
      deviceInfo({ 'onvif.device.manufacturer': 'General', 'onvif.device.model': 'DH-IPC-HDW1230T2', 'onvif.device.firmware': '2.800.0000000.13.R' }),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'direct' });
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: 'Dahua', model: 'DH-IPC-HDW1230T2', deviceType: 'camera' });
  });

  it('CP PLUS (Dahua scope layout with a CP PLUS name) → dahua, oem, weak', () => {
    const r = run(null, [
      discovery(
        scopes([
          'onvif://www.onvif.org/location/country/India',
          'onvif://www.onvif.org/name/CPPLUS',
          'onvif://www.onvif.org/extension/unique_identifier/1',
        ]),
      ),
    ]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.classification.confidence).toBeLessThan(0.6);
    expect(r.identity.brand).toBe('CP PLUS');
  });

  it('an Intelbras OUI alone → dahua, oem, very low confidence', () => {
    const r = run('58:10:8c:00:00:50', []);
    expect(r.classification).toEqual({ linkedVendor: 'dahua', relation: 'oem', confidence: 0.15 });
  });
});

describe('classify: OEM labels added from public sources (issue #11)', () => {
  // OUI, label and model of CamioCam/rtsp cameras/paths.csv@0afd84dac22afc604275492bcf9fd58482d77251 rows;
  // the last three MAC octets are invented.
  it('Q-See QCW2MPSL on the Dahua OUI 38:AF:29 → dahua, oem, sold as Q-See', () => {
    const r = run('38:af:29:00:00:60', [deviceInfo({ 'onvif.device.manufacturer': 'Q-See', 'onvif.device.model': 'QCW2MPSL' })]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: 'Q-See', model: 'QCW2MPSL', deviceType: 'camera' });
  });

  it('an IC Realtime label on the Dahua OUI A0:BD:1D → dahua, oem, sold as IC Realtime', () => {
    const r = run('a0:bd:1d:00:00:61', [deviceInfo({ 'onvif.device.manufacturer': 'IC Realtime' })]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.identity).toMatchObject({ manufacturer: 'Dahua', brand: 'IC Realtime' });
  });

  it('Lorex label and model alone (LNE3003 on a FLIR OUI, not Dahua-made) stay weak, like the LTS label alone', () => {
    const r = run('00:40:7f:00:00:62', [deviceInfo({ 'onvif.device.manufacturer': 'Lorex', 'onvif.device.model': 'LNE3003' })]);
    expect(r.classification).toMatchObject({ linkedVendor: 'dahua', relation: 'oem' });
    expect(r.classification.confidence).toBeLessThan(0.5);
    expect(r.identity).toMatchObject({ brand: 'Lorex', model: 'LNE3003' });
  });
});

describe('classify: devices not linked to Hikvision or Dahua', () => {
  it('Axis (OUI + name + manufacturer) → null; confidence is about the actual maker', () => {
    const r = run('00:40:8c:00:00:60', [
      discovery(scopes(['onvif://www.onvif.org/name/AXIS', 'onvif://www.onvif.org/hardware/P1435-LE'])),
      deviceInfo({ 'onvif.device.manufacturer': 'AXIS', 'onvif.device.model': 'P1435-LE' }),
    ]);
    expect(r.classification.linkedVendor).toBeNull();
    expect(r.classification.relation).toBeNull();
    expect(r.classification.confidence).toBeGreaterThan(0.9);
    expect(r.identity).toMatchObject({ manufacturer: 'Axis', brand: 'Axis', model: 'P1435-LE' });
  });

  it('a printer with an HP OUI (WS-Discovery print device, no ONVIF) → null', () => {
    const r = run('50:81:40:00:00:70', [
      {
        source: 'ws-discovery',
        ip: '198.18.0.40',
        at,
        status: 'ok',
        fields: {
          'onvif.endpoint': 'urn:uuid:3c8a91f0-7e4d-4b9a-9b2e-3cd92b000040',
          'onvif.types': ['wsdp:Device', 'wprt:PrintDeviceType'],
          'onvif.xaddr': ['http://198.18.0.40:5357/3c8a91f0-7e4d-4b9a-9b2e-3cd92b000040/'],
        },
      },
    ]);
    expect(r.classification).toEqual({ linkedVendor: null, relation: null, confidence: 0.5 });
    expect(r.identity).toMatchObject({ manufacturer: 'HP', brand: null });
  });

  it('Uniview (own OUI and label) is not linked', () => {
    const r = run('48:ea:63:00:00:80', [deviceInfo({ 'onvif.device.manufacturer': 'Uniview', 'onvif.device.model': 'IPC3614SR3-ADPF28' })]);
    expect(r.classification.linkedVendor).toBeNull();
    expect(r.classification.relation).toBeNull();
    expect(r.classification.confidence).toBeGreaterThan(0.9);
    expect(r.identity.manufacturer).toBe('Uniview');
  });

  it('Xiongmai (uc-httpd, generic ONVIF name) is not linked', () => {
    const r = run('02:12:34:56:78:9a', [
      discovery(scopes(['onvif://www.onvif.org/name/IP-Camera'])),
      deviceInfo({ 'onvif.http.server': 'uc-httpd 1.0.0' }),
    ]);
    expect(r.classification).toEqual({ linkedVendor: null, relation: null, confidence: 0.8 });
    expect(r.identity.manufacturer).toBe('Xiongmai');
  });

  it('a generic HappyTime ONVIF server is not classified at all', () => {
    const r = run('02:00:00:00:00:11', [
      discovery(scopes(['onvif://www.onvif.org/name/IP-Camera', 'onvif://www.onvif.org/hardware/HI3518C'])),
    ]);
    expect(r.classification).toEqual({ linkedVendor: null, relation: null, confidence: 0 });
    expect(r.identity.manufacturer).toBeNull();
    expect(r.evidence.length).toBeGreaterThan(0);
    expect(r.evidence.every((e) => e.supports === null)).toBe(true);
  });

  it('no evidence at all → null with confidence 0; the label is kept as manufacturer and brand', () => {
    const r = run(null, [deviceInfo({ 'onvif.device.manufacturer': 'Acme', 'onvif.device.model': 'X1' })]);
    expect(r.classification).toEqual({ linkedVendor: null, relation: null, confidence: 0 });
    expect(r.identity).toMatchObject({ manufacturer: 'Acme', brand: 'Acme', model: 'X1' });
  });
});

describe('classify: conflicts and the formula', () => {
  it('a non-linked maker\'s OUI under Hikvision traits lowers confidence but keeps the flag', () => {
    const clean = run('28:57:be:12:34:56', [discovery(hikvisionScopes)]).classification;
    const conflict = run('00:40:8c:00:00:90', [discovery(hikvisionScopes)]).classification;
    expect(conflict.linkedVendor).toBe('hikvision');
    expect(conflict.confidence).toBeLessThan(clean.confidence);
    // S(hikvision) = 1 − 0.15·0.2 = 0.97 (name 0.85, hardware 0.8); R(axis) = 0.5 (OUI): 0.97 × 0.5.
    expect(conflict.confidence).toBe(0.485);
  });

  it('Dahua traits on a Hikvision device lower confidence; the stronger maker wins', () => {
    const clean = run('28:57:be:12:34:56', hikvisionCamera).classification;
    const mixed = run('28:57:be:12:34:56', [
      ...hikvisionCamera,
      discovery(scopes(['onvif://www.onvif.org/extension/unique_identifier/1'])),
    ]).classification;
    expect(mixed.linkedVendor).toBe('hikvision');
    expect(mixed.confidence).toBeLessThan(clean.confidence);
  });

  it('scores groups by noisy-OR over distinct (source, rule), one rule counting once', () => {
    const ev = (rule: string, detail: string, supports: string, confidence: number): Evidence => ({
      source: 'onvif',
      detail,
      supports,
      rule,
      confidence,
    });
    const evidence = [
      ev('model-hikvision-camera', 'onvif.scope.hardware = "DS-2CD2143G2-I"', 'hikvision', 0.8),
      ev('model-hikvision-camera', 'onvif.scope.hardware = "DS-2CD2385G1-I"', 'hikvision', 0.8),
      ev('label-lts', 'onvif.scope.name = "LTS"', 'lts', 0.8),
      ev('label-annke', 'onvif.scope.name = "ANNKE"', 'annke', 0.8),
    ];
    const { own, rival } = scoreGroups(db, evidence);
    // 0.8 (platform, direct) ; 0.8 × 0.5 (brand, OEM) ; 0.8 × 0.5 × 0.5 (brand, OEM, uncertain)
    expect(own.get('hikvision')).toBeCloseTo(1 - 0.2 * 0.6 * 0.8, 10);
    expect(rival.get('hikvision')).toBeCloseTo(1 - 0.2 * 0.8 * 0.9, 10);
  });

  it('does not depend on evidence order', () => {
    const fp = fingerprintDevice(db, { macs: ['c4:2f:90:00:00:10'], observations: hikvisionCamera });
    const a = classify(db, fp.evidence, fp.identity);
    const b = classify(db, [...fp.evidence].reverse(), fp.identity);
    expect(b).toEqual(a);
  });

  it('a label the table knows only by name still sets the brand', () => {
    expect(vendorForLabel(db, 'CP PLUS')?.key).toBe('cp-plus');
    expect(vendorForLabel(db, 'hikvision')?.key).toBe('hikvision');
    expect(vendorForLabel(db, 'Acme')).toBeNull();
    const identity: Identity = { manufacturer: 'Hikvision', brand: null, model: null, firmware: null, serial: null, deviceType: null };
    const oui = run('28:57:be:12:34:56', []).evidence;
    expect(classify(db, oui, identity).classification.relation).toBe('direct');
  });
});
