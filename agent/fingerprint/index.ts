/** The fingerprint engine: data loading, matching, the self-test and OUI lookup. */
export * from './types.js';
export { loadFingerprints, clearFingerprintCache, defaultFingerprintDir, readFields, readVendors, readOui, readRuleFiles, buildDb } from './load.js';
export { matchValue, fingerprintDevice, namedGroups, capturesOf, claimOf, describeField, type FingerprintInput, type DeviceFingerprint } from './match.js';
export { verifyFingerprints, checkStructure, checkExample, checkOuiTable } from './verify.js';
export { lookupOui, normaliseMac, formatMac, buildOuiTable, serialiseOuiTable, vendorsForOrganisation, type OuiFile, type OuiBuildResult } from './oui.js';
export { FIELDS_FILE, VENDORS_FILE, OUI_FILE, RULES_DIR, OUI_FORMAT } from './paths.js';
