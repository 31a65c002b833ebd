/** File names inside a fingerprint database directory (fingerprints/ by default). */
export const FIELDS_FILE = 'fields.yaml';
export const VENDORS_FILE = 'vendors.yaml';
export const OUI_FILE = 'oui.json';
export const RULES_DIR = 'rules';
export const OUI_FORMAT = 'cctv-agent/oui/v2';
