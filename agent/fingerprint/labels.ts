/**
 * Labels that name no brand. Firmware sold without a brand fills its vendor/manufacturer fields
 * with a placeholder ("Private", "General" on Dahua firmware; "IP-Camera" on generic ONVIF
 * servers): such a label is not the device's brand. Which labels are placeholders is data, the
 * rules of kind `brand-label` that support no vendor (fingerprints/kinds/brand-label.yaml); the
 * brand a model's own prefix names (DS- → Hikvision, DH- → Dahua) is data too
 * (fingerprints/comparison.yaml `brand`).
 */
import type { FingerprintDb, Vendor } from './types.js';

/** The kind of the rules that recognise labels (fingerprints/kinds/brand-label.yaml). */
export const BRAND_LABEL_KIND = 'brand-label';

const placeholderPatterns = new WeakMap<FingerprintDb, readonly RegExp[]>();

/** The patterns of the `brand-label` rules that support no vendor, once per database. */
function placeholdersOf(db: FingerprintDb): readonly RegExp[] {
  let patterns = placeholderPatterns.get(db);
  if (!patterns) {
    patterns = [...new Set(db.rules.filter((rule) => rule.kind === BRAND_LABEL_KIND && rule.supports === null).map((rule) => rule.pattern))];
    placeholderPatterns.set(db, patterns);
  }
  return patterns;
}

/** True when `label` is a placeholder that names no brand (a `brand-label` rule supporting no vendor matches it). */
export function isGenericLabel(db: FingerprintDb, label: string): boolean {
  const value = label.trim();
  return placeholdersOf(db).some((pattern) => pattern.test(value));
}

/** `label`, unless it is empty or a placeholder that names no brand. */
export function brandLabel(db: FingerprintDb, label: string | null): string | null {
  return label !== null && label.trim() !== '' && !isGenericLabel(db, label) ? label : null;
}

/** The vendor whose brand the model's prefix names (`DH-IPC-HDW1230T2` → Dahua), if comparison.yaml gives one. */
export function brandOfModel(db: FingerprintDb, model: string | null): Vendor | null {
  if (model === null) return null;
  const upper = model.trim().toUpperCase();
  for (const [prefix, key] of db.comparison.prefixBrands) {
    if (upper.startsWith(prefix) && upper.length > prefix.length) return db.vendors.get(key) ?? null;
  }
  return null;
}
