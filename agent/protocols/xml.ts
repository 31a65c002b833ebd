/**
 * Safe parsing of XML that arrives from the network (SADP replies, WS-Discovery, ONVIF SOAP, UPnP
 * descriptions). Pure: no I/O. Every function here returns null / empty for bad input and never
 * throws.
 *
 * What a document has to get past, in order:
 * 1. a size cap, checked on the raw bytes before anything is decoded;
 * 2. a ban on markup declarations: any `<!DOCTYPE` / `<!ENTITY` anywhere (even inside a comment or
 *    CDATA), and any other `<!` that does not open a comment or CDATA section (`<!ELEMENT`,
 *    `<!ATTLIST`, …). With no DTD there are no user-defined entities, so no entity expansion
 *    (billion laughs, XXE) can ever happen;
 * 3. bare `&`s that start no reference are escaped (outside CDATA), a leniency for firmware
 *    that builds XML with printf;
 * 4. fast-xml-parser's validator (well-formedness: matched tags, one root, quoted attributes);
 * 5. fast-xml-parser itself, with the options in {@link XML_PARSER_OPTIONS}, entity processing off.
 *
 * The result is a small, order-preserving tree ({@link XmlNode}) rather than fast-xml-parser's
 * own objects, so callers get the same shape whether an element appears once or many times and
 * never touch object keys that came off the wire.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** One element. The document itself is an element named '' whose only child is the root. */
export interface XmlNode {
  /** Local name: any namespace prefix is removed (`s:Envelope` → `Envelope`). */
  readonly name: string;
  /** Attributes by local name; `xmlns` / `xmlns:*` declarations are dropped. Null-prototype object. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Child elements in document order. */
  readonly children: readonly XmlNode[];
  /**
   * The element's own character data (text and CDATA, not descendants'); '' when none. Each run of
   * text between child elements / CDATA sections is trimmed, then the runs are concatenated.
   * Values are always strings exactly as sent: `007` stays `007`, `true` stays `true`.
   */
  readonly text: string;
}

/**
 * fast-xml-parser options, each chosen on purpose:
 * - `processEntities: false`, `htmlEntities: false`: the parser expands no entity at all. The five
 *   predefined XML entities and numeric character references (`&amp;`, `&#38;`, `&#x26;`) are
 *   then decoded by {@link decodeXmlCharacterReferences} in one pass; that can only shorten the
 *   text, and nothing a document declares is ever expanded (declarations are rejected anyway).
 * - `parseTagValue: false`, `parseAttributeValue: false`: values stay strings; no number or boolean
 *   guessing, so leading zeros (`0123`), `1e5`, `0x1F` and `true` survive as sent.
 * - `trimValues: true`: text is trimmed (devices pad values with newlines and tabs).
 * - `removeNSPrefix: true`: `s:Envelope` → `Envelope`, `d:Types` → `Types`, and `xmlns` attributes
 *   disappear. Callers match on local names; namespace URIs are not checked.
 * - `ignoreAttributes: false`, `attributeNamePrefix: ''`: attributes are kept (ONVIF tokens,
 *   `s:mustUnderstand`), keyed by their local name; `allowBooleanAttributes: false`.
 * - `preserveOrder: true`: document order and repeated elements come through as a list, which
 *   {@link toNode} turns into {@link XmlNode}s.
 * - `cdataPropName: '#cdata'`: CDATA arrives apart from text, so its content is taken literally
 *   (never entity-decoded).
 * - `ignoreDeclaration`, `ignorePiTags`, no `commentPropName`: the XML declaration, processing
 *   instructions and comments are dropped. The declared encoding is ignored: bytes are always read
 *   as UTF-8 (every protocol we parse is UTF-8 or ASCII in practice).
 * - `maxNestedTags: 100`: deeper documents are rejected (the parser throws; we return null).
 * - `strictReservedNames: true` (the default): an element named `__proto__`, `constructor` or
 *   `prototype` makes the parser throw, and the document is rejected. With the default
 *   `onDangerousProperty`, elements and attributes named `hasOwnProperty`, `toString`, `valueOf`
 *   or `__defineGetter__` & co. come through renamed with a `__` prefix (`__toString`).
 */
export const XML_PARSER_OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 100,
  strictReservedNames: true,
} as const;

const parser = new XMLParser(XML_PARSER_OPTIONS);

/** `<!DOCTYPE` / `<!ENTITY` anywhere, in any case. */
const FORBIDDEN_DECLARATION = /<!\s*(?:DOCTYPE|ENTITY)/i;
/** Any `<!` that does not open a comment or a CDATA section is a markup declaration. */
const OTHER_DECLARATION = /<!(?!--|\[CDATA\[)/;

/** True when the text carries a DTD or other markup declaration (and so must not be parsed). */
export function hasMarkupDeclaration(text: string): boolean {
  return FORBIDDEN_DECLARATION.test(text) || OTHER_DECLARATION.test(text);
}

/**
 * An `&` that does not start a reference. Embedded firmware often builds XML with printf and
 * forgets to escape `&` in free-text values (device names, OEM strings); such an `&` is read as
 * itself instead of rejecting the whole document. (A stray `<` cannot be repaired and still fails.)
 */
const BARE_AMPERSAND = /&(?!#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z_][A-Za-z0-9._-]{0,31};)/g;

/** Escapes bare `&` outside CDATA sections (whose content is literal). Linear: no backtracking. */
function escapeBareAmpersands(text: string): string {
  if (!text.includes('&')) return text;
  let out = '';
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('<![CDATA[', at);
    const stop = open === -1 ? text.length : open;
    out += text.slice(at, stop).replace(BARE_AMPERSAND, '&amp;');
    if (open === -1) break;
    const close = text.indexOf(']]>', open + 9);
    const end = close === -1 ? text.length : close + 3;
    out += text.slice(open, end);
    at = end;
  }
  return out;
}

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const CHARACTER_REFERENCE = /&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));/g;

