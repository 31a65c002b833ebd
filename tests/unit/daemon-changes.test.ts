import { describe, expect, it } from 'vitest';
import { CHANGE_TYPES, computeSiteChanges, type SiteState } from '../../agent/pipeline/changes.js';
import type { Device, Inventory } from '../../agent/types.js';
import { axisCamera, dahuaCamera, hikvisionCamera, inventory, SITE } from './store-contract.js';

let sweepNo = 0;
function sweep(devices: Device[]): Inventory {
  sweepNo += 1;
  const n = String(sweepNo).padStart(2, '0');
  return inventory({ id: `20260301T0800${n}Z-aaaaaa`, startedAt: `2026-03-01T08:00:${n}.000Z`, finishedAt: `2026-03-01T08:00:${n}.500Z`, devices });
}

/** Runs sweeps in order through computeSiteChanges, carrying the state, and returns each sweep's event kinds per device. */
function run(sweeps: Device[][], removeAfterMissedSweeps = 3): { events: string[][]; state: SiteState | null } {
  let state: SiteState | null = null;
  const events: string[][] = [];
  for (const devices of sweeps) {
    const out = computeSiteChanges(state, sweep(devices), { removeAfterMissedSweeps });
    events.push(out.events.map((e) => `${e.type} ${e.deviceId}`));
    state = JSON.parse(JSON.stringify(out.state)) as SiteState; // as the daemon persists it
  }
  return { events, state };
}

const HIK = hikvisionCamera().id;
const DAHUA = dahuaCamera().id;

