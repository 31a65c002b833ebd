/**
 * The conformance suite every InventoryStore must pass (undici's cacheStoreTests, unstorage's
 * testDriver): `storeContract('file', makeFileStore)` in the store's own test file. It runs against
 * the file store, the HTTP push store (with a loopback receiver) and the CouchDB store (with a
 * CouchDB-protocol server on 127.0.0.1).
 *
 * Also exports the inventory fixtures the store and change tests share: a Hikvision, a Dahua and
 * an Axis camera on one site, and the same site one scan later.
 */
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../agent/changes.js';
import type { InventoryStore } from '../../agent/store/types.js';
import type { Device, Inventory } from '../../agent/types.js';

export interface StoreUnderTest {
  store: InventoryStore;
  /** A new instance on the same folder / state, as after a restart (the old one is closed first). */
  reopen(): Promise<InventoryStore>;
  /** The scan ids of the documents that reached the destination, in the order they arrived. */
  delivered(): Promise<string[]>;
  cleanup(): Promise<void>;
}

// ---- fixtures ------------------------------------------------------------------------------

export const SITE = 'town-hall';

export function hikvisionCamera(): Device {
  return {
    id: 'mac:bc:ad:28:4f:12:9e',
    ip: '198.18.0.21',
    mac: 'bc:ad:28:4f:12:9e',
    identity: {
      manufacturer: 'Hikvision',
      brand: 'Hikvision',
      model: 'DS-2CD2143G2-I',
      firmware: 'V5.7.3 build 220112',
      serial: 'DS-2CD2143G2-I20220315AAWRJ51234567',
      deviceType: 'IPCamera',
    },
    classification: { linkedVendor: 'hikvision', relation: 'direct', confidence: 0.99 },
    evidence: [
      {
        source: 'onvif',
        detail: 'onvif.scope.hardware = DS-2CD2143G2-I',
        supports: 'hikvision',
        rule: 'onvif-hardware-hikvision-ds',
        confidence: 0.9,
      },
      { source: 'http', detail: 'http.header.server = App-webs/', supports: 'hikvision', rule: 'hikvision-app-webs', confidence: 0.8 },
      { source: 'oui', detail: 'mac bc:ad:28 = Hangzhou Hikvision Digital Technology', supports: 'hikvision', rule: 'oui', confidence: 0.7 },
    ],
    vulnerabilities: [],
    services: [
      { port: 80, protocol: 'http', banner: 'App-webs/' },
      { port: 554, protocol: 'rtsp', banner: null },
      { port: 8000, protocol: 'hikvision-sdk', banner: null },
    ],
  };
}

export function dahuaCamera(): Device {
  return {
    id: 'mac:3c:ef:8c:a1:07:5d',
    ip: '198.18.0.34',
    mac: '3c:ef:8c:a1:07:5d',
    identity: {
      manufacturer: 'Dahua',
      brand: 'Dahua',
      model: 'IPC-HDW2431T-AS-S2',
      firmware: 'V2.800.0000000.25.R, Build Date 2021-08-10',
      serial: '7J0A8F2PAZ4C1D9',
      deviceType: 'IPC',
    },
    classification: { linkedVendor: 'dahua', relation: 'direct', confidence: 0.97 },
    evidence: [
      { source: 'dhip', detail: 'dhip.deviceClass = IPC', supports: 'dahua', rule: 'dhip-dahua', confidence: 0.9 },
      { source: 'rtsp', detail: 'rtsp.header.server = Dahua Rtsp Server', supports: 'dahua', rule: 'dahua-rtsp-server', confidence: 0.8 },
    ],
    vulnerabilities: [{ id: 'CVE-2021-33044' }],
    services: [
      { port: 80, protocol: 'http', banner: null },
      { port: 554, protocol: 'rtsp', banner: 'Dahua Rtsp Server' },
      { port: 37777, protocol: 'dhip', banner: null },
    ],
  };
}

export function axisCamera(): Device {
  return {
    id: 'mac:ac:cc:8e:62:30:b4',
    ip: '198.18.0.40',
    mac: 'ac:cc:8e:62:30:b4',
    identity: {
      manufacturer: 'Axis',
      brand: 'Axis',
      model: 'M3106-LVE Mk II',
      firmware: '10.12.114',
      serial: 'ACCC8E6230B4',
      deviceType: 'Network Camera',
    },
    classification: { linkedVendor: null, relation: null, confidence: 0.95 },
    evidence: [
      { source: 'onvif', detail: 'onvif.scope.name = AXIS M3106-LVE Mk II', supports: 'axis', rule: 'onvif-name-axis', confidence: 0.9 },
    ],
    vulnerabilities: [],
    services: [
      { port: 80, protocol: 'http', banner: null },
      { port: 443, protocol: 'https', banner: null },
      { port: 554, protocol: 'rtsp', banner: null },
    ],
  };
}

