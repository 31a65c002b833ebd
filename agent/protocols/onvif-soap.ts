/**
 * ONVIF device-service codec (pure): SOAP 1.2 request envelopes and response parsing for the calls
 * that may be made without credentials (ONVIF Core Specification §5.9.4 / §8.3: GetSystemDateAndTime
 * "shall" be answered unauthenticated; GetDeviceInformation is READ_SYSTEM, which many devices
 * protect and some answer openly).
 */
import type { Fields } from '../types.js';
import { parseUntrustedXml, xmlChild, xmlText, type XmlNode } from './xml.js';

/** A device-information or time answer is a few KiB; cap what we read. */
export const ONVIF_MAX_RESPONSE_BYTES = 256 * 1024;

const NS_DEVICE = 'http://www.onvif.org/ver10/device/wsdl';

export type DeviceCall = 'GetSystemDateAndTime' | 'GetDeviceInformation';

export function buildDeviceRequest(call: DeviceCall): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="${NS_DEVICE}">` +
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
  return defined({
    'onvif.device.manufacturer': text(info, 'Manufacturer'),
    'onvif.device.model': text(info, 'Model'),
    'onvif.device.firmware': text(info, 'FirmwareVersion'),
    'onvif.device.serial': text(info, 'SerialNumber'),
    'onvif.device.hardwareId': text(info, 'HardwareId'),
  });
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
