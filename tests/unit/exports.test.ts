/**
 * Exports to asset registers (agent/report/exports.ts): the CycloneDX 1.6 hardware BOM validated
 * against the schema of the official @cyclonedx/cyclonedx-library package, and the NetBox import
 * files checked against the fields NetBox's import forms take.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { netboxName, netboxSlug } from '../../agent/report/exports.js';
import { renderFormat, reportFormats } from '../../agent/report/formats.js';
import type { Inventory } from '../../agent/types.js';
import { cyclonedxProblems } from '../support/cyclonedx-schema.js';
import { device, sampleInventory } from './report-fixture.js';
import { secondScan } from './store-contract.js';

const names = new Map([
  ['hikvision', 'Hikvision'],
  ['dahua', 'Dahua'],
]);

const render = (format: string, inventory: Inventory): string => renderFormat(reportFormats, format, inventory, names);

interface Component {
  type: string;
  'bom-ref': string;
  name: string;
  manufacturer?: { name: string };
  supplier?: { name: string };
  components?: Array<{ type: string; version: string }>;
  properties: Array<{ name: string; value: string }>;
}

const prop = (c: Component | undefined, name: string): string[] => (c?.properties ?? []).filter((p) => p.name === `cctv-agent:${name}`).map((p) => p.value);

describe('CycloneDX 1.6 hardware BOM', () => {
  it('validates against the official schema, one device component per device with its maker, model, serial, firmware and verdict', () => {
    for (const inventory of [sampleInventory(), secondScan()]) {
      const bom = JSON.parse(render('cyclonedx', inventory));
      expect(cyclonedxProblems(bom)).toEqual([]);
      expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', metadata: { timestamp: inventory.scan.finishedAt } });
      expect(bom.components).toHaveLength(inventory.devices.length);
    }
    const bom = JSON.parse(render('cyclonedx', sampleInventory()));
    const hik = (bom.components as Component[]).find((c) => c['bom-ref'] === 'ip:198.18.0.10');
    expect(hik).toMatchObject({ type: 'device', name: 'DS-2CD2143G2-I', manufacturer: { name: 'Hikvision' }, supplier: { name: 'Hikvision' }, components: [{ type: 'firmware', version: 'V5.7.3' }] });
    expect(prop(hik, 'serialNumber')).toEqual(['DS-2CD2143G2-I20230101']);
    expect(prop(hik, 'linkedVendor')).toEqual(['hikvision']);
    expect(prop(hik, 'relation')).toEqual(['direct']);
    // Only the CVE that counts (affected), not the one it is past.
    expect(prop(hik, 'cve')).toEqual(['CVE-2021-36260 affected']);
    const lts = (bom.components as Component[]).find((c) => c['bom-ref'] === 'ip:198.18.0.11');
    expect(lts).toMatchObject({ manufacturer: { name: 'Hikvision' }, supplier: { name: 'LTS' } });
    expect(prop(lts, 'verdict')).toEqual(['made by Hikvision, sold as LTS (OEM)']);
    // The same scan, the same BOM.
    expect(render('cyclonedx', sampleInventory())).toBe(render('cyclonedx', sampleInventory()));
  });

  it('the schema check fails a BOM that breaks it', () => {
    const bom = JSON.parse(render('cyclonedx', sampleInventory()));
    bom.components[0].type = 'camera';
    expect(cyclonedxProblems(bom).length).toBeGreaterThan(0);
  });
});

/**
 * The fields of NetBox's import forms (netbox-community/netbox @05cab09e30b7529a056fdc232016fb9983cf8f21:
 * dcim/forms/bulk_import.py DeviceImportForm, ManufacturerImportForm, DeviceTypeImportForm,
 * InterfaceImportForm; ipam/forms/bulk_import.py IPAddressImportForm), and those each requires.
 */
