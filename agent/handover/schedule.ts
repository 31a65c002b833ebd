/**
 * The installer's handover schedule: the devices a site is meant to have, as CSV (RFC 4180, a
 * header row), JSON (an array of objects, or `{ "devices": [...] }`) or an Excel workbook (.xlsx,
 * its first visible sheet with a header row; agent/handover/xlsx.ts). Column / key names are
 * case-insensitive; an unknown one is an error that names it, so a typo ("seral") is not silently
 * ignored. Every error names the file, line and column (1-based) of the offending text, or in a
 * workbook its sheet and cell (`C7`).
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { basename } from 'node:path';
import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import { readBoundedTextFile } from '../bounded-file.js';
import { agentError } from '../errors.js';
import { displaySafe } from '../safe-text.js';
import { columnName, looksLikeOle2, looksLikeZip, readSheet, XlsxProblem } from './xlsx.js';

export const HANDOVER_COLUMNS = ['ip', 'mac', 'serial', 'model', 'firmware', 'brand', 'location'] as const;
export type HandoverColumn = (typeof HANDOVER_COLUMNS)[number];

/** One expected device; at least one of ip, mac, serial is set. `line` is where it is written (a workbook's row number). */
export type ExpectedDevice = Record<HandoverColumn, string | null> & { line: number };

/** A handover file larger than this is not a schedule. */
const MAX_HANDOVER_BYTES = 4 * 1024 * 1024;
const MAC = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

export function readHandoverFile(file: string, options: ScheduleOptions = {}): ExpectedDevice[] {
  return readHandoverSchedule(file, options).devices;
}

export interface ScheduleOptions {
  /** The workbook sheet to read (an .xlsx only); the first visible one when absent. */
  sheet?: string;
}

/** Which schedule a verification checked: the file's name and the SHA-256 of its bytes (hex), for a sign-off. */
export interface ScheduleFile {
  name: string;
  sha256: string;
}

/** The schedule's devices and which file they came from. */
export function readHandoverSchedule(file: string, options: ScheduleOptions = {}): { devices: ExpectedDevice[]; source: ScheduleFile } {
  const read = readBoundedTextFile(file, { maxBytes: MAX_HANDOVER_BYTES });
  if (!read.ok) throw agentError('CCTV_ERR_HANDOVER_UNREADABLE', file, read.reason);
  const source = { name: basename(file), sha256: createHash('sha256').update(read.bytes).digest('hex') };
  return { devices: parseHandoverBytes(read.bytes, read.text, file, options), source };
}

/** A workbook when the name ends in .xlsx or the bytes are a ZIP; otherwise text ({@link parseHandover}). */
function parseHandoverBytes(bytes: Buffer, text: string, file: string, options: ScheduleOptions): ExpectedDevice[] {
  if (looksLikeOle2(bytes)) {
    throw agentError('CCTV_ERR_BAD_XLSX', file, 'it is an Excel 97–2003 (.xls) workbook, or an .xlsx saved with a password; neither can be read');
  }
  if (/\.xlsx$/i.test(file) || looksLikeZip(bytes)) return parseXlsxHandover(bytes, file, options.sheet);
  if (options.sheet !== undefined) throw agentError('CCTV_ERR_BAD_OPTION', '--sheet', `"${file}" is not an Excel workbook (.xlsx); a CSV or JSON schedule has no sheets`);
  return parseHandover(text, file);
}

/** JSON when the first non-blank character opens an array or object, CSV otherwise. */
export function parseHandover(text: string, file: string): ExpectedDevice[] {
  const body = text.replace(/^\uFEFF/, '');
  const complain = complainAtLine(file);
  return /^\s*[[{]/.test(body) ? parseJsonHandover(body, complain) : parseCsvHandover(body, complain);
}

/** The devices of a workbook's sheet (`sheetName`, else the first visible one), read like a CSV file's rows (header row first). */
export function parseXlsxHandover(bytes: Uint8Array, file: string, sheetName?: string): ExpectedDevice[] {
  let sheet: ReturnType<typeof readSheet>;
  try {
    sheet = readSheet(bytes, sheetName);
  } catch (error) {
    if (!(error instanceof XlsxProblem)) throw error;
    if (error.at) throw agentError('CCTV_ERR_BAD_HANDOVER_CELL', file, error.at.sheet, columnName(error.at.column) + String(error.at.row), error.message);
    throw agentError('CCTV_ERR_BAD_XLSX', file, error.message);
  }
  const complain: Complain = (row, column, why) => {
    throw agentError('CCTV_ERR_BAD_HANDOVER_CELL', file, sheet.sheet, columnName(column) + String(row), why);
  };
  const [header, ...rows] = sheet.rows;
  const cells = (row: (typeof sheet.rows)[number]): TableCell[] => row.cells.map((c) => ({ value: c.value, line: c.row, column: c.column, slot: c.column }));
  return tableHandover(header ? cells(header) : [], rows.map((r) => ({ line: r.row, cells: cells(r) })), complain);
}

/** A value of the file quoted in an error line: its control and bidirectional characters shown as escapes, line breaks included. */
function quoted(text: string): string {
  return `"${displaySafe(text)}"`;
}

/** Where a value is written: line and column of a text file, or row and column of a sheet (1-based). */
interface Cell {
  value: string;
  line: number;
  column: number;
}

/** A cell of a table (CSV or sheet); `slot` ties it to its header cell: the field's index in a CSV record, the column of a sheet. */
interface TableCell extends Cell {
  slot: number;
}

/** Throws the file's coded error for a problem at a position. */
type Complain = (line: number, column: number, why: string) => never;

function complainAtLine(file: string): Complain {
  return (line, column, why) => {
    throw agentError('CCTV_ERR_BAD_HANDOVER', file, line, column, why);
  };
}

const EMPTY_SCHEDULE = 'the file is empty; it needs a header row (ip,mac,serial,model,firmware,brand,location)';

function parseCsvHandover(text: string, complain: Complain): ExpectedDevice[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, { info: true, skip_empty_lines: true, bom: true }) as unknown as typeof records; // `info: true` wraps each record
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const opened = error.code === 'CSV_QUOTE_NOT_CLOSED' ? unclosedQuote(text) : null;
    const at = opened ?? { line: Number((error as CsvError & { lines?: number }).lines ?? 1), column: 1 };
    return complain(at.line, at.column, csvReason(error));
  }
  const cells = ({ record, info }: (typeof records)[number]): TableCell[] =>
    record.map((value, slot) => ({ value, line: info.lines, column: columnOf(text, info.lines, slot), slot }));
  const [header, ...rows] = records;
  return tableHandover(header ? cells(header) : [], rows.map((r) => ({ line: r.info.lines, cells: cells(r) })), complain);
}

