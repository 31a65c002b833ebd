import { describe, expect, it } from 'vitest';
import { CHANGE_TYPES, diffInventories } from '../../agent/pipeline/changes.js';
import {
  axisCamera,
  dahuaCamera,
  expectedSecondScanChanges,
  firstScan,
  hikvisionCamera,
  inventory,
  secondScan,
  SITE,
} from './store-contract.js';

function rescan(devices = [hikvisionCamera(), dahuaCamera(), axisCamera()]) {
  return inventory({
    id: '20260303T081500Z-0b0b0b',
    startedAt: '2026-03-03T08:15:00.000Z',
    finishedAt: '2026-03-03T08:15:40.000Z',
    devices,
  });
}

/**
 * The change engine on two documents (diffInventories: a device removed at its first miss, as
 * `scan` and `diff` use it). The debounce over sweeps is in daemon-changes.test.ts.
 */
describe('diffInventories', () => {
  it('reports every device as added when there is no previous inventory, sorted by device id', () => {
    const events = diffInventories(null, firstScan());
    expect(events).toEqual([
      { type: 'device-added', at: '2026-03-02T08:15:42.517Z', site: SITE, scanId: '20260302T081500Z-4f1a2b', deviceId: 'mac:3c:ef:8c:a1:07:5d', ip: '198.18.0.34' },
      { type: 'device-added', at: '2026-03-02T08:15:42.517Z', site: SITE, scanId: '20260302T081500Z-4f1a2b', deviceId: 'mac:ac:cc:8e:62:30:b4', ip: '198.18.0.40' },
      { type: 'device-added', at: '2026-03-02T08:15:42.517Z', site: SITE, scanId: '20260302T081500Z-4f1a2b', deviceId: 'mac:bc:ad:28:4f:12:9e', ip: '198.18.0.21' },
    ]);
    expect(events.every((e) => e.changes === undefined)).toBe(true);
  });

  it('reports added, removed, ip-changed and firmware-changed devices against the previous inventory', () => {
    expect(diffInventories(firstScan(), secondScan())).toEqual(expectedSecondScanChanges());
  });

  it('reports nothing for the same devices in another order', () => {
    expect(diffInventories(firstScan(), rescan([axisCamera(), hikvisionCamera(), dahuaCamera()]))).toEqual([]);
  });

  it('stamps events with the next scan: finishedAt, site and id', () => {
    const events = diffInventories(firstScan(), secondScan());
    for (const e of events) {
      expect(e).toMatchObject({ at: '2026-03-09T08:15:39.004Z', site: SITE, scanId: '20260309T081500Z-9c3d7e' });
    }
  });

  it('gives a removed device the address it had', () => {
    const [removed] = diffInventories(firstScan(), rescan([hikvisionCamera(), axisCamera()]));
    expect(removed).toMatchObject({ type: 'device-removed', deviceId: 'mac:3c:ef:8c:a1:07:5d', ip: '198.18.0.34' });
    expect(removed?.changes).toBeUndefined();
  });

  it('reports each kind of change as its own event with before and after values, in kind order', () => {
    const dahua = dahuaCamera();
    dahua.ip = '198.18.0.35';
    dahua.identity.model = 'IPC-HDW2431T-AS-S2-0280B';
    dahua.identity.deviceType = null; // the probe that named it did not answer this time: not a change
    dahua.classification = { linkedVendor: 'dahua', relation: 'oem', confidence: 0.8 };
    const events = diffInventories(firstScan(), rescan([hikvisionCamera(), dahua, axisCamera()]));
    const base = { at: '2026-03-03T08:15:40.000Z', site: SITE, scanId: '20260303T081500Z-0b0b0b', deviceId: 'mac:3c:ef:8c:a1:07:5d', ip: '198.18.0.35' };
    expect(events).toEqual([
      { type: 'ip-changed', ...base, changes: [{ field: 'ip', before: '198.18.0.34', after: '198.18.0.35' }] },
      { type: 'identity-changed', ...base, changes: [{ field: 'identity.model', before: 'IPC-HDW2431T-AS-S2', after: 'IPC-HDW2431T-AS-S2-0280B' }] },
      { type: 'classification-changed', ...base, changes: [{ field: 'classification.relation', before: 'direct', after: 'oem' }] },
    ]);
  });

  it('reports a MAC learned later as a mac change of the same device', () => {
    const before = axisCamera();
    before.mac = null;
    const events = diffInventories(rescan([before]), rescan([axisCamera()]));
    expect(events).toEqual([
      expect.objectContaining({ type: 'identity-changed', changes: [{ field: 'mac', before: null, after: 'ac:cc:8e:62:30:b4' }] }),
    ]);
  });

  it('reports a linked-vendor change of the classification', () => {
    const axis = axisCamera();
    axis.classification = { linkedVendor: 'hikvision', relation: 'oem', confidence: 0.6 };
    const events = diffInventories(rescan([axisCamera()]), rescan([axis]));
    expect(events.map((e) => e.type)).toEqual(['classification-changed']);
    expect(events[0]?.changes).toEqual([
      { field: 'classification.linkedVendor', before: null, after: 'hikvision' },
      { field: 'classification.relation', before: null, after: 'oem' },
    ]);
  });

  it('does not count a confidence, evidence or vulnerability change as a device change', () => {
    const hik = hikvisionCamera();
    hik.classification.confidence = 0.85;
    hik.evidence.pop();
    hik.vulnerabilities.push({ id: 'CVE-2021-36260' });
    expect(diffInventories(rescan([hikvisionCamera()]), rescan([hik]))).toEqual([]);
  });

  it('reports services as the whole sorted list, ignoring their order in the scan', () => {
    const reordered = hikvisionCamera();
    reordered.services.reverse();
    expect(diffInventories(rescan([hikvisionCamera()]), rescan([reordered]))).toEqual([]);

    const opened = hikvisionCamera();
    opened.services = [{ port: 443, protocol: 'https', banner: null }, ...opened.services.reverse()];
    const [event] = diffInventories(rescan([hikvisionCamera()]), rescan([opened]));
    expect(event?.type).toBe('services-changed');
    expect(event?.changes).toEqual([
      {
        field: 'services',
        before: [
          { port: 80, protocol: 'http', banner: 'App-webs/' },
          { port: 554, protocol: 'rtsp', banner: null },
          { port: 8000, protocol: 'hikvision-sdk', banner: null },
        ],
        after: [
          { port: 80, protocol: 'http', banner: 'App-webs/' },
          { port: 443, protocol: 'https', banner: null },
          { port: 554, protocol: 'rtsp', banner: null },
          { port: 8000, protocol: 'hikvision-sdk', banner: null },
        ],
      },
    ]);
  });

  it('reports a banner change as a services change', () => {
    const dahua = dahuaCamera();
    dahua.services[1] = { port: 554, protocol: 'rtsp', banner: 'Rtsp Server/3.0' };
    const [event] = diffInventories(rescan([dahuaCamera()]), rescan([dahua]));
    expect(event?.type).toBe('services-changed');
    expect(event?.changes?.[0]?.field).toBe('services');
  });

  it('keeps a banner the scan did not read, and the services of a scan that found none (not learned is not a change)', () => {
    const quiet = dahuaCamera();
    quiet.services[1] = { port: 554, protocol: 'rtsp', banner: null };
    expect(diffInventories(rescan([dahuaCamera()]), rescan([quiet]))).toEqual([]);
    const passive = dahuaCamera();
    passive.services = [];
    expect(diffInventories(rescan([dahuaCamera()]), rescan([passive]))).toEqual([]);
  });

  it('reports firmware only as firmware-changed, next to an ip-changed for the address', () => {
    const hik = hikvisionCamera();
    hik.identity.firmware = 'V5.7.15 build 230420';
    hik.ip = '198.18.0.22';
    const events = diffInventories(rescan([hikvisionCamera()]), rescan([hik]));
    expect(events.map((e) => e.type)).toEqual(['firmware-changed', 'ip-changed']);
    expect(events[0]?.changes).toEqual([{ field: 'identity.firmware', before: 'V5.7.3 build 220112', after: 'V5.7.15 build 230420' }]);
    expect(events[1]?.changes).toEqual([{ field: 'ip', before: '198.18.0.21', after: '198.18.0.22' }]);
    expect(events.every((e) => e.ip === '198.18.0.22')).toBe(true);
  });

  it('does not report firmware that could not be read this time (null is not learned, not a change)', () => {
    const hik = hikvisionCamera();
    hik.identity.firmware = null;
    expect(diffInventories(rescan([hikvisionCamera()]), rescan([hik]))).toEqual([]);
  });

  it('treats a device whose id changed as removed plus added', () => {
    const before = axisCamera();
    before.id = 'ip:198.18.0.40';
    before.mac = null;
    const events = diffInventories(rescan([before]), rescan([axisCamera()]));
    expect(events.map((e) => [e.type, e.deviceId])).toEqual([
      ['device-removed', 'ip:198.18.0.40'],
      ['device-added', 'mac:ac:cc:8e:62:30:b4'],
    ]);
  });

  it('orders events by device id, then by kind', () => {
    const events = diffInventories(firstScan(), secondScan());
    const keys = events.map((e) => [e.deviceId, CHANGE_TYPES.indexOf(e.type)] as const);
    const sorted = [...keys].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    expect(keys).toEqual(sorted);
  });

  it('is pure: leaves both inventories untouched and shares no objects with them', () => {
    const previous = firstScan();
    const next = rescan([hikvisionCamera(), dahuaCamera(), axisCamera()]);
    next.devices[0]!.services.push({ port: 443, protocol: 'https', banner: null });
    const events = diffInventories(previous, next);
    expect(previous).toEqual(firstScan());
    const after = events[0]?.changes?.[0]?.after as unknown[];
    after.pop();
    expect(next.devices[0]?.services).toHaveLength(4);
  });

  it('is deterministic: the same inputs give the same events', () => {
    expect(diffInventories(firstScan(), secondScan())).toEqual(diffInventories(firstScan(), secondScan()));
    expect(JSON.stringify(diffInventories(firstScan(), secondScan()))).toBe(
      JSON.stringify(diffInventories(firstScan(), secondScan())),
    );
  });
});
