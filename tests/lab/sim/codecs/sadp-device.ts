/**
 * The device side of SADP, for the lab simulators and the codec's round-trip tests: parse the
 * inquiry a camera receives, build the ProbeMatch it answers with. Test code only: the agent
 * never parses probes nor builds replies (agent/protocols/sadp.ts is its client-side codec).
 */
import { escapeXml, leafElements, parseUntrustedXml, xmlRoot } from '../../../../agent/protocols/xml.js';
import { SADP_MAX_MESSAGE_BYTES, SADP_PROBE_MATCH_ELEMENTS, type SadpProbeMatchElements } from '../../../../agent/protocols/sadp.js';

/** A probe as a device (or the lab simulator) receives it. */
export interface SadpProbe {
  uuid: string;
  /** `inquiry` for a search; anything else is a command a simulator must not act on. */
  types: string;
}

/** Parses a `<Probe>`; null unless the root is `Probe` with a non-empty `Uuid` and `Types`. */
export function parseSadpProbe(buf: Buffer): SadpProbe | null {
  const root = xmlRoot(parseUntrustedXml(buf, SADP_MAX_MESSAGE_BYTES));
  if (!root || root.name !== 'Probe') return null;
  const elements = leafElements(root);
  const uuid = elements['Uuid'];
  const types = elements['Types'];
  if (!uuid || !types) return null;
  return { uuid, types };
}

/**
 * A ProbeMatch reply as a device sends it, for the lab simulator: elements in
 * {@link SADP_PROBE_MATCH_ELEMENTS} order whatever the order of `elements`, values XML-escaped,
 * laid out like the captured replies (declaration line, then one element per line; layout of
 * julienblitte/UniversalScanner `Hikvision.selftest`):
 * ```
 * <?xml version="1.0" encoding="UTF-8"?>
 * <ProbeMatch><Uuid>…</Uuid>
 * <Types>inquiry</Types>
 * …
 * </ProbeMatch>
 * ```
 */
export function buildSadpProbeMatch(elements: SadpProbeMatchElements): Buffer {
  let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<ProbeMatch>';
  for (const name of SADP_PROBE_MATCH_ELEMENTS) {
    const value = Object.hasOwn(elements, name) ? elements[name] : undefined;
    if (value !== undefined) xml += `<${name}>${escapeXml(value)}</${name}>\n`;
  }
  return Buffer.from(`${xml}</ProbeMatch>\n`, 'utf8');
}
