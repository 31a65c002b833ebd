/**
 * MAC → IEEE organisation → vendor: longest prefix (MA-S > MA-M > MA-L), the whole registry (every
 * MAC gets its maker), look-alikes that are not Dahua, spot checks against the IEEE registry
 * (https://standards-oui.ieee.org/), the registrant as a last-resort manufacturer, and that
 * the committed fingerprints/oui.json is what scripts/generate-oui.mjs would write from the
 * oui-data registry (the devDependency is read here and by the generator only, never at run time).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { buildDevice } from '../../agent/pipeline/assess.js';
import {
  buildOuiTable,
  fingerprintDevice,
  lookupOui,
  readOui,
  readVendors,
  serialiseOuiTable,
  vendorsForOrganisation,
  type OuiEntry,
  type OuiFile,
  type OuiTable,
} from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';
import type { Observation } from '../../agent/types.js';

const db = loadKnowledge();
const vendorOf = (mac: string): string | null => lookupOui(db, mac)?.vendor ?? null;

function table(entries: Record<string, OuiEntry>): { oui: OuiTable } {
  return {
    oui: {
      format: 'cctv-agent/oui/v1',
      registry: { package: 'test', version: '0' },
      generated: '2026-11-28',
      coverage: 'registry',
      placeholders: new Set(['IEEE Registration Authority']),
      entries: new Map(Object.entries(entries)),
    },
  };
}

describe('lookupOui', () => {
  it('reads the MAC in any form normaliseMac accepts', () => {
    const forms = ['28:57:be:12:34:56', '28-57-BE-12-34-56', '2857.be12.3456', '2857BE123456', ' 28:57:BE:12:34:56 '];
    const hits = forms.map((mac) => lookupOui(db, mac));
    expect(hits[0]).not.toBeNull();
    for (const hit of hits) expect(hit).toEqual(hits[0]);
  });

  it('finds nothing for what is not a MAC', () => {
    for (const mac of ['', '28:57:be:12:34', '28:57:be:12:34:56:78', 'zz:57:be:12:34:56', '2857be12345g', '198.18.0.10']) {
      expect(lookupOui(db, mac)).toBeNull();
    }
  });
});

describe('longest prefix wins', () => {
  const t = table({
    B0B353: { organisation: 'IEEE Registration Authority', vendor: null },
    B0B3536: { organisation: 'Hangzhou Hikrobot Technology Co., Ltd.', vendor: 'hikrobot' },
    B0B3536AB: { organisation: 'Example MA-S Holder', vendor: 'axis' },
  });

  it('MA-S (9 digits) over MA-M (7) over MA-L (6)', () => {
    expect(lookupOui(t, 'b0:b3:53:6a:bc:de')).toEqual({ prefix: 'B0B3536AB', organisation: 'Example MA-S Holder', vendor: 'axis', placeholder: false });
    expect(lookupOui(t, 'b0:b3:53:6a:cc:de')).toEqual({
      prefix: 'B0B3536',
      organisation: 'Hangzhou Hikrobot Technology Co., Ltd.',
      vendor: 'hikrobot',
      placeholder: false,
    });
    expect(lookupOui(t, 'b0:b3:53:7a:cc:de')).toEqual({ prefix: 'B0B353', organisation: 'IEEE Registration Authority', vendor: null, placeholder: true });
    expect(lookupOui(t, 'b0:b3:54:00:00:00')).toBeNull();
  });

  it('answers kept per 9-digit prefix: MACs that differ in the 9th digit get their own, and the same answer after the kept ones start again', () => {
    const masHolder = 'b0:b3:53:6a:bc:de';
    const mamHolder = 'b0:b3:53:6a:cc:de';
    expect(lookupOui(t, masHolder)?.prefix).toBe('B0B3536AB');
    expect(lookupOui(t, mamHolder)?.prefix).toBe('B0B3536');
    expect(lookupOui(t, 'B0-B3-53-6A-B0-00')?.prefix).toBe('B0B3536AB');
    // More distinct 9-digit prefixes than are kept (4,096), so the kept answers start again.
    for (let n = 0; n < 5000; n++) lookupOui(t, `b0:b3:53:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}:00`);
    expect(lookupOui(t, masHolder)?.prefix).toBe('B0B3536AB');
    expect(lookupOui(t, mamHolder)?.prefix).toBe('B0B3536');
    expect(lookupOui(t, 'b0:b3:53:7a:cc:de')?.prefix).toBe('B0B353');
  });

  it('real MA-M blocks: Hikrobot B0B3536 and Amcrest 3446632, not their neighbours', () => {
    expect(lookupOui(db, 'b0:b3:53:61:22:33')).toMatchObject({ prefix: 'B0B3536', vendor: 'hikrobot' });
    expect(vendorOf('b0:b3:53:71:22:33')).toBeNull();
    expect(lookupOui(db, '34:46:63:2f:00:01')).toMatchObject({ prefix: '3446632', organisation: 'Amcrest Technologies', vendor: 'amcrest' });
    expect(vendorOf('34:46:63:3f:00:01')).toBeNull();
  });
});

describe('look-alikes', () => {
  it('"Shanghai Dahua Scale Factory" (402C761, weighing scales) is listed but not Dahua', () => {
    expect(vendorsForOrganisation(db.vendors, 'Shanghai Dahua Scale Factory')).toEqual([]);
    expect(lookupOui(db, '40:2c:76:12:34:56')).toEqual({ prefix: '402C761', organisation: 'Shanghai Dahua Scale Factory', vendor: null, placeholder: false });
  });

  it('other look-alike registrants stay out', () => {
    expect(vendorsForOrganisation(db.vendors, 'JOREX LOREX INDIA PRIVATE LIMITED')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'CP PLUS GMBH & CO. KG')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'Hewlett Packard Enterprise')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'HP Tuners LLC')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'Bosch Automotive Aftermarket')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'AXIS CORPORATION')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'Ace Axis Limited')).toEqual([]);
  });

  it('every registry organisation that merely contains a linked vendor\'s name but is not mapped is one of the known look-alikes', () => {
    const linkedNames = /hikvision|dahua|ezviz|hikrobot|hikmicro|lorex|amcrest|intelbras|huacheng|huaray|swann|lt security|cp plus/i;
    const unmapped = new Set<string>();
    for (const e of db.oui.entries.values()) if (e.vendor === null && linkedNames.test(e.organisation)) unmapped.add(e.organisation);
    expect([...unmapped].sort()).toEqual(['CP PLUS GMBH & CO. KG', 'JOREX LOREX INDIA PRIVATE LIMITED', 'Shanghai Dahua Scale Factory']);
  });
});

describe('the whole registry', () => {
  const require = createRequire(import.meta.url);
  const registry = JSON.parse(readFileSync(require.resolve('oui-data'), 'utf8')) as Record<string, string>;

  it('every registry prefix is in the table, under the first line of its registry entry', () => {
    expect(db.oui.coverage).toBe('registry');
    expect(db.oui.entries.size).toBe(Object.keys(registry).length);
    for (const [prefix, text] of Object.entries(registry)) {
      expect(db.oui.entries.get(prefix)?.organisation, prefix).toBe(text.split('\n')[0]?.trim());
    }
  });

  it('every MAC in a registered block gets its maker, vendors.yaml or not (longest prefix wins)', () => {
    expect(lookupOui(db, '3c:2a:f4:00:00:01')).toEqual({ prefix: '3C2AF4', organisation: 'Brother Industries, LTD.', vendor: null, placeholder: false });
    expect(lookupOui(db, '10:06:48:11:22:33')).toMatchObject({ prefix: '1006481', placeholder: false });
    expect(lookupOui(db, '10:06:48:11:22:33')?.organisation).toBe(registry['1006481']?.split('\n')[0]);
  });

  it('placeholders are marked: "Private" blocks and the IEEE RA\'s own MA-L blocks', () => {
    expect([...db.oui.placeholders]).toEqual(['IEEE Registration Authority', 'Private']);
    expect(lookupOui(db, '48:76:04:00:00:01')).toMatchObject({ organisation: 'Private', placeholder: true });
    // 100648F is not assigned in oui-data 2.1.9, so the IEEE RA's parent MA-L block answers.
    expect(lookupOui(db, '10:06:48:f1:22:33')).toMatchObject({ prefix: '100648', organisation: 'IEEE Registration Authority', placeholder: true });
  });

  it('stays small: organisation names only, one line an organisation', () => {
    const path = join(db.dir, 'oui.json');
    expect(statSync(path).size).toBeLessThan(2_000_000);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('Piscataway');
    const organisations = new Set([...db.oui.entries.values()].map((e) => e.organisation));
    expect(text.split('\n').length).toBeLessThan(organisations.size + 200);
  });
});

describe('the registrant in a device', () => {
  const at = '2026-11-28T09:53:00.000Z';
  const ip = '198.18.0.50';
  const seen: Observation = { source: 'neighbour-table', ip, at, status: 'ok', fields: {} };

  function device(mac: string, fields: Observation['fields'] = {}) {
    const observations: Observation[] = [seen, ...(Object.keys(fields).length ? [{ source: 'onvif-device-service' as const, ip, port: 80, at, status: 'ok' as const, fields }] : [])];
    return buildDevice(db, { ip, addresses: [ip], mac, ownMacs: [mac], sharedMac: null, observations });
  }

  it('an OUI vendors.yaml does not know is evidence naming the organisation, supporting nothing', () => {
    const fp = fingerprintDevice(db, { macs: ['3c:2a:f4:00:00:01'], observations: [] });
    expect(fp.evidence).toEqual([
      { source: 'oui', detail: 'MAC 3c:2a:f4:00:00:01 is registered to Brother Industries, LTD. (IEEE 3C2AF4)', supports: null, rule: 'oui-registry', confidence: 0 },
    ]);
    expect(fp.registrant).toBe('Brother Industries, LTD.');
  });

  it('is the manufacturer when nothing better names one, and moves no verdict', () => {
    const d = device('3c:2a:f4:00:00:01');
    expect(d.identity.manufacturer).toBe('Brother Industries, LTD.');
    expect(d.classification).toEqual({ linkedVendor: null, relation: null, confidence: 0 });
  });

  it('gives way to the vendor table and to what the device says', () => {
    // 50:81:40 is registered to "HP Inc." (IEEE MA-L registry, https://standards-oui.ieee.org/): the vendor table names it "HP".
    expect(device('50:81:40:00:00:01').identity.manufacturer).toBe('HP');
    // A device that names itself keeps its own label.
    expect(device('3c:2a:f4:00:00:01', { 'onvif.device.manufacturer': 'Acme Optics' }).identity.manufacturer).toBe('Acme Optics');
  });

  it('the look-alike is a scale factory, unlinked; a placeholder names no manufacturer', () => {
    const scale = device('40:2c:76:12:34:56');
    expect(scale.identity.manufacturer).toBe('Shanghai Dahua Scale Factory');
    expect(scale.classification.linkedVendor).toBeNull();
    expect(scale.policies).toEqual([]);
    expect(device('48:76:04:00:00:01').identity.manufacturer).toBeNull();
    expect(device('10:06:48:f1:22:33').identity.manufacturer).toBeNull();
    expect(device('48:76:04:00:00:01').evidence[0]?.detail).toBe('MAC 48:76:04:00:00:01 is registered to Private (IEEE 487604)');
  });
});

describe('spot checks (IEEE registry)', () => {
  const cases: [string, string][] = [
    // organisations as the IEEE registry https://standards-oui.ieee.org/ names them
    ['28:57:be:12:34:56', 'hikvision'],
    ['bc:ad:28:00:00:01', 'hikvision'],
    ['4c:bd:8f:00:00:01', 'hikvision'],
    ['3c:1b:f8:00:00:01', 'hikvision'],
    ['e0:50:8b:00:00:01', 'dahua'],
    ['a0:bd:1d:00:00:01', 'dahua'],
    ['08:ed:ed:87:42:7a', 'dahua'],
    // spelling variant "ZHEJIANG DAHUA TECHNOLOGYCO.,LTD"
    ['30:dd:aa:00:00:01', 'dahua'],
    ['90:02:a9:00:00:01', 'dahua'],
    ['58:50:ed:1f:e3:85', 'hikvision'],
    ['24:28:fd:22:c3:19', 'hikvision'],
    ['0c:a6:4c:00:00:01', 'ezviz'],
    ['34:bd:20:00:00:01', 'hikrobot'],
    ['a4:4c:62:00:00:01', 'hikmicro'],
    ['24:b1:05:00:00:01', 'prama-hikvision'],
    ['20:2c:05:00:00:01', 'dahua-zhilian'],
    ['00:d9:8b:00:00:01', 'imou'],
    // lower-case spelling "hangzhou huacheng network technology co., ltd"
    ['90:6a:94:00:00:01', 'imou'],
    ['30:2f:ac:00:00:01', 'huaray'],
    ['58:10:8c:00:00:01', 'intelbras'],
    ['00:1f:54:00:00:01', 'lorex'],
    ['00:65:1e:00:00:01', 'amcrest'],
    ['14:2f:fd:00:00:01', 'lts'],
    ['bc:51:fe:00:00:01', 'swann'],
    ['20:de:88:00:00:01', 'ic-realtime'],
    ['00:40:8c:00:00:01', 'axis'],
    ['48:ea:63:00:00:01', 'uniview'],
    ['c4:79:05:00:00:01', 'uniview'],
    ['3c:da:6d:00:00:01', 'tiandy'],
    ['00:09:18:00:00:01', 'hanwha'],
    ['70:1a:d5:00:00:01', 'avigilon'],
    ['50:81:40:00:00:01', 'hp'],
  ];
  for (const [mac, vendor] of cases) {
    it(`${mac} → ${vendor}`, () => {
      expect(vendorOf(mac)).toBe(vendor);
    });
  }

  it('every Hikvision (84) and Dahua (27 + 4) MA-L prefix oui-data 2.1.9 registers is in the table', () => {
    const count = (vendor: string, org: RegExp): number =>
      [...db.oui.entries.values()].filter((e) => e.vendor === vendor && org.test(e.organisation)).length;
    expect(count('hikvision', /^Hangzhou Hikvision Digital Technology Co\.,Ltd\.$/)).toBe(84);
    expect(count('dahua', /^Zhejiang Dahua Technology Co\., Ltd\.$/)).toBe(27);
    expect(count('dahua', /^ZHEJIANG DAHUA TECHNOLOGYCO\.,LTD$/)).toBe(4);
    expect(count('ezviz', /Ezviz/i)).toBe(15);
    expect(count('imou', /Huacheng/i)).toBe(6);
  });
});

describe('fingerprints/oui.json', () => {
  const require = createRequire(import.meta.url);
  const registryPath = require.resolve('oui-data');
  const pkg = JSON.parse(readFileSync(join(dirname(registryPath), 'package.json'), 'utf8')) as { name: string; version: string };

  it('records the registry package and version it came from', () => {
    expect(db.oui.format).toBe('cctv-agent/oui/v2');
    expect(db.oui.registry).toEqual({ package: pkg.name, version: pkg.version });
    expect(db.oui.generated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('is exactly what the generator writes from the registry and vendors.yaml (apart from the date)', () => {
    const registry = JSON.parse(readFileSync(registryPath, 'utf8')) as Record<string, string>;
    const { file, problems } = buildOuiTable(registry, readVendors(db.dir), {
      package: pkg.name,
      version: pkg.version,
      generated: db.oui.generated,
    });
    expect(problems).toEqual([]);
    expect(readFileSync(join(db.dir, 'oui.json'), 'utf8')).toBe(serialiseOuiTable(file));
  });

  it('the generator reports an organisation two vendors claim, and leaves it unmapped', () => {
    const vendors = readVendors(db.dir);
    const greedy = new Map(vendors);
    const axis = vendors.get('axis');
    if (!axis) throw new Error('no axis vendor');
    greedy.set('axis', { ...axis, organisations: [...axis.organisations, /Hikvision/i] });
    const { file, problems } = buildOuiTable({ '2857BE': 'Hangzhou Hikvision Digital Technology Co.,Ltd.\nNo.555 Qianmo Road' }, greedy, {
      package: 'test',
      version: '0',
      generated: '2026-11-28',
    });
    expect(problems).toEqual(['"Hangzhou Hikvision Digital Technology Co.,Ltd." matches vendors hikvision, axis']);
    expect(file.vendors).toEqual({});
    expect(file.organisations).toEqual({ 'Hangzhou Hikvision Digital Technology Co.,Ltd.': '2857BE' });
  });
});

describe('a broken oui.json is refused', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function errorFor(edit: (file: OuiFile) => void): AgentError {
    const dir = mkdtempSync(join(tmpdir(), 'cctv-oui-'));
    dirs.push(dir);
    cpSync(join(db.dir, 'oui.json'), join(dir, 'oui.json'));
    const file = JSON.parse(readFileSync(join(dir, 'oui.json'), 'utf8')) as OuiFile;
    edit(file);
    writeFileSync(join(dir, 'oui.json'), JSON.stringify(file));
    try {
      readOui(dir);
    } catch (err) {
      if (err instanceof AgentError) return err;
      throw err;
    }
    throw new Error('expected readOui to throw');
  }

  it('a prefix listed under two organisations', () => {
    const err = errorFor((f) => {
      f.organisations['Example Look-alike'] = '2857BE';
    });
    expect(err.code).toBe('CCTV_ERR_FINGERPRINT_DATA');
    expect(err.message).toContain('prefix 2857BE is listed under both');
  });

  it('a malformed prefix, and a vendor mapping for an organisation with no prefixes', () => {
    expect(errorFor((f) => (f.organisations['Example'] = '2857B')).message).toContain('organisations.Example: must match pattern');
    expect(errorFor((f) => (f.vendors['Nobody Ltd'] = 'axis')).message).toContain('"Nobody Ltd" is named but has no prefixes');
    expect(errorFor((f) => (f.format = 'cctv-agent/oui/v1')).message).toContain('format');
  });
});
