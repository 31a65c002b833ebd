/**
 * The crowd (issue 10): CROWD_SIZE devices (default 1000) with their own MACs on a /22 and a
 * proxy-ARP segment behind one MAC (scripts/lab.sh crowd-up), scanned at default settings from the
 * crowd's scanner namespace. Every address must come back as exactly one device, classified as the
 * profile it was copied from says, with its own MAC, or flagged as sharing the segment's MAC.
 * Opt-in (not in CI: a scan of a thousand devices): `sudo LAB_ID=x npm run test:crowd`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrowdPlan } from '../lab/sim/crowd.js';
import type { Device, Inventory } from '../../agent/types.js';
import { addressRuns, crowdDown, crowdPlan, crowdUp, scanCrowd } from '../lab/bench/crowd-lab.js';

const CROWD_SIZE = Number(process.env.CROWD_SIZE ?? 1000);

describe(`a crowd of ${CROWD_SIZE} devices and a proxy-ARP segment`, () => {
  let plan: CrowdPlan;
  let inventory: Inventory;
  let stderr: string;
  const deviceAt = new Map<string, Device[]>();

  beforeAll(async () => {
    await crowdUp(CROWD_SIZE);
    plan = crowdPlan();
    ({ inventory, stderr } = await scanCrowd(addressRuns(plan.devices.map((d) => d.ip))));
    for (const device of inventory.devices) {
      for (const address of device.addresses ?? [device.ip]) deviceAt.set(address, [...(deviceAt.get(address) ?? []), device]);
    }
  });
  afterAll(async () => {
    await crowdDown();
  });

  it('reports every address as exactly one device, and no device holding two addresses', () => {
    const missing = plan.devices.filter((d) => !deviceAt.has(d.ip)).map((d) => `${d.ip} (${d.template})`);
    const twice = plan.devices.filter((d) => (deviceAt.get(d.ip)?.length ?? 0) > 1).map((d) => d.ip);
    const merged = inventory.devices.filter((d) => (d.addresses?.length ?? 1) > 1).map((d) => d.addresses?.join('+'));
    expect({ missing, twice, merged }).toEqual({ missing: [], twice: [], merged: [] });
    expect(inventory.devices).toHaveLength(plan.devices.length);
  });

  it("records each device's own MAC, and the proxy-ARP segment's MAC as shared", () => {
    const wrong = plan.devices.flatMap((d) => {
      const found = deviceAt.get(d.ip)?.[0];
      const got = { mac: found?.mac ?? null, macShared: found?.macShared === true };
      return got.mac === d.mac && got.macShared === d.macShared ? [] : [{ ip: d.ip, want: { mac: d.mac, macShared: d.macShared }, got }];
    });
    expect(wrong).toEqual([]);
  });

  it('classifies each device as its profile says (linked vendor and relation; model and serial of cameras and NVRs)', () => {
    const wrong = plan.devices.flatMap((d) => {
      const found = deviceAt.get(d.ip)?.[0];
      if (!found) return [];
      const identifies = d.kind === 'camera' || d.kind === 'nvr';
      const want = { linkedVendor: d.truth.linkedVendor, relation: d.truth.relation, ...(identifies ? { model: d.truth.model, serial: d.truth.serial } : {}) };
      const got = {
        linkedVendor: found.classification.linkedVendor,
        relation: found.classification.relation,
        ...(identifies ? { model: found.identity.model, serial: found.identity.serial } : {}),
      };
      return JSON.stringify(got) === JSON.stringify(want) ? [] : [{ ip: d.ip, template: d.template, want, got }];
    });
    expect(wrong).toEqual([]);
  });

  it('tells the operator when more hosts answered on the link than the scan may hold in the neighbour table, unless it gave entries back', () => {
    const lines = stderr.split('\n').flatMap((line): Array<Record<string, unknown>> => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const discovery = lines.find((l) => l.msg === 'host discovery finished');
    const warned = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('more hosts answered on the link'));
    expect(discovery?.live).toBe(plan.devices.length);
    const budget = discovery?.neighbourBudget as number;
    // A scan that gives its entries back (CAP_NET_ADMIN) frees answered places at once: nobody waits rounds.
    const givesBack = (lines.find((l) => l.msg === 'scan started')?.neighbourTable as { givesBack?: boolean } | undefined)?.givesBack;
    expect(typeof givesBack).toBe('boolean');
    const waitedRounds = plan.devices.length > budget && givesBack === false;
    expect(warned).toEqual(waitedRounds ? [expect.objectContaining({ live: plan.devices.length, neighbourBudget: budget })] : []);
  });
});
