/**
 * recog's self-test (spec/lib/fingerprint_self_test_spec.rb) over the real knowledge base: the
 * verifier runs every example (rules and CVEs) and must find nothing. Then each kind of mistake, made
 * in a copy of the data, must be reported with its file and rule (or line and key), and the
 * matcher's behaviour.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AgentError } from '../../agent/errors.js';
import {
  defaultFingerprintDir,
  fingerprintDevice,
  matchValue,
  verifyFingerprints,
  type FingerprintProblem,
} from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';

const db = loadKnowledge();

describe('knowledge base self-test', () => {
  it('loads from the package fingerprints/ folder once, and is cached', () => {
    expect(db.dir).toBe(defaultFingerprintDir());
    expect(loadKnowledge()).toBe(db);
    expect(db.rules.length).toBeGreaterThan(50);
    expect(db.cves.cves.length).toBeGreaterThan(0);
    expect(db.ports.length).toBeGreaterThan(0);
  });

  it('every rule, example, OUI entry and CVE example verifies (the list names each failure: file, rule, why)', () => {
    // One test over the whole data set: examples are data, and a failure message names its file
    // and rule; the tests below prove that each kind of mistake is caught.
    expect(messages(verifyFingerprints(db))).toEqual([]);
  });

  it('every data file names its JSON Schema for editors, and every schema is used', () => {
    const schemaDir = join(db.dir, '..', 'schema', 'knowledge');
    const files = ['fields', 'vendors', 'classification', 'cves', 'policies', 'ports', 'http-probes', 'mdns-services', 'lockout', 'comparison', 'mac-carriers', 'serial-carriers'].map((f) => [`${f}.yaml`, `${f}.schema.json`]);
    files.push(...db.files.map((f) => [f.file, 'rules.schema.json']));
    for (const [file, schema] of files) {
      const first = readFileSync(join(db.dir, file!), 'utf8').split('\n')[0];
      const depth = file!.split('/').length - 1;
      expect(first, file).toBe(`# yaml-language-server: $schema=${'../'.repeat(depth + 1)}schema/knowledge/${schema}`);
    }
    const used = new Set([...files.map(([, schema]) => schema), 'oui.schema.json']);
    expect(readdirSync(schemaDir).sort()).toEqual([...used].sort());
  });

  it('the inventory schema\'s linkedVendor values are the linked vendors of vendors.yaml', () => {
    // The inventory document is a published contract (its enum is not generated), so a vendor
    // linked in data but not in the schema, or the reverse, must fail here rather than in a report.
    const inventory = JSON.parse(readFileSync(join(db.dir, '..', 'schema', 'cctv-inventory-v1.schema.json'), 'utf8')) as {
      $defs: { device: { properties: { classification: { properties: { linkedVendor: { enum: (string | null)[] } } } } } };
    };
    const values = inventory.$defs.device.properties.classification.properties.linkedVendor.enum;
    expect(values.filter((v) => v !== null).sort()).toEqual([...db.linkedVendors].sort());
    expect(values).toContain(null);
  });
});

describe('generic defaults are never classified', () => {
  it('the HappyTime name and hardware scopes match only supports-null rules', () => {
    for (const [field, value] of [
      ['onvif.scope.name', 'IP-Camera'],
      ['onvif.scope.hardware', 'HI3518C'],
    ] as const) {
      const matches = matchValue(db, field, value);
      expect(matches.length).toBeGreaterThan(0);
      expect(matches.every((m) => m.rule.supports === null)).toBe(true);
    }
  });
});

describe('matchValue', () => {
  it('returns every matching rule of the field, in file order, with captures', () => {
    const matches = matchValue(db, 'onvif.device.firmware', 'V2.400.AC01.15.R.20170328');
    expect(matches.map((m) => m.rule.id)).toEqual(['firmware-dahua-amcrest-build', 'firmware-dahua-oem-build']);
    const serial = matchValue(db, 'onvif.device.serial', 'DS-2CD2385G1-I20200414AAWRE33842150');
    expect(serial.map((m) => [m.rule.id, m.captures])).toEqual([['serial-hikvision', { model: 'DS-2CD2385G1-I' }]]);
  });

  it('returns nothing for an unknown field or a value no rule knows', () => {
    expect(matchValue(db, 'no.such.field', 'HIKVISION')).toEqual([]);
    expect(matchValue(db, 'onvif.scope.name', 'Acme Widgets')).toEqual([]);
  });
});

describe('fingerprintDevice', () => {
  const at = '2026-11-28T09:53:00.000Z';
  const discovery: Observation = {
    source: 'ws-discovery',
    ip: '198.18.0.10',
    at,
    status: 'ok',
    fields: {
      'onvif.endpoint': 'urn:uuid:4e3a5a80-1dd2-11b2-8000-2857be123456',
      'onvif.types': ['dn:NetworkVideoTransmitter', 'tds:Device'],
      'onvif.scope.name': ['HIKVISION DS-2CD2143G2-I'],
      'onvif.scope.hardware': ['DS-2CD2143G2-I'],
      'onvif.scope.location': ['city/hangzhou'],
    },
  };
  const info: Observation = {
    source: 'onvif-device-service',
    ip: '198.18.0.10',
    port: 80,
    at,
    status: 'ok',
    fields: {
      'onvif.device.manufacturer': 'HIKVISION',
      'onvif.device.model': 'DS-2CD2143G2-I',
      'onvif.device.firmware': 'V5.7.12 build 220819',
      'onvif.device.serial': ' DS-2CD2143G2-I20220101AAWRJ12345678 ',
      'onvif.unknown.field': 'HIKVISION',
    },
  };

  it('writes evidence in plain words, OUI first, and fills identity from the field mappings', () => {
    const fp = fingerprintDevice(db, { macs: ['28:57:BE:12:34:56'], observations: [discovery, info, discovery] });
    expect(fp.evidence[0]).toEqual({
      source: 'oui',
      detail: 'MAC 28:57:be:12:34:56 is registered to Hangzhou Hikvision Digital Technology Co.,Ltd. (IEEE 2857BE)',
      supports: 'hikvision',
      rule: 'oui-registry',
      confidence: 0.5,
    });
    expect(fp.evidence).toContainEqual({
      source: 'onvif',
      detail: 'onvif.scope.name = "HIKVISION DS-2CD2143G2-I"',
      supports: 'hikvision',
      rule: 'label-hikvision',
      confidence: 0.85,
    });
    // The repeated discovery observation does not repeat evidence.
    const details = fp.evidence.map((e) => `${e.rule} ${e.detail}`);
    expect(new Set(details).size).toBe(details.length);
    expect(fp.identity).toEqual({
      manufacturer: 'HIKVISION',
      brand: null,
      model: 'DS-2CD2143G2-I',
      firmware: 'V5.7.12 build 220819',
      serial: 'DS-2CD2143G2-I20220101AAWRJ12345678',
      deviceType: 'camera',
    });
  });

  it('does not depend on the order of the observations', () => {
    const a = fingerprintDevice(db, { macs: ['28:57:be:12:34:56'], observations: [discovery, info] });
    const b = fingerprintDevice(db, { macs: ['28:57:be:12:34:56'], observations: [info, discovery] });
    expect(b).toEqual(a);
  });

  it('falls back to rule captures for identity when no field gives the value', () => {
    const fp = fingerprintDevice(db, {
      observations: [{ ...info, fields: { 'onvif.device.serial': 'DS-2CD2385G1-I20200414AAWRE33842150' } }],
    });
    expect(fp.identity.model).toBe('DS-2CD2385G1-I');
    expect(fp.evidence.some((e) => e.source === 'oui')).toBe(false);
  });

  it('uses the observations\' MAC when none is given, and ignores unknown fields and empty values', () => {
    const fp = fingerprintDevice(db, {
      observations: [{ ...info, mac: 'e0-50-8b-00-00-01', fields: { 'onvif.unknown.field': 'HIKVISION', 'onvif.device.model': '  ' } }],
    });
    expect(fp.evidence.map((e) => e.supports)).toEqual(['dahua']);
    expect(fp.identity.model).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// A deliberately broken copy of the database.

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function copyDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-fp-'));
  tempDirs.push(dir);
  cpSync(db.dir, dir, { recursive: true });
  return dir;
}

interface RawFile {
  rules: Record<string, unknown>[];
  [key: string]: unknown;
}

function editYaml(dir: string, file: string, edit: (doc: RawFile) => void): void {
  const path = join(dir, file);
  const doc = parse(readFileSync(path, 'utf8')) as RawFile;
  edit(doc);
  writeFileSync(path, stringify(doc));
}

function ruleOf(doc: RawFile, id: string): Record<string, unknown> {
  const rule = doc.rules.find((r) => r['id'] === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule;
}

function loadError(dir: string): AgentError {
  try {
    loadKnowledge(dir);
  } catch (err) {
    if (err instanceof AgentError) return err;
    throw err;
  }
  throw new Error('expected loadKnowledge to throw');
}

/** The load error of a copy of the knowledge base whose `file` has `from` (which must be there) replaced by `to`. */
function brokenLoad(file: string, from: string, to: string): string {
  const dir = copyDb();
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
  return loadError(dir).message;
}

