/** The fingerprint engine: data loading, matching, the self-test, OUI lookup, and the reports the CLI and README show. */
export * from './types.js';
export {
  defaultFingerprintDir,
  readFields,
  readVendors,
  readOui,
  readRuleFiles,
} from './load.js';
export { matchValue, fingerprintDevice, namedGroups, capturesOf, claimOf, describeField, type FingerprintInput, type DeviceFingerprint } from './match.js';
export { verifyFingerprints, checkStructure, checkExample, checkOuiTable, checkCitations, citationsOf } from './verify.js';
export {
  lookupOui,
  buildOuiTable,
  serialiseOuiTable,
  vendorsForOrganisation,
  type OuiFile,
  type OuiBuildResult,
} from './oui.js';
export { fieldsText, matchReport, matchText, type MatchEntry, type MatchReport } from './explain.js';
export { coverageMarkdown, withCoverage, COVERAGE_START, COVERAGE_END } from './coverage.js';
export { FIELDS_FILE, VENDORS_FILE, OUI_FILE, RULES_DIR, OUI_FORMAT } from './paths.js';