describe('computeSiteChanges', () => {
  it('adds every device of a first sweep and nothing when the next sweep sees the same', () => {
    const { events, state } = run([
      [hikvisionCamera(), dahuaCamera()],
      [dahuaCamera(), hikvisionCamera()],
    ]);
    expect(events).toEqual([[`device-added ${DAHUA}`, `device-added ${HIK}`], []]);
    expect(Object.keys(state?.devices ?? {}).sort()).toEqual([DAHUA, HIK].sort());
    expect(state).toMatchObject({ schema: 'cctv-agent/site-state/v1', site: SITE });
  });

  it('reports a device removed only after N consecutive missed sweeps, and counts misses in the state', () => {
    const both = [hikvisionCamera(), dahuaCamera()];
    const hikOnly = [hikvisionCamera()];
    const { events, state } = run([both, hikOnly, hikOnly, hikOnly, hikOnly], 3);
    expect(events).toEqual([[`device-added ${DAHUA}`, `device-added ${HIK}`], [], [], [`device-removed ${DAHUA}`], []]);
    expect(state?.devices[DAHUA]).toBeUndefined();
  });

  it('does not flap: a device that misses fewer than N sweeps and returns raises no event and its miss count resets', () => {
    const both = [hikvisionCamera(), dahuaCamera()];
    const hikOnly = [hikvisionCamera()];
    const result = run([both, hikOnly, hikOnly, both, hikOnly, hikOnly], 3);
    expect(result.events.slice(1)).toEqual([[], [], [], [], []]);
    expect(result.state?.devices[DAHUA]?.missedSweeps).toBe(2);
  });

  it('removes at the first miss when N is 1, and adds a removed device again when it returns', () => {
    const { events } = run([[hikvisionCamera(), dahuaCamera()], [hikvisionCamera()], [hikvisionCamera(), dahuaCamera()]], 1);
    expect(events[1]).toEqual([`device-removed ${DAHUA}`]);
    expect(events[2]).toEqual([`device-added ${DAHUA}`]);
  });

  it('gives a removed device its last known address', () => {
    const first = computeSiteChanges(null, sweep([hikvisionCamera(), dahuaCamera()]), { removeAfterMissedSweeps: 1 });
    const second = computeSiteChanges(first.state, sweep([hikvisionCamera()]), { removeAfterMissedSweeps: 1 });
    expect(second.events).toEqual([expect.objectContaining({ type: 'device-removed', deviceId: DAHUA, ip: '198.18.0.34', site: SITE })]);
  });

  it('reports ip, firmware, identity and classification changes as their own events with before and after', () => {
    const first = computeSiteChanges(null, sweep([hikvisionCamera()]), { removeAfterMissedSweeps: 3 });
    const hik = hikvisionCamera();
    hik.ip = '198.18.0.22';
    hik.identity.firmware = 'V5.7.15 build 230301';
    hik.identity.brand = 'LTS';
    hik.classification = { linkedVendor: 'hikvision', relation: 'oem', confidence: 0.9 };
    const next = sweep([hik]);
    const { events } = computeSiteChanges(first.state, next, { removeAfterMissedSweeps: 3 });
    const base = { at: next.scan.finishedAt, site: SITE, scanId: next.scan.id, deviceId: HIK, ip: '198.18.0.22' };
    expect(events).toEqual([
      { type: 'firmware-changed', ...base, changes: [{ field: 'identity.firmware', before: 'V5.7.3 build 220112', after: 'V5.7.15 build 230301' }] },
      { type: 'ip-changed', ...base, changes: [{ field: 'ip', before: '198.18.0.21', after: '198.18.0.22' }] },
      { type: 'identity-changed', ...base, changes: [{ field: 'identity.brand', before: 'Hikvision', after: 'LTS' }] },
      { type: 'classification-changed', ...base, changes: [{ field: 'classification.relation', before: 'direct', after: 'oem' }] },
    ]);
    expect(events.map((e) => CHANGE_TYPES.indexOf(e.type))).toEqual([...events.map((e) => CHANGE_TYPES.indexOf(e.type))].sort((a, b) => a - b));
  });

  it('keeps an identity value a sweep did not learn (probe silent) instead of reporting a change, and reports it when it really changes', () => {
    const first = computeSiteChanges(null, sweep([dahuaCamera()]), { removeAfterMissedSweeps: 3 });
    const silent = dahuaCamera();
    silent.identity.firmware = null;
    silent.identity.model = null;
    const second = computeSiteChanges(first.state, sweep([silent]), { removeAfterMissedSweeps: 3 });
    expect(second.events).toEqual([]);
    expect(second.state.devices[DAHUA]?.identity.firmware).toBe(dahuaCamera().identity.firmware);
    const upgraded = dahuaCamera();
    upgraded.identity.firmware = 'V2.840.0000000.99.R';
    const third = computeSiteChanges(second.state, sweep([upgraded]), { removeAfterMissedSweeps: 3 });
    expect(third.events.map((e) => e.type)).toEqual(['firmware-changed']);
    expect(third.events[0]?.changes).toEqual([{ field: 'identity.firmware', before: dahuaCamera().identity.firmware, after: 'V2.840.0000000.99.R' }]);
  });

  it('reports a classification that goes away (linked vendor to null) as a change', () => {
    const first = computeSiteChanges(null, sweep([axisCamera(), dahuaCamera()]), { removeAfterMissedSweeps: 3 });
    const dahua = dahuaCamera();
    dahua.classification = { linkedVendor: null, relation: null, confidence: 0.2 };
    const { events } = computeSiteChanges(first.state, sweep([axisCamera(), dahua]), { removeAfterMissedSweeps: 3 });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'classification-changed',
        deviceId: DAHUA,
        changes: [
          { field: 'classification.linkedVendor', before: 'dahua', after: null },
          { field: 'classification.relation', before: 'direct', after: null },
        ],
      }),
    ]);
  });

  it('does not change the state it was given (pure)', () => {
    const first = computeSiteChanges(null, sweep([hikvisionCamera(), dahuaCamera()]), { removeAfterMissedSweeps: 3 });
    const snapshot = JSON.stringify(first.state);
    computeSiteChanges(first.state, sweep([]), { removeAfterMissedSweeps: 3 });
    expect(JSON.stringify(first.state)).toBe(snapshot);
  });
});