/** An NVR that joins the site in the second scan. */
export function hikvisionNvr(): Device {
  return {
    id: 'mac:44:47:cc:0e:91:22',
    ip: '198.18.0.5',
    mac: '44:47:cc:0e:91:22',
    identity: {
      manufacturer: 'Hikvision',
      brand: 'Hikvision',
      model: 'DS-7608NI-K2',
      firmware: 'V4.62.210 build 220725',
      serial: 'DS-7608NI-K20820220727CCRRJ71234567',
      deviceType: 'NVR',
    },
    classification: { linkedVendor: 'hikvision', relation: 'direct', confidence: 0.99 },
    evidence: [{ source: 'sadp', detail: 'sadp.DeviceType = NVR', supports: 'hikvision', rule: 'sadp', confidence: 0.95 }],
    vulnerabilities: [],
    services: [{ port: 80, protocol: 'http', banner: 'App-webs/' }],
  };
}

export function inventory(options: {
  site?: string;
  id: string;
  startedAt: string;
  finishedAt: string;
  devices: Device[];
}): Inventory {
  return {
    schema: 'cctv-inventory/v1',
    scan: {
      id: options.id,
      site: options.site ?? SITE,
      startedAt: options.startedAt,
      finishedAt: options.finishedAt,
      targets: ['198.18.0.0/24'],
      methods: ['wsdiscovery', 'onvif', 'neighbours'],
    },
    devices: options.devices,
  };
}

/** First scan of the site: Hikvision, Dahua and Axis cameras. */
export function firstScan(site = SITE): Inventory {
  return inventory({
    site,
    id: '20260302T081500Z-4f1a2b',
    startedAt: '2026-03-02T08:15:00.000Z',
    finishedAt: '2026-03-02T08:15:42.517Z',
    devices: [hikvisionCamera(), dahuaCamera(), axisCamera()],
  });
}

/**
 * A week later: the Hikvision camera has new firmware, the Dahua camera is gone, the Axis camera
 * moved to another address, and a Hikvision NVR appeared.
 */
export function secondScan(site = SITE): Inventory {
  const hik = hikvisionCamera();
  hik.identity.firmware = 'V5.7.15 build 230420';
  const axis = axisCamera();
  axis.ip = '198.18.0.41';
  return inventory({
    site,
    id: '20260309T081500Z-9c3d7e',
    startedAt: '2026-03-09T08:15:00.000Z',
    finishedAt: '2026-03-09T08:15:39.004Z',
    devices: [hikvisionNvr(), hik, axis],
  });
}

/** The events secondScan() must produce against firstScan(), in order. */
export function expectedSecondScanChanges(site = SITE): ChangeEvent[] {
  const base = { at: '2026-03-09T08:15:39.004Z', site, scanId: '20260309T081500Z-9c3d7e' };
  return [
    { type: 'device-removed', ...base, deviceId: 'mac:3c:ef:8c:a1:07:5d', ip: '198.18.0.34' },
    { type: 'device-added', ...base, deviceId: 'mac:44:47:cc:0e:91:22', ip: '198.18.0.5' },
    {
      type: 'device-changed',
      ...base,
      deviceId: 'mac:ac:cc:8e:62:30:b4',
      ip: '198.18.0.41',
      changes: [{ field: 'ip', before: '198.18.0.40', after: '198.18.0.41' }],
    },
    {
      type: 'firmware-changed',
      ...base,
      deviceId: 'mac:bc:ad:28:4f:12:9e',
      ip: '198.18.0.21',
      changes: [{ field: 'identity.firmware', before: 'V5.7.3 build 220112', after: 'V5.7.15 build 230420' }],
    },
  ];
}

// ---- the contract --------------------------------------------------------------------------

