/**
 * Reading a handover schedule saved as an Excel workbook (.xlsx: Office Open XML SpreadsheetML,
 * ECMA-376 Part 1 §18; a ZIP package of XML parts, ECMA-376 Part 2). The file is hostile input:
 *
 * - the ZIP is read by fflate (101arrowz/fflate), streamed: the bytes are fed in
 *   {@link ZIP_FEED_BYTES} slices and every inflated chunk is counted as it arrives, so a part
 *   larger than {@link MAX_PART_BYTES} or parts adding up to more than {@link MAX_INFLATED_BYTES}
 *   stop the read at once (a zip bomb is refused after at most one slice's worth of output), and a
 *   package of more than {@link MAX_ZIP_ENTRIES} entries is refused;
 * - each XML part goes through agent/protocols/xml.ts (any DTD refused before a strict streaming
 *   parser, saxes, reads it; only the five predefined entities and character references are
 *   decoded), so no entity is ever expanded;
 * - no formula is evaluated: a formula cell gives the result the spreadsheet program saved with it.
 *
 * Every problem is a coded error ({@link XlsxProblem} here, turned into CCTV_ERR_BAD_XLSX or
 * CCTV_ERR_BAD_HANDOVER_CELL by the caller); nothing here crashes on a malformed file.
 */
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { displaySafe } from '../safe-text.js';
import { parseUntrustedXml, xmlAttr, xmlChild, xmlChildren, xmlRoot, type XmlNode } from '../protocols/xml.js';

/**
 * Entries a package may hold. Excel writes about a dozen for a one-sheet workbook and a few more
 * per sheet, image or chart; a schedule with a thousand is not a schedule.
 */
const MAX_ZIP_ENTRIES = 1000;
/**
 * Largest inflated XML part read: as large as the largest CSV or JSON schedule read
 * (MAX_HANDOVER_BYTES in schedule.ts). A worksheet cell takes about 40–60 bytes of XML, so this
 * holds some 70,000 cells: ten thousand devices of seven columns.
 */
const MAX_PART_BYTES = 4 * 1024 * 1024;
/** Largest sum of the inflated parts read (package and workbook relationships, workbook, shared strings, one sheet). */
const MAX_INFLATED_BYTES = 8 * 1024 * 1024;
/**
 * Compressed bytes handed to the inflater at a time. DEFLATE expands at most 1032:1 (zlib
 * technical details, "Maximum Compression Factor", https://zlib.net/zlib_tech.html), so one slice
 * inflates to at most about 2 MiB before the caps are checked again.
 */
const ZIP_FEED_BYTES = 2 * 1024;

/** A problem with the workbook, in an installer's words; `at` names the cell when it is one cell's. */
export class XlsxProblem extends Error {
  constructor(
    message: string,
    readonly at: { sheet: string; row: number; column: number } | null = null,
  ) {
    super(message);
  }
}

/** Longest piece of the file (a part name, a sheet name, a cell's text) quoted in a message. */
const MAX_QUOTED_CHARS = 64;

/** Text from the file as a message shows it: controls escaped, cut to {@link MAX_QUOTED_CHARS}. */
function shown(text: string): string {
  return displaySafe(text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text);
}

/** One non-empty cell of the sheet: its text as the spreadsheet showed it, row and column 1-based. */
export interface SheetCell {
  value: string;
  row: number;
  column: number;
}

/** The rows of the sheet that hold a value, in order. */
export interface SheetRows {
  sheet: string;
  rows: { row: number; cells: SheetCell[] }[];
}

