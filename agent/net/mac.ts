/**
 * MAC addresses (IEEE 802 EUI-48) in the one form the agent stores and prints: lower-case hex
 * octets joined by colons, as Linux `ip neigh` prints them.
 */

/** The form normaliseMac returns. */
const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/**
 * Normalises a MAC address to lower-case colon form (`58:50:ed:1f:e3:85`). Accepts `-`, `:` or
 * `.` separated forms (octets may drop a leading zero: `8-0-…`), Cisco dotted triples and 12 bare
 * hex digits. Null for anything else.
 */
export function normaliseMac(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  // Most MACs the agent handles are already in this form (the neighbour table's): no work to do.
  if (CANONICAL_MAC.test(value)) return value;
  const trimmed = value.trim();
  if (trimmed.length > 32) return null;
  let hex: string;
  if (/^[0-9a-f]{12}$/i.test(trimmed)) {
    hex = trimmed;
  } else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i.test(trimmed)) {
    hex = trimmed.replaceAll('.', '');
  } else {
    const parts = trimmed.split(/[-:]/);
    if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) return null;
    if (new Set(trimmed.replace(/[0-9a-f]/gi, '')).size !== 1) return null; // one separator style
    hex = parts.map((p) => p.padStart(2, '0')).join('');
  }
  return hex.toLowerCase().match(/../g)!.join(':');
}
