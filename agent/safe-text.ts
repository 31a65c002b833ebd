/**
 * Device strings are hostile input, and some characters act on the person who reads them rather
 * than being read:
 * - C0 controls U+0000–U+001F and DEL (ECMA-48 §5.2/§8: ESC starts escape sequences that clear the
 *   screen or set the window title, BEL rings, CR rewrites the line);
 * - C1 controls U+0080–U+009F (ECMA-48 §5.2: U+009B is a one-character CSI on terminals that honour
 *   8-bit controls);
 * - bidirectional formatting characters (Unicode UAX #9 §2.1–2.6: ALM U+061C, LRM/RLM U+200E/F,
 *   LRE/RLE/PDF/LRO/RLO U+202A–U+202E, LRI/RLI/FSI/PDI U+2066–U+2069), which reorder the text
 *   around them ("Trojan Source", CVE-2021-42574).
 *
 * Two defences, one character class:
 * - at ingest, every codec's device-supplied value goes through {@link cleanDeviceText} (and a
 *   codec's fields through {@link cleanDeviceFields}, which records what it changed);
 * - at output, every string a person reads on a terminal goes through {@link displaySafe}, which
 *   shows what is left (a store written by an older agent, a handover file) as `\x1b` or `\u202e`.
 *   JSON keeps the raw value, escaped as JSON allows ({@link jsonSafe}).
 */
import type { Fields } from './types.js';

const C0 = '\\u0000-\\u001f';
/** DEL, C1 and the bidirectional formatting characters: the part of the class JSON.stringify leaves raw. */
const BEYOND_C0 = '\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
const UNSAFE = new RegExp(`[${C0}${BEYOND_C0}]`);
const UNSAFE_ALL = new RegExp(`[${C0}${BEYOND_C0}]`, 'g');
/** JSON.stringify escapes C0 in strings itself; C0 outside strings is layout. */
const LEFT_RAW_BY_JSON = new RegExp(`[${BEYOND_C0}]`, 'g');
/** Controls that separate words (HT, LF, VT, FF, CR, NEL): cleaning makes them a space, not nothing. */
const SEPARATORS = /[\t\n\v\f\r\u0085]/g;

/** True when `text` holds a character of the class above. */
export function hasUnsafeText(text: string): boolean {
  return UNSAFE.test(text);
}

/**
 * The one cleaning function of device-supplied text: separators (tab, line breaks) become spaces,
 * every other control and bidirectional formatting character is removed, and the ends are trimmed.
 */
export function cleanDeviceText(value: string): string {
  if (!UNSAFE.test(value)) return value.trim();
  return value.replace(SEPARATORS, ' ').replace(UNSAFE_ALL, '').trim();
}

/**
 * Observation field naming the fields of the same observation whose device-supplied value held such
 * characters, removed at ingest; agent/pipeline/assess.ts turns each into a piece of evidence.
 */
export const CLEANED_FIELD = 'text.cleaned';

/**
 * A codec's fields with every value that holds such characters cleaned ({@link cleanDeviceText});
 * the names of the fields it changed are listed under {@link CLEANED_FIELD} (with those an earlier
 * call listed). Other values are left exactly as they are. A list value loses the items that were
 * nothing but such characters.
 */
export function cleanDeviceFields(fields: Readonly<Fields>): Fields {
  const cleaned: Fields = {};
  const changed: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (name === CLEANED_FIELD) continue;
    if (typeof value === 'string') {
      if (!hasUnsafeText(value)) {
        cleaned[name] = value;
        continue;
      }
      changed.push(name);
      cleaned[name] = cleanDeviceText(value);
    } else {
      if (!value.some(hasUnsafeText)) {
        cleaned[name] = [...value];
        continue;
      }
      changed.push(name);
      cleaned[name] = value.flatMap((item) => {
        if (!hasUnsafeText(item)) return [item];
        const text = cleanDeviceText(item);
        return text === '' ? [] : [text];
      });
    }
  }
  const earlier = fields[CLEANED_FIELD];
  const all = [...new Set([...(Array.isArray(earlier) ? earlier : earlier ? [earlier] : []), ...changed])];
  if (all.length > 0) cleaned[CLEANED_FIELD] = all.sort();
  return cleaned;
}

function escaped(character: string): string {
  const code = character.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text fit for a terminal, a table cell or a CSV cell: every character of the class above is shown
 * as its escape (`\x1b`, `\x07`, `\n`'s `\x0a`, `\u202e`), never passed on to be interpreted.
 */
export function displaySafe(text: string): string {
  return text.replace(UNSAFE_ALL, escaped);
}

/** {@link displaySafe} for text of several lines (a message, a whole report): line feeds are kept. */
export function displaySafeLines(text: string): string {
  return text.split('\n').map(displaySafe).join('\n');
}

/**
 * JSON text whose strings keep their raw value but show no raw control or bidirectional character:
 * JSON.stringify escapes C0 controls in strings itself (the line breaks of an indented document
 * are layout); DEL, C1 and the bidirectional characters it leaves raw are written as `\uXXXX`
 * escapes (RFC 8259 §7), which a JSON reader turns back into the same value. Outside strings,
 * JSON text holds none of those, so replacing them in the whole text is exact.
 */
export function jsonSafe(json: string): string {
  return json.replace(LEFT_RAW_BY_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
