/**
 * ONVIF device-service codec (pure): SOAP 1.2 request envelopes and response parsing for the
 * read-only calls the agent makes (ONVIF Core Specification §8). GetSystemDateAndTime "shall" be
 * answered unauthenticated (§5.9.4); GetDeviceInformation, GetNetworkInterfaces and GetScopes are
 * READ_SYSTEM, which many devices protect and some answer openly. A request may carry a
 * WS-Security header (ws-security.ts) when the operator supplied credentials.
 */
import type { Fields } from '../types.js';
import { cleanDeviceFields } from '../safe-text.js';
import { parseUntrustedXml, xmlAttr, xmlChild, xmlChildren, xmlText, type XmlNode } from './xml.js';

/** A device-information or time answer is a few KiB; cap what we read. */
export const ONVIF_MAX_RESPONSE_BYTES = 256 * 1024;

const NS_DEVICE = 'http://www.onvif.org/ver10/device/wsdl';

export type DeviceCall = 'GetSystemDateAndTime' | 'GetDeviceInformation' | 'GetNetworkInterfaces' | 'GetScopes';

/** The SOAP action URI of a call (the operation's wsdl:input action in devicemgmt.wsdl). */
export function deviceAction(call: DeviceCall): string {
  return `${NS_DEVICE}/${call}`;
}

/** A request envelope; `securityHeader` (a wsse:Security block) goes into the SOAP Header. */
export function buildDeviceRequest(call: DeviceCall, securityHeader?: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="${NS_DEVICE}">` +
    (securityHeader ? `<s:Header>${securityHeader}</s:Header>` : '') +
    `<s:Body><tds:${call}/></s:Body></s:Envelope>`
  );
}

export type SoapOutcome =
  | { kind: 'response'; body: XmlNode }
  | { kind: 'fault'; code: string | null; subcodes: string[]; reason: string | null }
  | { kind: 'malformed' };

/** Splits a SOAP 1.2 envelope into its response body or its Fault (SOAP 1.2 Part 1 §5.4). */
export function parseSoapEnvelope(bytes: Buffer | string): SoapOutcome {
  const body = xmlChild(xmlChild(parseUntrustedXml(bytes, ONVIF_MAX_RESPONSE_BYTES), 'Envelope'), 'Body');
  if (!body) return { kind: 'malformed' };
  const fault = xmlChild(body, 'Fault');
  if (!fault) return { kind: 'response', body };
  const code = xmlChild(fault, 'Code');
  const subcodes: string[] = [];
  for (let sub = xmlChild(code, 'Subcode'); sub; sub = xmlChild(sub, 'Subcode')) {
    const value = xmlText(xmlChild(sub, 'Value'))?.trim();
    if (value) subcodes.push(value);
  }
  return {
    kind: 'fault',
    code: xmlText(xmlChild(code, 'Value'))?.trim() ?? null,
    subcodes,
    reason: xmlText(xmlChild(xmlChild(fault, 'Reason'), 'Text'))?.trim() ?? null,
  };
}

/** ONVIF Core §5.11.2.1: `ter:NotAuthorized` is the fault for a call that needs credentials. */
export function isNotAuthorizedFault(outcome: SoapOutcome): boolean {
  return outcome.kind === 'fault' && outcome.subcodes.some((s) => /(^|:)NotAuthorized$/.test(s));
}

function text(node: XmlNode | null, name: string): string | null {
  const value = xmlText(xmlChild(node, name))?.trim();
  return value ? value : null;
}

function defined(entries: Record<string, string | null>): Fields {
  return Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => e[1] !== null));
}

/** GetDeviceInformationResponse → `onvif.device.*` fields; null when the body is not one. */
export function parseDeviceInformation(body: XmlNode): Fields | null {
  const info = xmlChild(body, 'GetDeviceInformationResponse');
  if (!info) return null;
  return cleanDeviceFields(defined({
    'onvif.device.manufacturer': text(info, 'Manufacturer'),
    'onvif.device.model': text(info, 'Model'),
    'onvif.device.firmware': text(info, 'FirmwareVersion'),
    'onvif.device.serial': text(info, 'SerialNumber'),
    'onvif.device.hardwareId': text(info, 'HardwareId'),
  }));
}

/**
 * GetSystemDateAndTimeResponse → the device's UTC clock as epoch ms, or null.
 * (ONVIF Core §8.3.10: SystemDateAndTime/UTCDateTime/{Date/{Year,Month,Day},Time/{Hour,Minute,Second}}.)
 */
export function parseDeviceClock(body: XmlNode): { utcMs: number; dateTimeType: string | null } | null {
  const system = xmlChild(xmlChild(body, 'GetSystemDateAndTimeResponse'), 'SystemDateAndTime');
  const utc = xmlChild(system, 'UTCDateTime');
  if (!utc) return null;
  const date = xmlChild(utc, 'Date');
  const time = xmlChild(utc, 'Time');
  const n = (node: XmlNode | null, name: string): number => Number(text(node, name) ?? NaN);
  const utcMs = Date.UTC(n(date, 'Year'), n(date, 'Month') - 1, n(date, 'Day'), n(time, 'Hour'), n(time, 'Minute'), n(time, 'Second'));
  if (!Number.isFinite(utcMs)) return null;
  return { utcMs, dateTimeType: text(system, 'DateTimeType') };
}

/** One interface of a GetNetworkInterfacesResponse (ONVIF devicemgmt.wsdl; tt:NetworkInterface in onvif.xsd). */
export interface NetworkInterface {
  readonly token: string | null;
  readonly enabled: boolean;
  /** Lower-case colon form, or null when absent or not a MAC. */
  readonly mac: string | null;
  /** IPv4 addresses configured by hand or by DHCP. */
  readonly ipv4: string[];
}

/** `28-57-BE-6A-1C-10`, `2857be6a1c10`, `28:57:be:6a:1c:10` → `28:57:be:6a:1c:10`; null otherwise. */
function normaliseHwAddress(text: string | null): string | null {
  const hex = (text ?? '').trim().replace(/[:.-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex) || hex === '000000000000') return null;
  return hex.match(/../g)!.join(':');
}

/** GetNetworkInterfacesResponse → its interfaces; null when the body is not one. */
export function parseNetworkInterfaces(body: XmlNode): NetworkInterface[] | null {
  const response = xmlChild(body, 'GetNetworkInterfacesResponse');
  if (!response) return null;
  return xmlChildren(response, 'NetworkInterfaces').map((nic) => {
    const config = xmlChild(xmlChild(nic, 'IPv4'), 'Config');
    const configured = [...xmlChildren(config, 'Manual'), ...xmlChildren(config, 'FromDHCP')];
    return {
      token: xmlAttr(nic, 'token'),
      enabled: text(nic, 'Enabled') !== 'false',
      mac: normaliseHwAddress(text(xmlChild(nic, 'Info'), 'HwAddress')),
      ipv4: configured.map((c) => text(c, 'Address')).filter((a): a is string => a !== null),
    };
  });
}

/** GetScopesResponse → every ScopeItem URI (ONVIF devicemgmt.wsdl; tt:Scope in onvif.xsd); null when the body is not one. */
export function parseScopes(body: XmlNode): string[] | null {
  const response = xmlChild(body, 'GetScopesResponse');
  if (!response) return null;
  return xmlChildren(response, 'Scopes')
    .map((scope) => text(scope, 'ScopeItem'))
    .filter((item): item is string => item !== null);
}
