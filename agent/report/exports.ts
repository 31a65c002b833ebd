/**
 * A scan for asset registers: a CycloneDX 1.6 hardware bill of materials, and CSV files for
 * NetBox's bulk import (`report --format cyclonedx | netbox-manufacturers | netbox-device-types |
 * netbox | netbox-interfaces | netbox-ips`).
 *
 * CycloneDX 1.6 (https://cyclonedx.org/docs/1.6/json/): one component of type `device` a device —
 * name its model, `manufacturer` who made it, `supplier` the brand it is sold as, a nested
 * `firmware` component whose version is the firmware, and properties (namespace `cctv-agent:`) for
 * the serial, addresses, the linked-vendor verdict and the CVEs that count. Identical scans give an
 * identical BOM: its serialNumber is derived from the site and scan id.
 *
 * NetBox (netbox-community/netbox netbox/dcim/forms/bulk_import.py and ipam/forms/bulk_import.py
 * @05cab09e30b7529a056fdc232016fb9983cf8f21): a device's import form takes name, role,
 * manufacturer, device_type, site, status, serial, description, comments, but no primary IP; an IP
 * address becomes a device's primary one through the IP address import (`device`, `interface`,
 * `is_primary`), which needs the interface to exist (interface import: device, name, type). So the
 * NetBox export is five CSV files, imported in order (README, "Exports to asset registers").
 * No byte order mark: NetBox would read it as part of the first column's name.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import { agentVersion } from '../paths.js';
import { jsonSafe } from '../safe-text.js';
import type { Device, Inventory } from '../types.js';
import { csvCell } from './csv.js';
import { cveLabel, evidenceSummary, flaggedCves, plainVerdict, type LinkedVendorNames } from './summary.js';

export const CYCLONEDX_SPEC_VERSION = '1.6';
const PROPERTY_PREFIX = 'cctv-agent:';

/** A UUID (RFC 9562 layout, version 8: custom) from a digest of `text`, so the same scan always gets the same BOM serial. */
function uuidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function property(name: string, value: string | null | undefined): Array<{ name: string; value: string }> {
  return value === null || value === undefined || value === '' ? [] : [{ name: `${PROPERTY_PREFIX}${name}`, value }];
}

function hbomComponent(d: Device, names: LinkedVendorNames): Record<string, unknown> {
  const { identity, classification } = d;
  const component: Record<string, unknown> = {
    type: 'device',
    'bom-ref': d.id,
    name: identity.model ?? identity.deviceType ?? `device at ${d.ip}`,
  };
  if (identity.manufacturer) component.manufacturer = { name: identity.manufacturer };
  if (identity.brand) component.supplier = { name: identity.brand };
  component.description = plainVerdict(d, names);
  if (identity.firmware) component.components = [{ type: 'firmware', 'bom-ref': `${d.id}#firmware`, name: `${identity.model ?? 'device'} firmware`, version: identity.firmware }];
  component.properties = [
    ...property('serialNumber', identity.serial),
    ...property('deviceType', identity.deviceType),
    ...property('ip', d.ip),
    ...(d.addresses ?? []).filter((a) => a !== d.ip).flatMap((a) => property('ip', a)),
    ...property('mac', d.mac),
    ...property('linkedVendor', classification.linkedVendor ?? 'none'),
    ...property('relation', classification.relation ?? 'none'),
    ...property('confidence', classification.confidence.toFixed(2)),
    ...property('verdict', plainVerdict(d, names)),
    ...flaggedCves(d).flatMap((v) => property('cve', cveLabel(v))),
  ];
  return component;
}

/** The scan as a CycloneDX 1.6 hardware BOM (JSON). */
export function cyclonedxHbom(inventory: Inventory, names: LinkedVendorNames): string {
  const { scan } = inventory;
  const bom = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC_VERSION,
    serialNumber: `urn:uuid:${uuidFrom(`${scan.site}/${scan.id}`)}`,
    version: 1,
    metadata: {
      timestamp: scan.finishedAt,
      lifecycles: [{ phase: 'operations' }],
      tools: { components: [{ type: 'application', name: 'cctv-agent', version: agentVersion() }] },
      properties: [...property('site', scan.site), ...property('scanId', scan.id), ...property('scanStartedAt', scan.startedAt)],
    },
    components: inventory.devices.map((d) => hbomComponent(d, names)),
  };
  // As every JSON output: raw values, control and bidirectional characters written as JSON escapes.
  return `${jsonSafe(JSON.stringify(bom, null, 2))}\n`;
}

