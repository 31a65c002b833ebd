/**
 * The conformance suite every InventoryStore must pass (undici's cacheStoreTests, unstorage's
 * testDriver): `storeContract('file', makeFileStore)` in the store's own test file. It runs against
 * the file store, the HTTP push store (with a loopback receiver) and the CouchDB store (with a
 * CouchDB-protocol server on 127.0.0.1).
 *
 * Also exports the inventory fixtures the store and change tests share: a Hikvision, a Dahua and
 * an Axis camera on one site, and the same site one scan later.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { recordScan, type ChangeEvent } from '../../agent/pipeline/changes.js';
import { openStoreForReading } from '../../agent/store/index.js';
import type { InventoryStore, ScanReader, StoreSpec } from '../../agent/store/types.js';
import type { Device, Inventory } from '../../agent/types.js';

const silentLog = pino({ level: 'silent' });

export interface StoreUnderTest {
  store: InventoryStore;
  /** A new instance on the same folder / state, as after a restart (the old one is closed first). */
  reopen(): Promise<InventoryStore>;
  /** The scan ids of the documents that reached the destination, in the order they arrived. */
  delivered(): Promise<string[]>;
  /** The change events the destination holds for `site`, in the order they were recorded. */
  events(site: string): Promise<ChangeEvent[]>;
  /** Whether the store reads its destination back (false: every read refuses with CCTV_ERR_STORE_WRITE_ONLY). */
  readsBack: boolean;
  /** The spec that names the store's destination, as a read command's --store would. */
  readSpec: StoreSpec;
  /** A spec of the same store naming a destination that does not exist, and whether it exists now. */
  absent: { spec: StoreSpec; exists(): Promise<boolean> };
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

