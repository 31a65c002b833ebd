/**
 * Safe parsing of XML that arrives from the network (SADP replies, WS-Discovery, ONVIF SOAP, UPnP
 * descriptions; also the XML parts of .xlsx handover files). Pure: no I/O. Every function here
 * returns null / empty for bad input and never throws.
 *
 * What a document has to get past, in order:
 * 1. a size cap, checked on the raw bytes before anything is decoded;
 * 2. a ban on markup declarations: any `<!DOCTYPE` / `<!ENTITY` anywhere (even inside a comment or
 *    CDATA), and any other `<!` that does not open a comment or CDATA section (`<!ELEMENT`,
 *    `<!ATTLIST`, …). With no DTD there are no user-defined entities, so no entity expansion
 *    (billion laughs, XXE) can ever happen;
 * 3. the XML declaration, if the document opens with one, is dropped unread
 *    ({@link withoutXmlDeclaration});
 * 4. every `&` outside CDATA is written as `&amp;` ({@link escapeAmpersands}), so the parser hands
 *    references back exactly as sent and {@link decodeXmlCharacterReferences} alone decides what
 *    they mean: the five predefined entities and valid numeric references are decoded, anything
 *    else (`&bogus;`, `&#0;`, a surrogate, a bare `&` from firmware that builds XML with printf)
 *    is read as written instead of rejecting the document;
 * 5. one pass of saxes (lddubeau/saxes, the parser jsdom uses), a streaming parser that checks
 *    XML 1.0 well-formedness as it reads (matched tags, one root element, quoted and unique
 *    attributes, names, no text outside the root, `]]>` and `--` only where allowed), with the
 *    options in {@link SAXES_OPTIONS}; its events build the {@link XmlNode} tree directly, and
 *    nesting past {@link MAX_DEPTH} elements stops it. Control characters that XML 1.0 leaves out
 *    are read as themselves in text and attribute values ({@link isToleratedCharacterError}).
 *
 * The result is a small, order-preserving tree ({@link XmlNode}) rather than the parser's own
 * objects, so callers get the same shape whether an element appears once or many times and never
 * touch object keys that came off the wire.
 */
import { SaxesParser } from 'saxes';

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

/** An element while it is being read: its text is trimmed when its end tag arrives. */
interface OpenNode {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlNode[];
  text: string;
}

/**
 * saxes options, each chosen on purpose:
 * - `xmlns: false`: names are read as XML 1.0 Names (XML 1.0 §2.3) and prefixes are not resolved
 *   against declarations, so a device that uses a prefix it never declared is still read;
 *   {@link localName} then removes the prefix (`s:Envelope` → `Envelope`) and `xmlns`
 *   attributes are dropped. Callers match on local names; namespace URIs are not checked.
 * - `forceXMLVersion: true` with `defaultXMLVersion: '1.0'`: every document is read by the XML 1.0
 *   rules whatever its declaration says (as its declared encoding is ignored: bytes are always read
 *   as UTF-8, which every protocol we parse is in practice). XML 1.1 would turn U+0085 and U+2028
 *   in text into line ends and refuse C1 controls written as themselves.
 * - `position: false`: errors carry no line and column; nothing reads them (a bad document is
 *   only ever null), and the message is then exactly the parser's own, which
 *   {@link isToleratedCharacterError} compares.
 *
 * What the parser does on its own, per XML 1.0: the XML declaration, processing instructions and
 * comments produce no data here; CR LF and lone CR become LF everywhere (§2.11); in attribute values
 * a literal tab, CR or LF becomes a space (§3.3.3; a character reference such as `&#10;` still
 * gives the character); CDATA content is delivered literally and never entity-decoded; values are
 * strings, nothing is guessed to be a number or boolean.
 */
const SAXES_OPTIONS = { xmlns: false, position: false, defaultXMLVersion: '1.0', forceXMLVersion: true } as const;

/**
 * Deepest element nesting read: the root is at depth 1; an element at depth 101 rejects the
 * document. Replies we read nest at most about a dozen deep.
 */
const MAX_DEPTH = 100;