// ---- NetBox ---------------------------------------------------------------------------------

/** The device role every exported device gets; create it in NetBox first (README). */
export const NETBOX_ROLE = 'CCTV';
/** The interface the primary IP is assigned to: one a device, its type unknown to a network scan. */
export const NETBOX_INTERFACE = 'eth0';
const UNKNOWN_MAKER = 'Unknown';
const UNKNOWN_MODEL = 'Unknown model';
/** NetBox's field lengths (dcim/models): device name 64, description 200, slug 100. */
const NAME_MAX = 64;
const DESCRIPTION_MAX = 200;
const SLUG_MAX = 100;

const maker = (d: Device): string => d.identity.manufacturer ?? d.identity.brand ?? UNKNOWN_MAKER;
const model = (d: Device): string => d.identity.model ?? UNKNOWN_MODEL;

/** A NetBox slug (^[-a-zA-Z0-9_]+$): lowercase, every other run of characters one dash. */
export function netboxSlug(text: string): string {
  const slug = text.toLowerCase().replace(/[^a-z0-9_]+/g, '-').replace(/^-+|-+$/g, '').slice(0, SLUG_MAX);
  return slug === '' ? 'unknown' : slug;
}

/** The device's NetBox name: its agent id (stable across scans), shortened with a digest when longer than NetBox allows. */
export function netboxName(d: Device): string {
  if (d.id.length <= NAME_MAX) return d.id;
  return `${d.id.slice(0, NAME_MAX - 9)}-${createHash('sha256').update(d.id).digest('hex').slice(0, 8)}`;
}

function netboxCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return stringify([header, ...rows.map((r) => r.map(csvCell))], { record_delimiter: 'unix' });
}

const unique = <T>(rows: T[], key: (row: T) => string): T[] => [...new Map(rows.map((r) => [key(r), r])).values()];

export function netboxManufacturersCsv(inventory: Inventory): string {
  const makers = unique(inventory.devices.map(maker), (m) => m).sort();
  return netboxCsv(['name', 'slug'], makers.map((m) => [m, netboxSlug(m)]));
}

export function netboxDeviceTypesCsv(inventory: Inventory): string {
  const types = unique(inventory.devices.map((d) => [maker(d), model(d)] as const), ([m, t]) => `${m}\n${t}`).sort();
  return netboxCsv(['manufacturer', 'model', 'slug'], types.map(([m, t]) => [m, t, netboxSlug(`${m}-${t}`)]));
}

export function netboxDevicesCsv(inventory: Inventory, names: LinkedVendorNames): string {
  const header = ['name', 'role', 'manufacturer', 'device_type', 'site', 'status', 'serial', 'description', 'comments'];
  const rows = inventory.devices.map((d) => [
    netboxName(d),
    NETBOX_ROLE,
    maker(d),
    model(d),
    inventory.scan.site,
    'active',
    d.identity.serial ?? '',
    plainVerdict(d, names).slice(0, DESCRIPTION_MAX),
    [`Found by cctv-agent scan ${inventory.scan.id} at ${d.ip}.`, d.vulnerabilities.length ? `CVEs: ${d.vulnerabilities.map(cveLabel).join('; ')}.` : '', `Evidence: ${evidenceSummary(d)}`]
      .filter(Boolean)
      .join(' '),
  ]);
  return netboxCsv(header, rows);
}

export function netboxInterfacesCsv(inventory: Inventory): string {
  return netboxCsv(['device', 'name', 'type'], inventory.devices.map((d) => [netboxName(d), NETBOX_INTERFACE, 'other']));
}

/** Each device's address (with a host prefix: the scan does not know the subnet) as its primary IP. */
export function netboxIpsCsv(inventory: Inventory): string {
  return netboxCsv(
    ['address', 'status', 'device', 'interface', 'is_primary', 'description'],
    inventory.devices.map((d) => [`${d.ip}/${d.ip.includes(':') ? 128 : 32}`, 'active', netboxName(d), NETBOX_INTERFACE, 'true', `cctv-agent ${d.id}`]),
  );
}
