/**
 * Misaddressed devices in the lab: hikdefault and hikdefault2 (two Hikvision cameras on the one
 * factory default 192.168.1.64/24, SADP; hikdefault also WS-Discovery and ONVIF over IPv6
 * link-local) and dahuadefault (Dahua, factory default 192.168.1.108/24, DHIP) sit on the lab bridge
 * outside its 198.18.0.0/24. From the lab's shared default scan (shared-scan.ts; no scan of its
 * own): each is listed once, at the address it claims, flagged with the subnet it needs, classified
 * as its profile says, never probed at that address (hikdefault is read over IPv6 link-local
 * instead), and counted in the reports (rendered from the shared document).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { linkedVendorNames } from '../../agent/knowledge/index.js';
import { renderFormat, reportFormats } from '../../agent/report/formats.js';
import { summarize } from '../../agent/report/summary.js';
import type { Device, Inventory } from '../../agent/types.js';
import { eui64LinkLocal } from '../lab/sim/profile.js';
import { labProfiles, type LabProfile } from './lab-helpers.js';
import { sharedScan, sharedScanLog } from './shared-scan.js';

/** Evidence only listening can give: an active probe of the device would add tcp/http/onvif/rtsp/tls evidence or services. */
const PASSIVE_SOURCES = new Set(['oui', 'sadp', 'dhip', 'neighbour']);

const misaddressedProfiles = (): LabProfile[] => labProfiles().filter((p) => p.misaddressed !== undefined);

describe('misaddressed devices on the lab bridge (shared scan)', () => {
  let inventory: Inventory;
  beforeAll(() => {
    inventory = sharedScan().inventory;
  });

  it('the lab has them: two Hikvision cameras at 192.168.1.64 and a Dahua at 192.168.1.108', () => {
    expect(misaddressedProfiles().map((p) => [p.name, p.ip, p.truth.linkedVendor])).toEqual([
      ['dahuadefault', '192.168.1.108', 'dahua'],
      ['hikdefault', '192.168.1.64', 'hikvision'],
      ['hikdefault2', '192.168.1.64', 'hikvision'],
    ]);
  });

  it('each is listed once, at the address it claims, flagged with the subnet it needs, its MAC kept, and classified', () => {
    for (const profile of misaddressedProfiles()) {
      const found = inventory.devices.filter((d) => d.mac === profile.mac);
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

  it('two cameras on one factory default stay two devices, each with its own serial and id', () => {
    const atDefault = inventory.devices.filter((d) => d.ip === '192.168.1.64');
    const units = misaddressedProfiles().filter((p) => p.ip === '192.168.1.64');
    expect(atDefault.map((d) => [d.id, d.identity.serial, d.misaddressed?.address])).toEqual(
      units.map((p) => [`mac:${p.mac}`, p.truth.identity?.serial, '192.168.1.64']),
    );
  });

  it('none is probed at the address it claims: those without IPv6 not at all, no service and no evidence but what listening gave', () => {
    for (const profile of misaddressedProfiles().filter((p) => p.ipv6 === undefined)) {
      const device = inventory.devices.find((d) => d.mac === profile.mac) as Device;
      expect(device.services, profile.name).toEqual([]);
      expect(device.evidence.map((e) => e.source).filter((s) => !PASSIVE_SOURCES.has(s)), profile.name).toEqual([]);
    }
  });

  it('one that announced itself over IPv6 link-local is read there: model and firmware from ONVIF, still flagged', () => {
    const profile = misaddressedProfiles().find((p) => p.ipv6 !== undefined) as LabProfile;
    const device = inventory.devices.find((d) => d.mac === profile.mac) as Device;
    const linkLocal = eui64LinkLocal(profile.mac);
    expect([device.ip, device.addresses, device.misaddressed?.address]).toEqual([profile.ip, [profile.ip, linkLocal], profile.ip]);
    // GetDeviceInformation's answer (fingerprints/rules/onvif_device_*.yaml name the fields they matched).
    const onvif = device.evidence.filter((e) => e.source === 'onvif').map((e) => e.detail);
    const info = profile.onvif?.deviceInformation;
    expect(onvif).toEqual(expect.arrayContaining([`onvif.device.manufacturer = ${JSON.stringify(info?.manufacturer)}`, `onvif.device.firmware = ${JSON.stringify(info?.firmwareVersion)}`]));
    expect([device.identity.model, device.identity.firmware]).toEqual([profile.truth.identity?.model, profile.truth.identity?.firmware]);
    expect(device.services.map((s) => s.port)).toContain(80);
    // The device saw the device service asked from the scanner's link-local address, and nothing from any IPv4 address.
    const requests = sharedScanLog(profile.name).split('\n').filter((line) => / from \S+/u.test(line) && /\bPOST \/onvif\/device_service\b/u.test(line));
    expect(requests.some((line) => line.includes('GetDeviceInformation -> 200'))).toBe(true);
    expect(requests.filter((line) => !/ from fe80::ff:fe00:1/u.test(line))).toEqual([]);
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