const NETBOX_FORMS: Record<string, { fields: string[]; required: string[] }> = {
  'netbox-manufacturers': { fields: ['name', 'slug', 'description', 'owner', 'comments', 'tags'], required: ['name', 'slug'] },
  'netbox-device-types': { fields: ['manufacturer', 'default_platform', 'model', 'slug', 'part_number', 'u_height', 'is_full_depth', 'airflow', 'description', 'comments', 'tags'], required: ['manufacturer', 'model', 'slug'] },
  netbox: {
    fields: ['name', 'role', 'tenant', 'manufacturer', 'device_type', 'platform', 'serial', 'asset_tag', 'status', 'site', 'location', 'rack', 'position', 'face', 'latitude', 'longitude', 'parent', 'device_bay', 'airflow', 'cooling_method', 'virtual_chassis', 'vc_position', 'vc_priority', 'cluster', 'description', 'config_template', 'owner', 'comments', 'tags'],
    required: ['role', 'manufacturer', 'device_type', 'site', 'status'],
  },
  'netbox-interfaces': { fields: ['device', 'name', 'label', 'type', 'enabled', 'description', 'tags'], required: ['device', 'name', 'type'] },
  'netbox-ips': { fields: ['address', 'vrf', 'tenant', 'status', 'role', 'device', 'virtual_machine', 'interface', 'fhrp_group', 'is_primary', 'is_oob', 'dns_name', 'description', 'owner', 'comments', 'tags'], required: ['address', 'status'] },
};

describe('NetBox import files', () => {
  const inventory = sampleInventory();
  const csv = (format: string): Array<Record<string, string>> => {
    const text = render(format, inventory);
    expect(text.charCodeAt(0)).not.toBe(0xfeff); // no byte order mark
    return parse(text, { columns: true }) as Array<Record<string, string>>;
  };

  it.each(Object.entries(NETBOX_FORMS))('%s has only columns NetBox\'s import form takes, its required ones included', (format, form) => {
    const header = Object.keys(csv(format)[0] ?? {});
    expect(header.filter((c) => !form.fields.includes(c))).toEqual([]);
    expect(form.required.filter((c) => !header.includes(c))).toEqual([]);
  });

  it('lists every device with site, manufacturer, device type, serial, and its address as the primary IP of its interface', () => {
    const devices = csv('netbox');
    expect(devices).toHaveLength(inventory.devices.length);
    expect(devices[0]).toMatchObject({ name: 'ip:198.18.0.10', role: 'CCTV', manufacturer: 'Hikvision', device_type: 'DS-2CD2143G2-I', site: 'town-hall', status: 'active', serial: 'DS-2CD2143G2-I20230101' });
    expect(devices.at(-1)).toMatchObject({ manufacturer: 'Unknown', device_type: 'Unknown model' });
    const typesOf = new Set(csv('netbox-device-types').map((t) => `${t.manufacturer}/${t.model}`));
    const makers = new Set(csv('netbox-manufacturers').map((m) => m.name));
    for (const d of devices) {
      expect(typesOf).toContain(`${d.manufacturer}/${d.device_type}`);
      expect(makers).toContain(d.manufacturer);
    }
    const ips = csv('netbox-ips');
    expect(ips[0]).toEqual({ address: '198.18.0.10/32', status: 'active', device: 'ip:198.18.0.10', interface: 'eth0', is_primary: 'true', description: 'cctv-agent ip:198.18.0.10' });
    const interfaces = new Set(csv('netbox-interfaces').map((i) => `${i.device}/${i.name}`));
    for (const ip of ips) expect(interfaces).toContain(`${ip.device}/${ip.interface}`);
    for (const t of csv('netbox-device-types')) expect(t.slug).toMatch(/^[-a-zA-Z0-9_]+$/);
  });

  it('keeps names and slugs within NetBox\'s limits', () => {
    const long = device('198.18.0.99', { id: `serial:${'X'.repeat(80)}` });
    expect(netboxName(long)).toHaveLength(64);
    expect(netboxName(long)).not.toBe(netboxName(device('198.18.0.98', { id: `serial:${'X'.repeat(79)}Y` })));
    expect(netboxSlug('Hikvision / DS-2CD2143G2-I')).toBe('hikvision-ds-2cd2143g2-i');
    expect(netboxSlug('漢字')).toBe('unknown');
  });
});
