/**
 * Misaddressed devices in the lab: hikdefault (Hikvision, factory default 192.168.1.64/24, SADP)
 * and dahuadefault (Dahua, factory default 192.168.1.108/24, DHIP) sit on the lab bridge outside
 * its 198.18.0.0/24. From the lab's shared default scan (shared-scan.ts; no scan of its own): each
 * is listed once, at the address it claims, flagged with the subnet it needs, classified as its
 * profile says, never probed, and counted in the reports (rendered from the shared document).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { linkedVendorNames } from '../../agent/knowledge/index.js';
import { renderFormat, reportFormats } from '../../agent/report/formats.js';
import { summarize } from '../../agent/report/summary.js';
import type { Device, Inventory } from '../../agent/types.js';
import { labProfiles, type LabProfile } from './lab-helpers.js';
import { sharedScan } from './shared-scan.js';

/** Evidence only listening can give: an active probe of the device would add tcp/http/onvif/rtsp/tls evidence or services. */
const PASSIVE_SOURCES = new Set(['oui', 'sadp', 'dhip', 'neighbour']);

const misaddressedProfiles = (): LabProfile[] => labProfiles().filter((p) => p.misaddressed !== undefined);

describe('misaddressed devices on the lab bridge (shared scan)', () => {
  let inventory: Inventory;
  beforeAll(() => {
    inventory = sharedScan().inventory;
  });

  it('the lab has them: a Hikvision at 192.168.1.64 and a Dahua at 192.168.1.108', () => {
    expect(misaddressedProfiles().map((p) => [p.name, p.ip, p.truth.linkedVendor])).toEqual([
      ['dahuadefault', '192.168.1.108', 'dahua'],
      ['hikdefault', '192.168.1.64', 'hikvision'],
    ]);
  });

  it('each is listed once, at the address it claims, flagged with the subnet it needs, its MAC kept, and classified', () => {
    for (const profile of misaddressedProfiles()) {
      const found = inventory.devices.filter((d) => d.ip === profile.ip || d.mac === profile.mac || d.addresses?.includes(profile.ip));
      expect(found, profile.name).toHaveLength(1);
      const device = found[0] as Device;
      expect({ name: profile.name, ip: device.ip, mac: device.mac, id: device.id, misaddressed: device.misaddressed }).toEqual({
        name: profile.name,
        ip: profile.ip,
        mac: profile.mac,
        id: `mac:${profile.mac}`,
        misaddressed: { address: profile.ip, subnet: profile.misaddressed?.subnet, gateway: profile.misaddressed?.gateway },
      });
      expect([profile.name, device.classification.linkedVendor, device.classification.relation, device.identity.serial]).toEqual([
        profile.name,
        profile.truth.linkedVendor,
        profile.truth.relation,
        profile.truth.identity?.serial,
      ]);
    }
  });

  it('none is probed: no service, and no evidence but what listening gave', () => {
    for (const profile of misaddressedProfiles()) {
      const device = inventory.devices.find((d) => d.ip === profile.ip) as Device;
      expect(device.services, profile.name).toEqual([]);
      expect(device.evidence.map((e) => e.source).filter((s) => !PASSIVE_SOURCES.has(s)), profile.name).toEqual([]);
    }
  });

  it('every other device is on the lab subnet and unflagged', () => {
    const flagged = inventory.devices.filter((d) => d.misaddressed).map((d) => d.ip);
    expect(flagged.sort()).toEqual(misaddressedProfiles().map((p) => p.ip).sort());
  });

  it('the reports count them: summary, table, CSV and HTML', () => {
    const names = linkedVendorNames();
    const count = misaddressedProfiles().length;
    expect(summarize(inventory, names).misaddressed).toBe(count);
    const render = (format: string): string => renderFormat(reportFormats, format, inventory, names, null);
    expect(render('table')).toContain(`${count} device(s) on this segment that IPv4 cannot reach`);
    expect(render('csv')).toContain('needs 192.168.1.0/24');
    expect(render('html')).toMatch(new RegExp(`<tr data-count="misaddressed"><th scope="row">On this segment, IPv4 cannot reach</th><td>${count}</td></tr>`));
  });
});