/** A header row and the rows under it (CSV records or sheet rows) → devices. */
function tableHandover(header: TableCell[], rows: { line: number; cells: TableCell[] }[], complain: Complain): ExpectedDevice[] {
  if (header.length === 0) return complain(1, 1, EMPTY_SCHEDULE);
  const columns = new Map<number, HandoverColumn>();
  for (const cell of header) {
    const column = knownColumn(cell.value, cell, complain);
    if ([...columns.values()].includes(column)) {
      return complain(cell.line, cell.column, `column ${quoted(cell.value)} is a second "${column}" column; keep one`);
    }
    columns.set(cell.slot, column);
  }
  return rows.map(({ line, cells: values }) => {
    const cells = new Map<HandoverColumn, Cell>();
    for (const cell of values) {
      const column = columns.get(cell.slot);
      if (column) cells.set(column, cell);
      else if (cell.value.trim() !== '') complain(cell.line, cell.column, `${quoted(cell.value)} is in a column with no header name`);
    }
    return expectedDevice(cells, line, complain);
  });
}

function csvReason(error: CsvError): string {
  if (error.code === 'CSV_QUOTE_NOT_CLOSED') return 'a quoted value is never closed (a " is missing)';
  if (error.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') return 'this row has a different number of values than the header row';
  return error.message;
}

/** Where the quote that csv-parse found unclosed was opened (RFC 4180 §2: "" inside quotes is an escaped quote). */
function unclosedQuote(text: string): { line: number; column: number } | null {
  let line = 1;
  let column = 0;
  let opened: { line: number; column: number } | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    column++;
    if (ch === '"') {
      if (!opened) opened = { line, column };
      else if (text[i + 1] === '"') {
        i++;
        column++;
      } else opened = null;
    }
    if (ch === '\n') {
      line++;
      column = 0;
    }
  }
  return opened;
}

/** 1-based character column where field `index` of physical line `line` starts (quotes honoured). */
function columnOf(text: string, line: number, index: number): number {
  const lines = text.split('\n');
  const content = lines[line - 1] ?? '';
  let field = 0;
  let quoted = false;
  for (let i = 0; i < content.length && field < index; i++) {
    const ch = content[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      field++;
      if (field === index) return i + 2;
    }
  }
  return 1;
}

/**
 * The header names installers' schedules and asset-register exports use for each column, written
 * as {@link headerKey} reduces them (`IP Address` → `ipaddress`, `Serial No.` → `serialno`). A name
 * not listed is still an error: a guess could file a value under the wrong field.
 */
const HEADER_NAMES: Readonly<Record<HandoverColumn, readonly string[]>> = {
  ip: ['ip', 'ipaddress', 'ipaddr', 'ipv4', 'ipv4address'],
  mac: ['mac', 'macaddress', 'macaddr', 'hardwareaddress', 'ethernetaddress'],
  serial: ['serial', 'serialno', 'serialnumber', 'serialnum', 'sn'],
  model: ['model', 'modelno', 'modelnumber', 'modelname'],
  firmware: ['firmware', 'firmwareversion', 'fw', 'fwversion', 'softwareversion'],
  brand: ['brand', 'make', 'manufacturer', 'vendor'],
  location: ['location', 'position', 'place'],
};

/** A header name without case, spaces and punctuation: `Serial No.` → `serialno`. */
function headerKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const COLUMN_OF_HEADER: ReadonlyMap<string, HandoverColumn> = new Map(
  HANDOVER_COLUMNS.flatMap((column) => HEADER_NAMES[column].map((name) => [name, column] as const)),
);