/** The events secondScan() must produce against firstScan(), in order (agent/pipeline/changes.ts). */
export function expectedSecondScanChanges(site = SITE): ChangeEvent[] {
  const base = { at: '2026-03-09T08:15:39.004Z', site, scanId: '20260309T081500Z-9c3d7e' };
  return [
    { type: 'device-removed', ...base, deviceId: 'mac:3c:ef:8c:a1:07:5d', ip: '198.18.0.34' },
    { type: 'device-added', ...base, deviceId: 'mac:44:47:cc:0e:91:22', ip: '198.18.0.5' },
    {
      type: 'ip-changed',
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
    const save = (store: InventoryStore, doc: Inventory, events: ChangeEvent[] = []) => store.save(doc, events);

    it('has a name', () =>
      withStore(async (store) => {
        expect(store.name).toMatch(/^[a-z][a-z0-9-]*$/);
      }));

    it('returns from latest() a document equal to the one saved, and where it went', () =>
      withStore(async (store) => {
        const result = await save(store, firstScan());
        expect(typeof result.location).toBe('string');
        expect(result.location.length).toBeGreaterThan(0);
        expect(await store.latest(SITE)).toEqual(firstScan());
      }));

    it('returns null from latest() for a site it has never seen', () =>
      withStore(async (store) => {
        expect(await store.latest('no-such-site')).toBeNull();
        await save(store, firstScan());
        expect(await store.latest('another-site')).toBeNull();
      }));

    it('records exactly the change events it is given, and computes none of its own', () =>
      withStore(async (store, harness) => {
        const given = expectedSecondScanChanges().slice(1, 3);
        await save(store, firstScan()); // no events given: none recorded, though every device is new
        await save(store, secondScan(), given);
        given.pop(); // the store keeps its own copy
        expect(await store.flush(10_000)).toBe(true);
        expect(await harness.events(SITE)).toEqual(expectedSecondScanChanges().slice(1, 3));
        expect(await store.latest(SITE)).toEqual(secondScan());
      }));

    it('is the change engine\'s base: recordScan reports a first scan as added, then the changes against the last save', () =>
      withStore(async (store, harness) => {
        const first = await recordScan(store, firstScan());
        expect(first.events.map((e) => [e.type, e.deviceId])).toEqual([
          ['device-added', 'mac:3c:ef:8c:a1:07:5d'],
          ['device-added', 'mac:ac:cc:8e:62:30:b4'],
          ['device-added', 'mac:bc:ad:28:4f:12:9e'],
        ]);
        expect((await recordScan(store, secondScan())).events).toEqual(expectedSecondScanChanges());
        const again = secondScan();
        again.scan.id = '20260316T081500Z-77aa00';
        again.devices.reverse();
        expect((await recordScan(store, again)).events).toEqual([]);
        expect(await store.flush(10_000)).toBe(true);
        expect(await harness.events(SITE)).toEqual([...first.events, ...expectedSecondScanChanges()]);
      }));

    it('keeps the documents of two sites independent', () =>
      withStore(async (store) => {
        await save(store, firstScan('town-hall'));
        await save(store, secondScan('depot-north'));
        expect(await store.latest('town-hall')).toEqual(firstScan('town-hall'));
        expect(await store.latest('depot-north')).toEqual(secondScan('depot-north'));
      }));

    it('applies saves of one site in the order they were made', () =>
      withStore(async (store, harness) => {
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
        await Promise.all(scans.map((scan) => save(store, scan)));
        expect(await store.latest(SITE)).toEqual(scans[3]);
        expect(await store.flush(10_000)).toBe(true);
        expect(await harness.delivered()).toEqual(scans.map((s) => s.scan.id));
      }));

    it('delivers every saved document: flush() is true, status() shows an empty outbox and no error', () =>
      withStore(async (store, harness) => {
        expect(store.status()).toMatchObject({ outboxDepth: 0, lastError: null });
        await save(store, firstScan());
        await save(store, secondScan());
        expect(await store.flush(10_000)).toBe(true);
        const status = store.status();
        expect(status).toMatchObject({ outboxDepth: 0, lastError: null });
        expect(Date.parse(status.lastDeliveryAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
        expect(await harness.delivered()).toEqual([firstScan().scan.id, secondScan().scan.id]);
      }));

    it('keeps what it saved across close() and a new instance on the same place', () =>
      withStore(async (store, harness) => {
        await save(store, firstScan());
        await store.close();
        await expect(save(store, secondScan())).rejects.toThrow(/closed/);
        const reopened = await harness.reopen();
        expect(await reopened.latest(SITE)).toEqual(firstScan());
        expect((await recordScan(reopened, secondScan())).events).toEqual(expectedSecondScanChanges());
        expect(await reopened.flush(10_000)).toBe(true);
        expect(await harness.delivered()).toEqual([firstScan().scan.id, secondScan().scan.id]);
      }));

    it('refuses unsafe site names and scan ids with CCTV_ERR_BAD_NAME', () =>
      withStore(async (store) => {
        await expect(save(store, firstScan('../evil'))).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        const doc = firstScan();
        doc.scan.id = 'a/b';
        await expect(save(store, doc)).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        await expect(store.latest('..')).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
        expect(store.status().outboxDepth).toBe(0);
      }));

    it('keeps its own copy: changing objects after save() or from latest() does not change the store', () =>
      withStore(async (store) => {
        const doc = firstScan();
        await save(store, doc);
        doc.devices.pop();
        const read = await store.latest(SITE);
        expect(read).toEqual(firstScan());
        read?.devices.pop();
        expect(await store.latest(SITE)).toEqual(firstScan());
      }));

    // ---- reading back (ScanReader, openStoreForReading) ----

    /** Saves firstScan and secondScan of SITE and secondScan of another site, and waits for delivery. */
    async function saveHistory(store: InventoryStore): Promise<void> {
      await save(store, firstScan());
      await save(store, secondScan('depot-north'));
      await save(store, secondScan());
      expect(await store.flush(10_000)).toBe(true);
    }
    const summary = (doc: Inventory) => ({ site: doc.scan.site, id: doc.scan.id, startedAt: doc.scan.startedAt, finishedAt: doc.scan.finishedAt });

    /** The reading checks every readable store passes, on the store itself and on a reader of its destination. */
    async function readsBack(reader: ScanReader): Promise<void> {
      expect(await reader.listScans(SITE)).toEqual([summary(firstScan()), summary(secondScan())]);
      expect(await reader.listScans()).toEqual([summary(firstScan()), summary(secondScan('depot-north')), summary(secondScan())]);
      expect(await reader.listScans('no-such-site')).toEqual([]);
      expect(await reader.loadScan(SITE, firstScan().scan.id)).toEqual(firstScan());
      expect(await reader.loadScan(SITE, '20200101T000000Z-000000')).toBeNull();
      expect(await reader.loadScan('depot-north', firstScan().scan.id)).toBeNull();
      expect(await reader.loadInventory(SITE)).toEqual(secondScan());
      expect(await reader.loadInventory('depot-north')).toEqual(secondScan('depot-north'));
      expect(await reader.loadInventory('no-such-site')).toBeNull();
      const copy = await reader.loadInventory(SITE);
      copy?.devices.pop();
      expect(await reader.loadInventory(SITE)).toEqual(secondScan());
      for (const read of [reader.listScans('..'), reader.loadScan(SITE, '../x'), reader.loadScan('a/b', 'x'), reader.loadInventory('..')]) {
        await expect(read).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_NAME' });
      }
    }

    it('reads back what it delivered: listScans, loadScan, loadInventory (or refuses every read as write-only)', () =>
      withStore(async (store, harness) => {
        await saveHistory(store);
        if (harness.readsBack) return readsBack(store);
        for (const read of [store.listScans(SITE), store.loadScan(SITE, firstScan().scan.id), store.loadInventory(SITE)]) {
          await expect(read).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_WRITE_ONLY' });
        }
      }));

    it('opens its destination for reading through the registry, and reads the same (or refuses as write-only)', () =>
      withStore(async (store, harness) => {
        await saveHistory(store);
        const opening = openStoreForReading(harness.readSpec, { log: silentLog });
        if (!harness.readsBack) return void (await expect(opening).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_WRITE_ONLY' }));
        const reader = await opening;
        expect(reader.name).toBe(store.name);
        await readsBack(reader);
      }));

    it('opening a destination that does not exist for reading is CCTV_ERR_STORE_NOT_FOUND (or write-only) and creates nothing', () =>
      withStore(async (_store, harness) => {
        const error = await openStoreForReading(harness.absent.spec, { log: silentLog }).then(
          () => new Error('expected a rejection'),
          (e: unknown) => e as Error,
        );
        expect(error).toMatchObject({ code: harness.readsBack ? 'CCTV_ERR_STORE_NOT_FOUND' : 'CCTV_ERR_STORE_WRITE_ONLY' });
        expect(await harness.absent.exists()).toBe(false);
      }));
  });
}