/** `<!DOCTYPE` / `<!ENTITY` anywhere, in any case. */
const FORBIDDEN_DECLARATION = /<!\s*(?:DOCTYPE|ENTITY)/i;
/** Any `<!` that does not open a comment or a CDATA section is a markup declaration. */
const OTHER_DECLARATION = /<!(?!--|\[CDATA\[)/;

/** True when the text carries a DTD or other markup declaration (and so must not be parsed). */
export function hasMarkupDeclaration(text: string): boolean {
  return FORBIDDEN_DECLARATION.test(text) || OTHER_DECLARATION.test(text);
}

/**
 * Writes every `&` outside CDATA sections (whose content is literal) as `&amp;`, so the parser
 * resolves no reference itself: it hands back `&amp;` as `&` and with it every reference exactly as
 * sent, which {@link decodeXmlCharacterReferences} then decodes. The parser on its own would refuse
 * a bare `&` and an unknown or invalid reference, which embedded firmware does send (a device name
 * with an unescaped `&`, printf'd into XML). Linear: no backtracking.
 */
function escapeAmpersands(text: string): string {
  if (!text.includes('&')) return text;
  let out = '';
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('<![CDATA[', at);
    const stop = open === -1 ? text.length : open;
    out += text.slice(at, stop).replaceAll('&', '&amp;');
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

/** The local part of a name: everything after the first colon (`s:Envelope` → `Envelope`). */
function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

/** The attributes of every element that has none (and of the document node). */
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze(Object.setPrototypeOf({}, null) as Record<string, string>);

/**
 * Attributes by local name, values decoded, `xmlns` / `xmlns:*` declarations dropped; when a local
 * name repeats (`a:x`, `b:x`), the last one wins. The object gets its null prototype before any key
 * is set, so a key such as `__proto__` is an own property like any other; made from `{}`, V8 keeps
 * it in fast mode (about 60 bytes for a few attributes, where `Object.create(null)` starts a
 * dictionary of about 190).
 */
function attributesOf(raw: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  let attributes: Record<string, string> | null = null;
  for (const name in raw) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    attributes ??= Object.setPrototypeOf({}, null) as Record<string, string>;
    attributes[localName(name)] = decodeXmlCharacterReferences(raw[name]!);
  }
  return attributes ?? NO_ATTRIBUTES;
}

/**
 * Whether a parser error is one of the characters read as themselves: the C0 controls other than
 * tab, LF and CR, and U+FFFE / U+FFFF, which XML 1.0 §2.2 leaves out of Char. Firmware puts them in
 * device names and fixed-size fields (NUL padding, stray escape sequences); agent/safe-text.ts
 * cleans every device value of them at ingest and records that it did, so the document is read
 * rather than refused. saxes reports such a character as "disallowed character." as it reads it
 * and then reads it as data; where it cannot be data (in a name, between attributes, outside the
 * root element) the parser reports a second error, which is not tolerated. The one other cause of
 * that message, a `<` in an attribute value, is told apart by the character itself.
 */
function isToleratedCharacterError(error: Error, text: string, position: number): boolean {
  if (error.message !== 'disallowed character.') return false;
  const code = text.charCodeAt(position - 1);
  return code < 0x20 || code === 0xfffe || code === 0xffff;
}

/**
 * Reads a document that has passed steps 1–4 (see the module comment) into its document node, or
 * throws at the first well-formedness error or when an element nests deeper than
 * {@link MAX_DEPTH}. `text` holds no lone surrogate (saxes would misread one).
 */
function readDocument(text: string): XmlNode {
  const parser = new SaxesParser(SAXES_OPTIONS);
  const document: OpenNode = { name: '', attributes: NO_ATTRIBUTES, children: [], text: '' };
  const open: OpenNode[] = [document];
  let current = document;
  parser.on('error', (error) => {
    if (!isToleratedCharacterError(error, text, parser.position)) throw error;
  });
  parser.on('opentag', (tag) => {
    if (open.length > MAX_DEPTH) throw new Error(`elements nest deeper than ${MAX_DEPTH}`);
    const node: OpenNode = { name: localName(tag.name), attributes: attributesOf(tag.attributes), children: [], text: '' };
    current.children.push(node);
    open.push(node);
    current = node;
  });
  parser.on('closetag', () => {
    current.text = current.text.trim();
    open.pop();
    current = open[open.length - 1] ?? document;
  });
  // A run of text ends at any markup (a tag, CDATA, a comment or PI): trimmed, then decoded.
  parser.on('text', (run) => {
    current.text += decodeXmlCharacterReferences(run.trim());
  });
  parser.on('cdata', (data) => {
    current.text += data;
  });
  parser.write(text).close();
  return document;
}

/**
 * The document without its XML declaration (`<?xml version="1.0" encoding="…"?>`, XML 1.0 §2.8),
 * which is never read: the bytes are UTF-8 and the rules XML 1.0 whatever it says. Firmware writes
 * it carelessly (`standalone="true"`, a version it does not follow, a missing space), and the
 * parser would refuse the whole reply for it. A declaration left unclosed is left for the parser
 * to refuse; a processing instruction whose target merely starts with `xml` is not a declaration.
 */
function withoutXmlDeclaration(text: string): string {
  if (!text.startsWith('<?xml') || !/^[\s?]/.test(text.charAt(5))) return text;
  const end = text.indexOf('?>', 5);
  return end === -1 ? text : text.slice(end + 2);
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
 * (C strings sent whole over UDP); an XML declaration, whatever it says; a bare `&` or a reference that is not one of the five predefined
 * entities or a valid character reference (read as written); control characters in text and
 * attribute values (read as themselves). A string is read as the UTF-8 it would be sent as: a
 * lone surrogate becomes U+FFFD, as it does in bytes that are decoded. Never throws.
 */
export function parseUntrustedXml(input: Buffer | Uint8Array | string, maxBytes: number): XmlNode | null {
  try {
    let text: string;
    if (typeof input === 'string') {
      // A UTF-16 code unit is at least one UTF-8 byte, so this cheap test is exact when it fails.
      if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) return null;
      text = input.toWellFormed();
    } else {
      if (input.byteLength > maxBytes) return null;
      text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
    }
    text = trimEnvelope(text);
    if (text.length === 0 || hasMarkupDeclaration(text)) return null;
    return readDocument(escapeAmpersands(withoutXmlDeclaration(text)));
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