export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`InventoryStore contract: ${name}`, () => {
    async function withStore(fn: (store: InventoryStore, harness: StoreUnderTest) => Promise<void>): Promise<void> {
      const harness = await makeStore();
      let current = harness.store;
      const tracked: StoreUnderTest = {
        ...harness,
        reopen: async () => {
          current = await harness.reopen();
          return current;
        },
      };
      try {
        await fn(harness.store, tracked);
      } finally {
        await current.close();
        await harness.cleanup();
      }
    }

    it('has a name', () =>
      withStore(async (store) => {
        expect(store.name).toMatch(/^[a-z][a-z0-9-]*$/);
      }));

    it('returns from latest() a document equal to the one saved', () =>
      withStore(async (store) => {
        const doc = firstScan();
        const result = await store.save(doc);
        expect(typeof result.location).toBe('string');
        expect(result.location.length).toBeGreaterThan(0);
        expect(await store.latest(SITE)).toEqual(firstScan());
      }));

    it('returns null from latest() for a site it has never seen', () =>
      withStore(async (store) => {
        expect(await store.latest('no-such-site')).toBeNull();
        await store.save(firstScan());
        expect(await store.latest('another-site')).toBeNull();
      }));

    it('reports every device as added on the first save of a site', () =>
      withStore(async (store) => {
        const { changes } = await store.save(firstScan());
        expect(changes.map((c) => [c.type, c.deviceId])).toEqual([
          ['device-added', 'mac:3c:ef:8c:a1:07:5d'],
          ['device-added', 'mac:ac:cc:8e:62:30:b4'],
          ['device-added', 'mac:bc:ad:28:4f:12:9e'],
        ]);
      }));

    it('returns the changes against the previous save (added, removed, changed, firmware)', () =>
      withStore(async (store) => {
        await store.save(firstScan());
        const { changes } = await store.save(secondScan());
        expect(changes).toEqual(expectedSecondScanChanges());
        expect(await store.latest(SITE)).toEqual(secondScan());
      }));

    it('returns no changes when the same devices are seen again', () =>
      withStore(async (store) => {
        await store.save(firstScan());
        const again = firstScan();
        again.scan.id = '20260302T091500Z-aa00bb';
        again.devices.reverse();
        expect((await store.save(again)).changes).toEqual([]);
      }));

    it('keeps the documents of two sites independent', () =>
      withStore(async (store) => {
        await store.save(firstScan('town-hall'));
        const depot = secondScan('depot-north');
        const { changes } = await store.save(depot);
        expect(changes.every((c) => c.type === 'device-added' && c.site === 'depot-north')).toBe(true);
        expect(changes).toHaveLength(3);
        expect(await store.latest('town-hall')).toEqual(firstScan('town-hall'));
        expect(await store.latest('depot-north')).toEqual(secondScan('depot-north'));
        // A later save of one site diffs against that site only.
        const { changes: hallChanges } = await store.save(secondScan('town-hall'));
        expect(hallChanges).toEqual(expectedSecondScanChanges('town-hall'));
      }));

    it('applies saves of one site in the order they were made', () =>
      withStore(async (store) => {
        const scans = [1, 2, 3, 4].map((n) => {
          const hik = hikvisionCamera();
          hik.identity.firmware = `V5.7.${n} build 2301${n}0`;
          return inventory({
            id: `20260310T08${n}000Z-00000${n}`,
            startedAt: `2026-03-10T08:${n}0:00.000Z`,
            finishedAt: `2026-03-10T08:${n}0:30.000Z`,
            devices: [hik],
          });
        });
        const results = [];
        for (const scan of scans) results.push(await store.save(scan));
        expect(await store.latest(SITE)).toEqual(scans[3]);
        for (const n of [2, 3, 4]) {
          expect(results[n - 1]?.changes).toEqual([
            expect.objectContaining({
              type: 'firmware-changed',
              scanId: `20260310T08${n}000Z-00000${n}`,
              changes: [{ field: 'identity.firmware', before: `V5.7.${n - 1} build 2301${n - 1}0`, after: `V5.7.${n} build 2301${n}0` }],
            }),
          ]);
        }
      }));

    it('records the change events it is given instead of computing its own', () =>
      withStore(async (store) => {
        await store.save(firstScan());
        const given = expectedSecondScanChanges().slice(1, 3);
        const result = await store.save(secondScan(), given);
        expect(result.changes).toEqual(given);
        given.pop(); // the store keeps its own copy
        expect(result.changes).toHaveLength(2);
        expect(await store.latest(SITE)).toEqual(secondScan());
        // The next save without events diffs against the document saved with them.
        const again = secondScan();
        again.scan.id = '20260316T081500Z-77aa00';
        expect((await store.save(again)).changes).toEqual([]);
      }));

    it('delivers every saved document: flush() is true, status() shows an empty outbox and no error', () =>
      withStore(async (store, harness) => {
        expect(store.status()).toMatchObject({ outboxDepth: 0, lastError: null });
        await store.save(firstScan());
        await store.save(secondScan());
        expect(await store.flush(10_000)).toBe(true);
        const status = store.status();
        expect(status).toMatchObject({ outboxDepth: 0, lastError: null });
        expect(Date.parse(status.lastDeliveryAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
        expect(await harness.delivered()).toEqual([firstScan().scan.id, secondScan().scan.id]);
      }));

    it('keeps what it saved across close() and a new instance on the same place', () =>
      withStore(async (store, harness) => {
        await store.save(firstScan());
        await store.close();
        await expect(store.save(secondScan())).rejects.toThrow(/closed/);
        const reopened = await harness.reopen();
        expect(await reopened.latest(SITE)).toEqual(firstScan());
        expect(await reopened.save(secondScan())).toMatchObject({ changes: expectedSecondScanChanges() });
        expect(await reopened.flush(10_000)).toBe(true);
        expect(await harness.delivered()).toEqual([firstScan().scan.id, secondScan().scan.id]);
      }));

    it('refuses unsafe site names and scan ids with CCTV_ERR_BAD_NAME', () =>
      withStore(async (store) => {
        await expect(store.save(firstScan('../evil'))).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        const doc = firstScan();
        doc.scan.id = 'a/b';
        await expect(store.save(doc)).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        await expect(store.latest('..')).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        expect(store.status().outboxDepth).toBe(0);
      }));

    it('keeps its own copy: changing objects after save() or from latest() does not change the store', () =>
      withStore(async (store) => {
        const doc = firstScan();
        await store.save(doc);
        doc.devices.pop();
        const read = await store.latest(SITE);
        expect(read).toEqual(firstScan());
        read?.devices.pop();
        expect(await store.latest(SITE)).toEqual(firstScan());
      }));
  });
}