function knownColumn(name: string, at: { line: number; column: number }, complain: Complain): HandoverColumn {
  return COLUMN_OF_HEADER.get(headerKey(name)) ?? complain(at.line, at.column, `unknown column ${quoted(name)}`);
}

function expectedDevice(cells: Map<HandoverColumn, Cell>, line: number, complain: Complain): ExpectedDevice {
  const device = { line } as ExpectedDevice;
  for (const column of HANDOVER_COLUMNS) {
    const cell = cells.get(column);
    const value = cell?.value.trim() ?? '';
    device[column] = value === '' ? null : value;
    if (!cell || value === '') continue;
    if (column === 'ip' && !isIPv4(value)) {
      complain(cell.line, cell.column, `${quoted(value)} is not an IPv4 address`);
    }
    if (column === 'mac') {
      if (!MAC.test(value)) {
        complain(cell.line, cell.column, `${quoted(value)} is not a MAC address (like bc:ad:28:4f:12:9e)`);
      }
      device.mac = value.toLowerCase().replaceAll('-', ':');
    }
  }
  if (!device.ip && !device.mac && !device.serial) {
    complain(line, 1, 'the device has none of ip, mac or serial, so it cannot be matched');
  }
  return device;
}

// ---- JSON (RFC 8259) with positions ---------------------------------------------------------
// JSON.parse gives no line or column in Node 20, so the schedule is read by this small parser,
// which keeps the position of every value.

type JsonNode =
  | { kind: 'object'; entries: { key: string; keyAt: number; value: JsonNode }[]; at: number }
  | { kind: 'array'; items: JsonNode[]; at: number }
  | { kind: 'scalar'; value: string | number | boolean | null; at: number };

class JsonSyntaxError extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

/** Deepest nesting accepted: a schedule is two levels deep. */
const MAX_JSON_DEPTH = 16;

function parseJson(text: string): JsonNode {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i] ?? '')) i++;
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(i, i >= text.length ? `the file ends early: ${what}` : `unexpected ${JSON.stringify(text[i])}: ${what}`);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) fail('a string cannot hold a control character or line break');
      i++;
    }
    if (i >= text.length) {
      i = start;
      throw new JsonSyntaxError(start, 'a string is never closed (a " is missing)');
    }
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      throw new JsonSyntaxError(start, 'a string has an invalid escape');
    }
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_JSON_DEPTH) fail('nested too deeply');
    ws();
    const at = i;
    const ch = text[i];
    if (ch === '{') {
      i++;
      const entries: { key: string; keyAt: number; value: JsonNode }[] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', entries, at };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "quoted" key');
        const keyAt = i;
        const key = string();
        ws();
        if (text[i] !== ':') fail('expected ":" after the key');
        i++;
        entries.push({ key, keyAt, value: value(depth + 1) });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { kind: 'object', entries, at };
        } else fail('expected "," or "}"');
      }
    }
    if (ch === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'array', items, at };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return { kind: 'array', items, at };
        } else fail('expected "," or "]"');
      }
    }
    if (ch === '"') return { kind: 'scalar', value: string(), at };
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 64));
    if (!literal) return fail('expected a value');
    i += literal[0].length;
    return { kind: 'scalar', value: JSON.parse(literal[0]) as string | number | boolean | null, at };
  };
  const root = value(0);
  ws();
  if (i < text.length) fail('expected the end of the file');
  return root;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

function parseJsonHandover(text: string, complain: Complain): ExpectedDevice[] {
  const bad = (offset: number, why: string): never => {
    const { line, column } = lineColumn(text, offset);
    return complain(line, column, why);
  };
  let root: JsonNode;
  try {
    root = parseJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) return bad(error.at, error.message);
    throw error;
  }
  let list = root;
  if (root.kind === 'object') {
    const devices = root.entries.find((e) => e.key.toLowerCase() === 'devices');
    const other = root.entries.find((e) => e.key.toLowerCase() !== 'devices');
    if (other) return bad(other.keyAt, `unknown key ${quoted(other.key)} (the top level holds only "devices")`);
    if (!devices) return bad(root.at, 'expected an array of devices, or { "devices": [...] }');
    list = devices.value;
  }
  if (list.kind !== 'array') return bad(list.at, 'expected an array of devices');
  return list.items.map((item) => {
    if (item.kind !== 'object') return bad(item.at, 'each device must be an object like { "ip": "198.18.0.21", "model": "…" }');
    const cells = new Map<HandoverColumn, Cell>();
    for (const entry of item.entries) {
      const column = knownColumn(entry.key, lineColumn(text, entry.keyAt), complain);
      if (cells.has(column)) return bad(entry.keyAt, `${quoted(entry.key)} is a second "${column}" of this device; keep one`);
      const { value } = entry;
      if (value.kind !== 'scalar' || typeof value.value === 'boolean') return bad(value.at, `${quoted(entry.key)} must be a string`);
      cells.set(column, { value: value.value === null ? '' : String(value.value), ...lineColumn(text, value.at) });
    }
    return expectedDevice(cells, lineColumn(text, item.at).line, complain);
  });
}
