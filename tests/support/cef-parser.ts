/**
 * A strict parser of what a SIEM receives from the alerts' syslog sink, for the tests: RFC 5424
 * messages (header fields as §6 defines them, no structured data) and RFC 6587 octet-counted
 * frames, and the CEF line they carry, refusing anything the ArcSight CEF standard (version 25)
 * does not allow: a header with an unescaped `|` or a backslash escaping anything but `\` and `|`,
 * a line break anywhere, an extension key outside the dictionary subset the agent may send, an
 * unescaped `=` inside a value, a backslash escaping anything but `\`, `=`, `n` and `r`.
 */

export interface CefEvent {
  version: number;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: number;
  extension: Record<string, string>;
}

export interface SyslogMessage {
  pri: number;
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  msg: string;
}

/** CEF dictionary keys the agent's mapping may use (README, "Alerts"). */
const KEYS = new Set([
  'rt', 'dst', 'dmac', 'c6a3', 'c6a3Label', 'msg', 'externalId',
  'cs1', 'cs1Label', 'cs2', 'cs2Label', 'cs3', 'cs3Label', 'cs4', 'cs4Label', 'cs5', 'cs5Label', 'cs6', 'cs6Label',
  'flexString1', 'flexString1Label', 'flexString2', 'flexString2Label',
  'cnt', 'cn1', 'cn1Label', 'cn2', 'cn2Label',
]);

export function parseCef(line: string): CefEvent {
  if (/[\r\n]/.test(line)) throw new Error('a CEF line holds no line break');
  if (!line.startsWith('CEF:')) throw new Error('not a CEF line');
  const header: string[] = [];
  let field = '';
  let i = 4;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i];
    if (c === '\\') {
      const next = line[i + 1];
      if (next !== '\\' && next !== '|') throw new Error(`header: "\\${next ?? ''}" is no CEF header escape`);
      field += next;
      i++;
    } else if (c === '|') {
      header.push(field);
      field = '';
    } else field += c;
  }
  if (header.length !== 7) throw new Error('a CEF header has 7 fields ending with |');
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = header as [string, string, string, string, string, string, string];
  if (version !== '0') throw new Error(`CEF version ${version}`);
  if (!/^(?:[0-9]|10)$/.test(severity)) throw new Error(`severity "${severity}" is not 0-10`);
  return { version: 0, vendor, product, deviceVersion, signatureId, name, severity: Number(severity), extension: parseExtension(line.slice(i)) };
}

function parseExtension(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < text.length) {
    const key = /^([A-Za-z0-9_]+)=/.exec(text.slice(pos));
    if (!key?.[1]) throw new Error(`extension: no key=value at "${text.slice(pos, pos + 20)}"`);
    if (!KEYS.has(key[1])) throw new Error(`extension: unknown key ${key[1]}`);
    if (key[1] in out) throw new Error(`extension: key ${key[1]} twice`);
    pos += key[0].length;
    let value = '';
    for (; pos < text.length; pos++) {
      const c = text[pos] as string;
      if (c === '\\') {
        const next = text[pos + 1];
        const map: Record<string, string> = { '\\': '\\', '=': '=', n: '\n', r: '\r' };
        if (next === undefined || !(next in map)) throw new Error(`extension: "\\${next ?? ''}" is no CEF extension escape`);
        value += map[next];
        pos++;
      } else if (c === '=') {
        throw new Error(`extension: unescaped = in the value of ${key[1]}`);
      } else if (c === ' ' && /^ [A-Za-z0-9_]+=/.test(text.slice(pos))) {
        pos++;
        break;
      } else value += c;
    }
    out[key[1]] = value;
  }
  return out;
}

const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) - (.*)$/s;

export function parseSyslog(message: string): SyslogMessage {
  const m = RFC5424.exec(message);
  if (!m) throw new Error(`not an RFC 5424 message without structured data: ${message.slice(0, 80)}`);
  const pri = Number(m[1]);
  if (pri > 191) throw new Error(`PRI ${pri} is above 191`);
  if (m[7]?.startsWith('\ufeff')) throw new Error('MSG starts with a BOM: CEF parsers want the line from its first byte');
  return { pri, facility: Math.floor(pri / 8), severity: pri % 8, timestamp: m[2] ?? '', hostname: m[3] ?? '', appName: m[4] ?? '', procId: m[5] ?? '', msgId: m[6] ?? '', msg: m[7] ?? '' };
}

/** Splits RFC 6587 §3.4.1 octet-counted frames; throws on anything else (a partial frame included). */
export function splitOctetCounted(stream: Buffer): string[] {
  const messages: string[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const space = stream.indexOf(0x20, pos);
    const length = stream.subarray(pos, space).toString('ascii');
    if (space < 0 || !/^[1-9][0-9]{0,8}$/.test(length)) throw new Error(`no octet count at byte ${pos}`);
    const end = space + 1 + Number(length);
    if (end > stream.length) throw new Error('a frame is cut short');
    messages.push(stream.subarray(space + 1, end).toString('utf8'));
    pos = end;
  }
  return messages;
}