/** `1` → `A`, `28` → `AB` (the column names every spreadsheet program shows). */
export function columnName(column: number): string {
  let name = '';
  for (let n = column; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

/** Where ZIP local file headers start (APPNOTE.TXT §4.3.7, "PK\3\4"). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * True when the end of central directory record (APPNOTE.TXT §4.3.16, "PK\5\6") is where a
 * complete ZIP has it: within the last 22 + 65,535 bytes (the record and its longest comment).
 * The parts are read front to back, so this is what tells a file cut short from a whole one.
 */
function endsLikeZip(bytes: Uint8Array): boolean {
  const last = bytes.length - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (bytes[at] === 0x50 && bytes[at + 1] === 0x4b && bytes[at + 2] === 0x05 && bytes[at + 3] === 0x06) return true;
  }
  return false;
}

/**
 * An OLE2 compound file (MS-CFB §2.2, signature D0 CF 11 E0 A1 B1 1A E1): an Excel 97–2003 .xls,
 * or an .xlsx saved with a password (MS-OFFCRYPTO §2.3.4 puts an encrypted package in one).
 */
export function looksLikeOle2(bytes: Uint8Array): boolean {
  const signature = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
  return bytes.length >= 8 && signature.every((b, i) => bytes[i] === b);
}

/** Part names are compared without case and without a leading slash (ECMA-376 Part 2 §6.2.2.3). */
function partKey(name: string): string {
  return name.replace(/^\/+/, '').toLowerCase();
}

/**
 * Inflates the parts of the package that `wanted` picks, within the caps (`budget` counts the bytes
 * inflated by every read of one package). Unwanted parts are
 * skipped without being inflated. A part that is cut short, uses a compression other than
 * stored or DEFLATE, or is not a ZIP at all is a problem, never a crash.
 */
function readZipParts(bytes: Uint8Array, wanted: (key: string) => boolean, budget: { inflated: number }): Map<string, Uint8Array> {
  const parts = new Map<string, Uint8Array>();
  const open = new Set<string>();
  let entries = 0;
  const unzip = new Unzip((file: UnzipFile) => {
    entries++;
    if (entries > MAX_ZIP_ENTRIES) throw new XlsxProblem(`it holds more than ${MAX_ZIP_ENTRIES} parts, far more than a workbook needs`);
    const key = partKey(file.name);
    if (!wanted(key) || parts.has(key) || open.has(key)) return;
    const chunks: Uint8Array[] = [];
    let size = 0;
    open.add(key);
    file.ondata = (error, chunk, final) => {
      // fflate hands an exception thrown here back as `error`: a cap reached stays that problem.
      if (error) throw error instanceof XlsxProblem ? error : new XlsxProblem(`its part ${shown(file.name)} cannot be unpacked (${error.message})`);
      size += chunk.length;
      budget.inflated += chunk.length;
      if (size > MAX_PART_BYTES) throw new XlsxProblem(`its part ${shown(file.name)} unpacks to more than ${MAX_PART_BYTES / 1024 / 1024} MiB (a "zip bomb", or not a schedule)`);
      if (budget.inflated > MAX_INFLATED_BYTES) throw new XlsxProblem(`its parts unpack to more than ${MAX_INFLATED_BYTES / 1024 / 1024} MiB in all (a "zip bomb", or not a schedule)`);
      chunks.push(chunk);
      if (final) {
        open.delete(key);
        parts.set(key, Buffer.concat(chunks));
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < bytes.length; at += ZIP_FEED_BYTES) {
      unzip.push(bytes.subarray(at, at + ZIP_FEED_BYTES), at + ZIP_FEED_BYTES >= bytes.length);
    }
  } catch (error) {
    if (error instanceof XlsxProblem) throw error;
    throw new XlsxProblem(`it is not a readable ZIP package (${(error as Error).message})`);
  }
  if (open.size > 0) throw new XlsxProblem(`the file is cut short (its part ${shown([...open][0] ?? '')} ends early); copy it again from where it was made`);
  return parts;
}

/** Parses one XML part (no DTD, no entity expansion); a part that is not XML is a problem. */
function xmlPart(parts: Map<string, Uint8Array>, key: string, what: string): XmlNode {
  const bytes = parts.get(key);
  if (!bytes) throw new XlsxProblem(`it has no ${what} (${shown(key)}), so it is not an Excel workbook`);
  const root = xmlRoot(parseUntrustedXml(bytes, MAX_PART_BYTES));
  if (!root) throw new XlsxProblem(`its ${what} (${shown(key)}) is not well-formed XML, or declares a DTD or entities, which a workbook never does`);
  return root;
}

/** The relationships part that belongs to `part` (ECMA-376 Part 2 §9.3.3.1): `xl/workbook.xml` → `xl/_rels/workbook.xml.rels`. */
function relsKey(part: string): string {
  const slash = part.lastIndexOf('/');
  return `${part.slice(0, slash + 1)}_rels/${part.slice(slash + 1)}.rels`;
}

/** A relationship target resolved against the folder of its source part (ECMA-376 Part 2 §9.3.2.1; RFC 3986 §5.2). */
function resolveTarget(source: string, target: string): string {
  if (target.startsWith('/')) return partKey(target);
  const path = source.split('/').slice(0, -1);
  for (const segment of target.split('/')) {
    if (segment === '..') path.pop();
    else if (segment !== '.' && segment !== '') path.push(segment);
  }
  return partKey(path.join('/'));
}

interface Relationship {
  id: string;
  type: string;
  target: string;
}

function relationships(root: XmlNode, source: string): Relationship[] {
  return xmlChildren(root, 'Relationship')
    .filter((r) => xmlAttr(r, 'TargetMode') !== 'External')
    .map((r) => ({ id: xmlAttr(r, 'Id') ?? '', type: xmlAttr(r, 'Type') ?? '', target: resolveTarget(source, xmlAttr(r, 'Target') ?? '') }));
}

/** A relationship type by its last segment, the same in transitional and strict OOXML (ECMA-376 Part 1 §15.2). */
const isType = (rel: Relationship, name: string): boolean => rel.type.endsWith(`/${name}`);

/** The text of a shared or inline string (`<si>` / `<is>`): its `<t>`, or its rich-text runs' `<t>`s; phonetic runs (`<rPh>`) left out (§18.4.8). */
function stringItem(node: XmlNode | null): string {
  if (!node) return '';
  const plain = xmlChild(node, 't');
  if (plain) return plain.text;
  return xmlChildren(node, 'r')
    .map((run) => xmlChild(run, 't')?.text ?? '')
    .join('');
}

/** A cell reference like `C7` (§18.3.1.4 `r`); null when malformed. */
function parseRef(ref: string): { row: number; column: number } | null {
  const m = /^([A-Z]{1,3})([1-9][0-9]{0,6})$/.exec(ref);
  if (!m) return null;
  let column = 0;
  for (const ch of m[1] ?? '') column = column * 26 + (ch.charCodeAt(0) - 64);
  return { row: Number(m[2]), column };
}

/** Significant digits a spreadsheet keeps of a number (IEEE 754 double as Excel shows it). */
const EXCEL_NUMBER_DIGITS = 15;

/**
 * The cell's text as the spreadsheet showed it, or '' when empty. A number is taken as the digits
 * stored in the file, never through a JavaScript number, so `123456789012` stays as it is; a
 * number written with an exponent or with more than 15 significant digits has already lost digits
 * in the spreadsheet (a long serial typed as a number), and is refused.
 */
function cellText(cell: XmlNode, shared: readonly string[], problem: (why: string) => XlsxProblem): string {
  const type = xmlAttr(cell, 't') ?? 'n';
  if (type === 'inlineStr') return stringItem(xmlChild(cell, 'is'));
  const stored = xmlChild(cell, 'v');
  if (!stored) {
    if (xmlChild(cell, 'f')) throw problem('it holds a formula with no saved result; formulas are not evaluated, so open the file in the spreadsheet program and save it again, or type the value');
    return '';
  }
  const v = stored.text;
  switch (type) {
    case 's': {
      const item = /^[0-9]{1,9}$/.test(v) ? shared[Number(v)] : undefined;
      if (item === undefined) throw problem(`it refers to shared string ${shown(v)}, which the workbook does not have`);
      return item;
    }
    case 'str':
    case 'd':
      return v;
    case 'b':
      return v === '1' ? 'TRUE' : 'FALSE';
    case 'e':
      throw problem(`it holds the spreadsheet error ${shown(v)}; fix the cell in the spreadsheet program`);
    case 'n': {
      if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) throw problem(`it holds the number ${shown(v)}, written with an exponent: the spreadsheet has kept only its first ${EXCEL_NUMBER_DIGITS} digits. Format the column as Text and type the value again`);
      if (v.replace(/^-?0*/, '').replace('.', '').length > EXCEL_NUMBER_DIGITS) throw problem(`it holds the number ${shown(v)}, longer than the ${EXCEL_NUMBER_DIGITS} digits a spreadsheet keeps of a number. Format the column as Text and type the value again`);
      return v;
    }
    default:
      throw problem(`it has a cell type "${shown(type)}" that is not in the Excel file format`);
  }
}

/**
 * The worksheet to read: the one named `wanted` (case-insensitive, as spreadsheet programs compare
 * sheet names), else the first one in the workbook's tab order that is not hidden (§18.2.19, §18.18.68).
 */
function chooseSheet(workbook: XmlNode, rels: Relationship[], wanted: string | undefined): { name: string; part: string } {
  const sheets = xmlChildren(xmlChild(workbook, 'sheets'), 'sheet').flatMap((sheet) => {
    const rel = rels.find((r) => r.id === xmlAttr(sheet, 'id'));
    const state = xmlAttr(sheet, 'state');
    return rel && isType(rel, 'worksheet') ? [{ name: xmlAttr(sheet, 'name') ?? '', part: rel.target, hidden: state === 'hidden' || state === 'veryHidden' }] : [];
  });
  const chosen = wanted === undefined ? sheets.find((s) => !s.hidden) : sheets.find((s) => s.name.toLowerCase() === wanted.toLowerCase());
  if (chosen) return { name: shown(chosen.name), part: chosen.part };
  if (wanted === undefined) throw new XlsxProblem('it has no visible worksheet');
  throw new XlsxProblem(`it has no sheet "${shown(wanted)}" (its sheets: ${sheets.map((s) => `"${shown(s.name)}"`).join(', ') || 'none'})`);
}

/**
 * The non-empty cells of the sheet named `sheetName`, or of the first visible one, row by row.
 * Cells and rows may omit their reference (§18.3.1.4, §18.3.1.73): they then follow the one before.
 */
export function readSheet(bytes: Uint8Array, sheetName?: string): SheetRows {
  if (!looksLikeZip(bytes)) throw new XlsxProblem('it is not a ZIP package, which every .xlsx file is (a CSV file renamed .xlsx? then name it .csv)');
  if (!endsLikeZip(bytes)) throw new XlsxProblem('the file is cut short (a ZIP package ends with a directory of its parts, and this one has none); copy it again from where it was made');
  const budget = { inflated: 0 };
  const root = readZipParts(bytes, (key) => key === '_rels/.rels', budget);
  const office = relationships(xmlPart(root, '_rels/.rels', 'package relationships'), '').find((r) => isType(r, 'officeDocument'));
  if (!office) throw new XlsxProblem('its package names no main document, so it is not an Excel workbook');
  const workbookRels = relsKey(office.target);
  const book = readZipParts(bytes, (key) => key === office.target || key === workbookRels, budget);
  const workbook = xmlPart(book, office.target, 'workbook');
  if (workbook.name !== 'workbook') throw new XlsxProblem(`its main document is a ${shown(workbook.name) || 'document'}, not a workbook (a Word or PowerPoint file?)`);
  const rels = relationships(xmlPart(book, workbookRels, 'workbook relationships'), office.target);
  const sheet = chooseSheet(workbook, rels, sheetName);
  const sharedPart = rels.find((r) => isType(r, 'sharedStrings'))?.target;
  const data = readZipParts(bytes, (key) => key === sheet.part || key === sharedPart, budget);
  const shared = sharedPart ? xmlChildren(xmlPart(data, sharedPart, 'shared strings'), 'si').map(stringItem) : [];
  const rows: SheetRows['rows'] = [];
  let row = 0;
  for (const rowNode of xmlChildren(xmlChild(xmlPart(data, sheet.part, `worksheet "${sheet.name}"`), 'sheetData'), 'row')) {
    const r = xmlAttr(rowNode, 'r');
    row = r === null ? row + 1 : /^[1-9][0-9]{0,6}$/.test(r) ? Number(r) : 0;
    if (row === 0) throw new XlsxProblem(`worksheet "${sheet.name}" has a row numbered "${shown(r ?? '')}"`);
    const cells: SheetCell[] = [];
    let column = 0;
    for (const cell of xmlChildren(rowNode, 'c')) {
      const ref = xmlAttr(cell, 'r');
      const at = ref === null ? { row, column: column + 1 } : parseRef(ref);
      if (!at || at.row !== row) throw new XlsxProblem(`worksheet "${sheet.name}" has a cell "${shown(ref ?? '')}" in row ${row}`);
      column = at.column;
      const value = cellText(cell, shared, (why) => new XlsxProblem(why, { sheet: sheet.name, ...at }));
      if (value.trim() !== '') cells.push({ value, ...at });
    }
    if (cells.length > 0) rows.push({ row, cells });
  }
  return { sheet: sheet.name, rows };
}
