/** File names inside a fingerprint database directory (fingerprints/ by default). */
export const FIELDS_FILE = 'fields.yaml';
export const VENDORS_FILE = 'vendors.yaml';
export const OUI_FILE = 'oui.json';
export const RULES_DIR = 'rules';
/** Rules about a kind of value, each applied to every field its file names (optional folder). */
export const KINDS_DIR = 'kinds';
export const OUI_FORMAT = 'cctv-agent/oui/v2';