function messages(problems: FingerprintProblem[]): string[] {
  return problems.map((p) => `${p.file} ${p.rule ?? ''}: ${p.message}`);
}

describe('a broken database is reported', () => {
  it('an example that does not match its rule, names file and rule', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/brand-label.yaml', (doc) => {
      ruleOf(doc, 'label-dahua')['examples'] = [{ value: 'Dahau' }];
    });
    expect(messages(verifyFingerprints(loadKnowledge(dir)))).toEqual([
      'kinds/brand-label.yaml label-dahua: example "Dahau" does not match the pattern',
    ]);
  });

  it('an example whose captures differ from its expect', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/serial.yaml', (doc) => {
      ruleOf(doc, 'serial-hikvision')['examples'] = [
        { value: 'DS-2CD2385G1-I20200414AAWRE33842150', expect: { model: 'DS-2CD2385G1' } },
      ];
    });
    expect(messages(verifyFingerprints(loadKnowledge(dir)))).toEqual([
      'kinds/serial.yaml serial-hikvision: example "DS-2CD2385G1-I20200414AAWRE33842150" yields {"model":"DS-2CD2385G1-I"}, expected {"model":"DS-2CD2385G1"}',
    ]);
  });

  it('an example an earlier rule of the same file matches first (a broad rule shadowing a specific one)', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/brand-label.yaml', (doc) => {
      doc.rules.unshift({
        id: 'label-too-broad',
        description: 'matches anything',
        pattern: '.',
        supports: null,
        claim: 'brand',
        confidence: 0,
        source: 'test',
        examples: [{ value: 'anything' }],
      });
    });
    const found = messages(verifyFingerprints(loadKnowledge(dir)));
    expect(found).toContain(
      'kinds/brand-label.yaml label-dahua: example "Dahua" is matched first by the earlier rule "label-too-broad"',
    );
  });

  it('a pattern that does not compile stops loading, naming file and rule', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/brand-label.yaml', (doc) => {
      ruleOf(doc, 'label-lts')['pattern'] = '^(LTS';
    });
    const err = loadError(dir);
    expect(err.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(err.message).toContain(join(dir, 'kinds/brand-label.yaml'));
    expect(err.message).toMatch(/line \d+: rules\[\d+\]\.pattern: pattern "\^\(LTS" does not compile/);
  });

  it('a vendor that is not in vendors.yaml, and a named group that is not an Identity key', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/brand-label.yaml', (doc) => {
      ruleOf(doc, 'label-lts')['supports'] = 'lts-typo';
      ruleOf(doc, 'label-hikvision')['pattern'] = '^HIKVISION(?:[ _]+(?<vendor>\\S+))?$';
    });
    const err = loadError(dir);
    expect(err.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(err.message).toContain('label-lts: supports "lts-typo", which is not a key in vendors.yaml');
    expect(err.message).toContain('label-hikvision: named group "vendor" is not an Identity key');
  });

  it('schema errors: confidence out of range, unknown key, too many examples', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/realm.yaml', (doc) => {
      ruleOf(doc, 'realm-hikvision')['confidence'] = 1.5;
      ruleOf(doc, 'realm-hikvision')['supprots'] = 'hikvision';
      ruleOf(doc, 'realm-dahua-login-to')['examples'] = Array.from({ length: 21 }, (_, i) => ({ value: `Login to ND01181100000${i}` }));
    });
    const err = loadError(dir);
    expect(err.message).toContain('kinds/realm.yaml');
    expect(err.message).toMatch(/line \d+: rules\[0\]\.confidence: must be <= 1/);
    expect(err.message).toMatch(/line \d+: rules\[0\]\.supprots: is not a known key/);
    expect(err.message).toMatch(/line \d+: rules\[2\]\.examples: must NOT have more than 20 items/);
  });

  it('an unknown field', () => {
    const dir = copyDb();
    editYaml(dir, 'rules/onvif_scope.yaml', (doc) => {
      doc['field'] = 'onvif.scopes';
    });
    const err = loadError(dir);
    expect(err.message).toContain(join(dir, 'rules/onvif_scope.yaml'));
    expect(err.message).toContain('field "onvif.scopes" is not listed in fields.yaml');
  });

  it('an id used twice across files is reported on the later file', () => {
    const dir = copyDb();
    editYaml(dir, 'rules/onvif_scope.yaml', (doc) => {
      ruleOf(doc, 'scope-dahua-unique-identifier')['id'] = 'label-dahua';
    });
    const err = loadError(dir);
    expect(err.message).toContain(join(dir, 'kinds/brand-label.yaml'));
    expect(err.message).toContain('label-dahua: id is already used in rules/onvif_scope.yaml');
  });

  it('a YAML syntax error names the file', () => {
    const dir = copyDb();
    writeFileSync(join(dir, 'rules/onvif_scope.yaml'), 'field: onvif.scope\nrules: [\n');
    const err = loadError(dir);
    expect(err.message).toContain(join(dir, 'rules/onvif_scope.yaml'));
    expect(err.message).toContain('not valid YAML');
  });

  it('oui.json out of step with vendors.yaml', () => {
    const dir = copyDb();
    const path = join(dir, 'vendors.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace("'^Amcrest Technologies\\b'", "'^Amcrest Technology Ltd\\b'"));
    expect(messages(verifyFingerprints(loadKnowledge(dir)))).toContain(
      'oui.json Amcrest Technologies: is recorded as "amcrest" (4 prefixes) but vendors.yaml maps it to null: rerun scripts/generate-oui.mjs',
    );
  });

  it('a vendor table entry whose relation contradicts its link', () => {
    const dir = copyDb();
    const path = join(dir, 'vendors.yaml');
    const doc = parse(readFileSync(path, 'utf8')) as { vendors: Record<string, Record<string, unknown>> };
    const lts = doc.vendors['lts'];
    if (!lts) throw new Error('no lts');
    lts['relation'] = 'none';
    writeFileSync(path, stringify(doc));
    expect(loadError(dir).message).toContain('lts: relation must be "none" exactly when linkedVendor is null');
  });

  it('a CVE example whose status the data does not give is reported with the reason', () => {
    const dir = copyDb();
    const path = join(dir, 'cves.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace("firmware: 'V5.4.0 build 160531', status: not-affected", "firmware: 'V5.4.0 build 160531', status: affected"));
    expect(messages(verifyFingerprints(loadKnowledge(dir)))).toEqual([
      'cves.yaml CVE-2017-7921: examples[1] (DS-2CD2432F-IW, firmware "V5.4.0 build 160531", direct) should be affected but is not-affected: ' +
        'model DS-2CD2432F-IW is in "DS-2CD2xx2F-I Series"; firmware "V5.4.0 build 160531" is past "V5.2.0 build 140721 to V5.4.0 build 160530"',
    ]);
  });

  it('the carrier tables are checked with line and key: a pattern without its named group, a serial pattern that does not compile', () => {
    expect(brokenLoad('mac-carriers.yaml', '(?<mac>[0-9A-F]{12})', '([0-9A-F]{12})')).toMatch(/mac-carriers\.yaml" is invalid: line \d+: carriers\[0\]\.pattern: the pattern needs a named group `mac`/);
    expect(brokenLoad('serial-carriers.yaml', "serial: '(?:19|20)", "serial: '(?:19|20")).toMatch(/serial-carriers\.yaml" is invalid: line \d+: carriers\[0\]\.serial: pattern .* does not compile/);
  });

  it('the tables the discoverers use are checked too, with line and key: ports, HTTP probes, mDNS services, weights', () => {
    expect(brokenLoad('ports.yaml', '  - port: 80\n', '  - port: 80000\n')).toMatch(/ports\.yaml" is invalid: line \d+: ports\[0\]\.port: must be <= 65535/);
    expect(brokenLoad('ports.yaml', '  - port: 443\n', '  - port: 80\n')).toMatch(/line \d+: ports\[1\]\.port: port 80 is listed twice/);
    expect(brokenLoad('http-probes.yaml', '  - path: /\n', '  - path: /../etc/passwd\n')).toMatch(/http-probes\.yaml" is invalid: line \d+: paths\[0\]\.path: must NOT be valid/);
    expect(brokenLoad('mdns-services.yaml', '  - type: _http._tcp', '  - type: http')).toMatch(/mdns-services\.yaml" is invalid: line \d+: services\[0\]\.type: must match pattern/);
    expect(brokenLoad('lockout.yaml', '    failures: 5\n    lockSeconds: 1800', '    failures: 1\n    lockSeconds: 1800')).toMatch(/lockout\.yaml" is invalid: line \d+: mechanisms\[0\]\.failures: must be >= 2/);
    expect(brokenLoad('lockout.yaml', '  - name: dahua-cgi', '  - name: hikvision-isapi')).toMatch(/line \d+: mechanisms\[1\]\.name: hikvision-isapi is listed twice/);
    expect(brokenLoad('classification.yaml', 'uncertainWeight: 0.5', 'uncertainWeight: 5')).toMatch(/classification\.yaml" is invalid: line \d+: uncertainWeight: must be <= 1/);
  });

  it('a source a clone cannot check (no URL, no owner/repo path@commit, no declared gap) is reported', () => {
    const dir = copyDb();
    editYaml(dir, 'kinds/brand-label.yaml', (doc) => {
      ruleOf(doc, 'label-lts')['source'] = 'our notes, section 5';
    });
    const path = join(dir, 'ports.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/(- port: 554\n(?:.*\n)*?\s+source: ).*\n/, "$1'seen on site'\n"));
    expect(messages(verifyFingerprints(loadKnowledge(dir)))).toEqual([
      'kinds/brand-label.yaml label-lts: source "our notes, section 5" names no public source: give its URL or owner/repo path@commit (or say "no public source found")',
      'ports.yaml port 554: source "seen on site" names no public source: give its URL or owner/repo path@commit (or say "no public source found")',
    ]);
  });
});
