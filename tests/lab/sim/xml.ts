/**
 * Tolerant SOAP parsing for the responders: namespace prefixes are dropped (devices match on
 * local names), values stay strings. Never throws: malformed input gives `null`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export const NS = {
  soapEnv: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  ter: 'http://www.onvif.org/ver10/error',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsdp: 'http://schemas.xmlsoap.org/ws/2006/02/devprof',
  wprt: 'http://schemas.microsoft.com/windows/2006/08/wdp/print',
  wscn: 'http://schemas.microsoft.com/windows/2006/08/wdp/scan',
} as const;

export type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

export interface SoapMessage {
  header: XmlNode;
  body: XmlNode;
  /** Local name of the first element in the Body (the operation), or null. */
  operation: string | null;
}

/** Parses a SOAP envelope (1.1 or 1.2; prefixes ignored). Returns null when it is not one. */
export function parseSoap(text: string): SoapMessage | null {
  if (text.length === 0 || XMLValidator.validate(text) !== true) return null;
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch {
    return null;
  }
  const env = child(doc, 'Envelope');
  if (!env) return null;
  const body = child(env, 'Body') ?? (env.Body === '' ? {} : null);
  if (!body) return null;
  const header = child(env, 'Header') ?? {};
  const operation = Object.keys(body).find((k) => !k.startsWith('@_') && k !== '#text') ?? null;
  return { header, body, operation };
}

/** The first element `name` under `node` as an object (an empty element gives {}). */
export function child(node: unknown, name: string): XmlNode | null {
  if (typeof node !== 'object' || node === null) return null;
  let v = (node as XmlNode)[name];
  if (Array.isArray(v)) v = v[0];
  if (v === '') return {};
  if (typeof v === 'object' && v !== null) return v as XmlNode;
  return null;
}

/** Text content of element `name` under `node` (undefined when absent; '' when empty). */
export function text(node: unknown, name: string): string | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  let v = (node as XmlNode)[name];
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const t = (v as XmlNode)['#text'];
    return t === undefined ? '' : String(t);
  }
  return undefined;
}

/** Attribute `name` (local name) of element `name` under node. */
export function attr(node: unknown, element: string, name: string): string | undefined {
  const c = child(node, element);
  const v = c?.[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A SOAP 1.2 Fault envelope (ONVIF Core §5.11.2 / §5.12). */
export function soapFault(code: 'env:Sender' | 'env:Receiver', subcode: string, reason: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<env:Envelope xmlns:env="${NS.soapEnv}" xmlns:ter="${NS.ter}">` +
    '<env:Body><env:Fault>' +
    `<env:Code><env:Value>${code}</env:Value><env:Subcode><env:Value>${esc(subcode)}</env:Value></env:Subcode></env:Code>` +
    `<env:Reason><env:Text xml:lang="en">${esc(reason)}</env:Text></env:Reason>` +
    '</env:Fault></env:Body></env:Envelope>'
  );
}
