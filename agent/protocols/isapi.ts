/**
 * Hikvision ISAPI `GET /ISAPI/System/deviceInfo` (pure: no I/O). The answer is an XML `DeviceInfo`
 * document, e.g. (maciej-or/hikvision_next issue #58, a DS-2CD2366G2-ISU/SL camera):
 *   <DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
 *     <deviceName>…</deviceName><model>DS-2CD2366G2-ISU/SL</model>
 *     <serialNumber>DS-2CD2366G2-ISU/SL20210726AAWRG41390691</serialNumber>
 *     <macAddress>44:a6:42:46:67:24</macAddress><firmwareVersion>V5.7.13</firmwareVersion>
 *     <firmwareReleasedDate>build 230504</firmwareReleasedDate><deviceType>IPCamera</deviceType>
 *     <manufacturer>hikvision</manufacturer>…
 *   </DeviceInfo>
 * Newer firmware and OEM builds use other namespaces (`http://www.isapi.org/ver20/XMLSchema`,
 * issue #196 there; `http://www.std-cgi.com/ver20/XMLSchema`, CamioCam/rtsp issue #123), which is
 * why the namespace is reported as a field of its own, for the rules to read.
 *
 * Refusals come as a `userCheck` document (hikvision_next issue #50) or, on other ISAPI errors, a
 * `ResponseStatus` one: either shows the port speaks ISAPI at all.
 *
 * The XML goes through agent/protocols/xml.ts: size-capped, no DTD, no entity expansion.
 */
import { leafElements, parseUntrustedXml, xmlRoot } from './xml.js';
import { cleanDeviceFields } from '../safe-text.js';
import type { Fields } from '../types.js';

/** The identity page every ISAPI device serves (Hikvision ISAPI, System/deviceInfo). */
export const ISAPI_DEVICE_INFO_PATH = '/ISAPI/System/deviceInfo';
/** A DeviceInfo document is about 1.5 KiB; 64 KiB leaves room for the longest while bounding a hostile one. */
export const ISAPI_MAX_RESPONSE_BYTES = 64 * 1024;
/** The longest value kept from one element; longer ones are not identity data. */
const MAX_VALUE_LENGTH = 128;
/** The root start tag's default namespace, read from the raw text (the parser drops xmlns attributes). */
const ROOT_NAMESPACE = /^\s*(?:<\?xml[^>]{0,200}\?>\s*)?<(?:[A-Za-z_][\w.-]{0,40}:)?DeviceInfo\b[^>]{0,400}?\sxmlns\s*=\s*["']([^"'<>\s]{1,200})["']/;

/** DeviceInfo elements → observation fields. */
const DEVICE_INFO_FIELDS: Readonly<Record<string, string>> = {
  model: 'isapi.model',
  serialNumber: 'isapi.serial',
  macAddress: 'isapi.mac',
  deviceType: 'isapi.deviceType',
  manufacturer: 'isapi.manufacturer',
  OEMCode: 'isapi.oemCode',
  subSerialNumber: 'isapi.subSerial',
};

/** Root elements an ISAPI server answers with: identity, a login refusal, or an error status. */
const ISAPI_ROOTS = new Set(['DeviceInfo', 'userCheck', 'ResponseStatus']);

/** A value worth keeping: non-empty, short. */
function usable(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value.length <= MAX_VALUE_LENGTH;
}

/**
 * The identity fields of a DeviceInfo answer, or null when the body is not one (not XML, another
 * root, over the size cap). The firmware is `firmwareVersion` and `firmwareReleasedDate` joined as
 * the device's ONVIF answer writes it (`V5.7.13 build 230504`); the namespace URI, when declared,
 * is `isapi.namespace`. Values are cleaned of control characters (agent/safe-text.ts). Never throws.
 */
export function parseIsapiDeviceInfo(body: Buffer | string): Fields | null {
  const text = typeof body === 'string' ? body.slice(0, 1024) : body.subarray(0, 1024).toString('utf8');
  // Cheap test first: the HTTP probe hands every page here, and web pages are not XML.
  if (!text.includes('DeviceInfo')) return null;
  const root = xmlRoot(parseUntrustedXml(body, ISAPI_MAX_RESPONSE_BYTES));
  if (root?.name !== 'DeviceInfo') return null;
  const leaves = leafElements(root);
  const fields: Fields = {};
  for (const [element, field] of Object.entries(DEVICE_INFO_FIELDS)) {
    const value = leaves[element];
    if (usable(value)) fields[field] = value;
  }
  const version = leaves.firmwareVersion;
  if (usable(version)) {
    const released = leaves.firmwareReleasedDate;
    fields['isapi.firmware'] = usable(released) ? `${version} ${released}` : version;
  }
  const namespace = ROOT_NAMESPACE.exec(text)?.[1];
  if (namespace !== undefined) fields['isapi.namespace'] = namespace;
  // Device text reaches terminals and spreadsheets: control characters are cleaned here, and the fact recorded.
  return cleanDeviceFields(fields);
}

/** True when the body is an ISAPI document (DeviceInfo, userCheck or ResponseStatus): the port speaks ISAPI. */
export function isIsapiAnswer(body: Buffer | string): boolean {
  const root = xmlRoot(parseUntrustedXml(body, ISAPI_MAX_RESPONSE_BYTES));
  return root !== null && ISAPI_ROOTS.has(root.name);
}