/**
 * Decodes the five predefined XML entities and numeric character references, in a single pass
 * (so `&amp;lt;` → `&lt;`, never `<`). Anything else (`&foo;`, `&#0;`, a surrogate, a bare `&`)
 * is left as it is.
 */
export function decodeXmlCharacterReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARACTER_REFERENCE, (whole, dec: string | undefined, hex: string | undefined, named: string | undefined) => {
    if (named !== undefined) return PREDEFINED_ENTITIES[named] ?? whole;
    const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : whole;
  });
}

/** Child elements that have no children of their own, name → text (first occurrence wins). */
export function leafElements(root: XmlNode): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const child of root.children) {
    if (child.children.length === 0 && !Object.hasOwn(out, child.name)) out[child.name] = child.text;
  }
  return out;
}

/** Escapes text for use as element content or a double-quoted attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${c === '&' ? 'amp' : c === '<' ? 'lt' : c === '>' ? 'gt' : c === '"' ? 'quot' : 'apos'};`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text of a `[{ '#text': '…' }]` list (how preserveOrder wraps text and CDATA content). */
function textOf(items: unknown): string {
  if (!Array.isArray(items)) return '';
  let out = '';
  for (const item of items) {
    if (isRecord(item) && typeof item['#text'] === 'string') out += item['#text'];
  }
  return out;
}

/** Converts one fast-xml-parser preserveOrder list into an element's children and text. */
function toNode(name: string, attributes: unknown, items: unknown): XmlNode {
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  if (isRecord(attributes)) {
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value === 'string') attrs[key] = decodeXmlCharacterReferences(value);
    }
  }
  const children: XmlNode[] = [];
  let text = '';
  if (Array.isArray(items)) {
    for (const item of items) {
      if (!isRecord(item)) continue;
      const tag = Object.keys(item).find((k) => k !== ':@');
      if (tag === undefined) continue;
      const content = item[tag];
      if (tag === '#text') {
        if (typeof content === 'string') text += decodeXmlCharacterReferences(content);
      } else if (tag === '#cdata') {
        text += textOf(content);
      } else {
        children.push(toNode(tag, item[':@'], content));
      }
    }
  }
  return { name, attributes: attrs, children, text: text.trim() };
}

/** Drops a leading BOM and whitespace, and trailing whitespace and NULs (a loop: no regex backtracking). */
function trimEnvelope(text: string): string {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c === 0 || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) end--;
    else break;
  }
  let start = 0;
  while (start < end) {
    const c = text.charCodeAt(start);
    if (c === 0xfeff || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) start++;
    else break;
  }
  return text.slice(start, end);
}

/**
 * Parses XML from an untrusted source. Returns the document node (name '', the root element as
 * its only child), or null when the input is larger than `maxBytes` (UTF-8 bytes), carries a DTD
 * or other markup declaration, is not well-formed, nests deeper than 100 elements, or has no root
 * element. Tolerated: a leading byte-order mark and whitespace; trailing whitespace and NUL bytes
 * (C strings sent whole over UDP); a bare `&` that starts no reference (read as a literal `&`).
 * Never throws.
 */
export function parseUntrustedXml(input: Buffer | Uint8Array | string, maxBytes: number): XmlNode | null {
  try {
    let text: string;
    if (typeof input === 'string') {
      // A UTF-16 code unit is at least one UTF-8 byte, so this cheap test is exact when it fails.
      if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) return null;
      text = input;
    } else {
      if (input.byteLength > maxBytes) return null;
      text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
    }
    text = trimEnvelope(text);
    if (text.length === 0 || hasMarkupDeclaration(text)) return null;
    text = escapeBareAmpersands(text);
    if (XMLValidator.validate(text) !== true) return null;
    const items: unknown = parser.parse(text);
    const doc = toNode('', null, items);
    return doc.children.length === 1 ? doc : null;
  } catch {
    return null;
  }
}

/** The first child element of `node` with this local name, or null (also when `node` is null). */
export function xmlChild(node: XmlNode | null | undefined, name: string): XmlNode | null {
  if (!node) return null;
  return node.children.find((child) => child.name === name) ?? null;
}

/** Every child element of `node` with this local name (every child when `name` is omitted). */
export function xmlChildren(node: XmlNode | null | undefined, name?: string): XmlNode[] {
  if (!node) return [];
  return name === undefined ? [...node.children] : node.children.filter((child) => child.name === name);
}

/** The element's own text ('' when empty), or null when there is no element. */
export function xmlText(node: XmlNode | null | undefined): string | null {
  return node ? node.text : null;
}

/** An attribute's value by local name, or null. */
export function xmlAttr(node: XmlNode | null | undefined, name: string): string | null {
  if (!node || !Object.hasOwn(node.attributes, name)) return null;
  return node.attributes[name] ?? null;
}

/** The document's root element (the only child of the document node), or null. */
export function xmlRoot(doc: XmlNode | null | undefined): XmlNode | null {
  return doc?.children[0] ?? null;
}
