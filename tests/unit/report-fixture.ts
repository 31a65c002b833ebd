import type { Device, Inventory } from '../../agent/types.js';

/** A device shaped as the agent stores it; `overrides` replace whole members. */
export function device(ip: string, overrides: Partial<Device> = {}): Device {
  return {
    id: `ip:${ip}`,
    ip,
    mac: null,
    identity: { manufacturer: null, brand: null, model: null, firmware: null, serial: null, deviceType: null },
    classification: { linkedVendor: null, relation: null, confidence: 0 },
    evidence: [],
    vulnerabilities: [],
    services: [],
    ...overrides,
  };
}

/** A small site: Hikvision direct, LTS (Hikvision OEM), Dahua, Amcrest (Dahua OEM), EZVIZ, Axis, and an unknown host. */
export function sampleInventory(): Inventory {
  return {
    schema: 'cctv-inventory/v1',
    scan: { id: '20261128T100000Z-abcd', site: 'town-hall', startedAt: '2026-11-28T10:00:00.000Z', finishedAt: '2026-11-28T10:00:05.000Z', targets: [], methods: ['ws-discovery'] },
    devices: [
      device('198.18.0.10', {
        mac: 'c0:56:e3:00:00:10',
        identity: { manufacturer: 'Hikvision', brand: 'Hikvision', model: 'DS-2CD2143G2-I', firmware: 'V5.7.3', serial: 'DS-2CD2143G2-I20230101', deviceType: 'camera' },
        classification: { linkedVendor: 'hikvision', relation: 'direct', confidence: 0.95 },
        evidence: [{ source: 'onvif', detail: 'onvif.scope.name = HIKVISION DS-2CD2143G2-I', supports: 'hikvision', rule: 'onvif-scope-hikvision', confidence: 0.9 }],
        vulnerabilities: [
          { id: 'CVE-2017-7921', status: 'not-affected', severity: 'critical', kev: null, reason: 'firmware past every range' },
          { id: 'CVE-2021-36260', status: 'affected', severity: 'critical', kev: '2022-01-10', reason: 'firmware before V5.7.3 build 210628' },
        ],
        services: [{ port: 80, protocol: 'http', banner: 'App-webs/' }],
        policies: [{ id: 'ndaa-889', name: 'US NDAA section 889' }],
      }),
      device('198.18.0.11', {
        identity: { manufacturer: 'Hikvision', brand: 'LTS', model: 'CMIP7442W-28M', firmware: null, serial: null, deviceType: 'camera' },
        classification: { linkedVendor: 'hikvision', relation: 'oem', confidence: 0.8 },
        // Neither counts the device as one with known CVEs.
        vulnerabilities: [
          { id: 'CVE-2017-7921', status: 'not-affected' },
          { id: 'CVE-2021-36260', status: 'cannot-tell' },
        ],
      }),
      device('198.18.0.20', {
        identity: { manufacturer: 'Dahua', brand: 'Dahua', model: 'IPC-HFW2431S', firmware: '2.800', serial: null, deviceType: 'camera' },
        classification: { linkedVendor: 'dahua', relation: 'direct', confidence: 0.9 },
        // An entry without a status, as hand-made or older documents have: it still counts.
        vulnerabilities: [{ id: 'CVE-2021-33044' }],
      }),
      device('198.18.0.21', {
        identity: { manufacturer: 'Dahua', brand: 'Amcrest', model: 'IP8M-2496E', firmware: null, serial: null, deviceType: 'camera' },
        classification: { linkedVendor: 'dahua', relation: 'oem', confidence: 0.85 },
        vulnerabilities: [{ id: 'CVE-2020-5735', status: 'possibly-affected' }],
      }),
      device('198.18.0.30', {
        identity: { manufacturer: 'EZVIZ', brand: 'EZVIZ', model: 'C6N', firmware: null, serial: null, deviceType: 'camera' },
        classification: { linkedVendor: 'hikvision', relation: 'subsidiary', confidence: 0.8 },
      }),
      device('198.18.0.40', {
        identity: { manufacturer: 'Axis', brand: 'Axis', model: 'P3245-LVE', firmware: '10.12', serial: null, deviceType: 'camera' },
        classification: { linkedVendor: null, relation: null, confidence: 0.9 },
      }),
      device('198.18.0.50'),
    ],
  };
}
