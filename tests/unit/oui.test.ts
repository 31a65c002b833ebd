/**
 * MAC → IEEE organisation → vendor: longest prefix (MA-S > MA-M > MA-L), the look-alike that is
 * not Dahua, the spot checks of shared/reference/fingerprint-facts.md §1, and that the committed
 * fingerprints/oui.json is what scripts/generate-oui.mjs would write from the oui-data registry
 * (the devDependency is read here and by the generator only, never at run time).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildOuiTable,
  formatMac,
  loadFingerprints,
  lookupOui,
  normaliseMac,
  readVendors,
  serialiseOuiTable,
  vendorsForOrganisation,
  type OuiEntry,
  type OuiTable,
} from '../../agent/fingerprint/index.js';

const db = loadFingerprints();
const vendorOf = (mac: string): string | null => lookupOui(db, mac)?.vendor ?? null;

function table(entries: Record<string, OuiEntry>): { oui: OuiTable } {
  return {
    oui: {
      format: 'cctv-agent/oui/v1',
      registry: { package: 'test', version: '0' },
      generated: '2026-11-28',
      coverage: 'registry',
      entries: new Map(Object.entries(entries)),
    },
  };
}

describe('normaliseMac / formatMac', () => {
  it('accepts colon, dash, Cisco-dot and bare forms in either case', () => {
    for (const mac of ['28:57:be:12:34:56', '28-57-BE-12-34-56', '2857.be12.3456', '2857BE123456', ' 28:57:BE:12:34:56 ']) {
      expect(normaliseMac(mac)).toBe('2857BE123456');
    }
    expect(formatMac('2857BE123456')).toBe('28:57:be:12:34:56');
  });

  it('rejects what is not a MAC', () => {
    for (const mac of ['', '28:57:be:12:34', '28:57:be:12:34:56:78', 'zz:57:be:12:34:56', '2857be12345g', '198.18.0.10']) {
      expect(normaliseMac(mac)).toBeNull();
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
    expect(lookupOui(t, 'b0:b3:53:6a:bc:de')).toEqual({ prefix: 'B0B3536AB', organisation: 'Example MA-S Holder', vendor: 'axis' });
    expect(lookupOui(t, 'b0:b3:53:6a:cc:de')).toEqual({
      prefix: 'B0B3536',
      organisation: 'Hangzhou Hikrobot Technology Co., Ltd.',
      vendor: 'hikrobot',
    });
    expect(lookupOui(t, 'b0:b3:53:7a:cc:de')).toEqual({ prefix: 'B0B353', organisation: 'IEEE Registration Authority', vendor: null });
    expect(lookupOui(t, 'b0:b3:54:00:00:00')).toBeNull();
  });

  it('real MA-M blocks: Hikrobot B0B3536 and Amcrest 3446632, not their neighbours', () => {
    expect(lookupOui(db, 'b0:b3:53:61:22:33')).toMatchObject({ prefix: 'B0B3536', vendor: 'hikrobot' });
    expect(vendorOf('b0:b3:53:71:22:33')).toBeNull();
    expect(lookupOui(db, '34:46:63:2f:00:01')).toMatchObject({ prefix: '3446632', organisation: 'Amcrest Technologies', vendor: 'amcrest' });
    expect(vendorOf('34:46:63:3f:00:01')).toBeNull();
  });
});

describe('look-alikes', () => {
  it('"Shanghai Dahua Scale Factory" (402C761, weighing scales) is not Dahua', () => {
    const vendors = db.vendors;
    expect(vendorsForOrganisation(vendors, 'Shanghai Dahua Scale Factory')).toEqual([]);
    expect(vendorOf('40:2c:76:12:34:56')).toBeNull();
    expect([...db.oui.entries.values()].some((e) => /scale/i.test(e.organisation))).toBe(false);
  });

  it('other look-alike registrants stay out', () => {
    expect(vendorsForOrganisation(db.vendors, 'JOREX LOREX INDIA PRIVATE LIMITED')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'CP PLUS GMBH & CO. KG')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'Hewlett Packard Enterprise')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'HP Tuners LLC')).toEqual([]);
    expect(vendorsForOrganisation(db.vendors, 'Bosch Automotive Aftermarket')).toEqual([]);
  });
});

describe('spot checks (fingerprint-facts §1)', () => {
  const cases: [string, string][] = [
    // library-notes §3 spot checks
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

  it('every Hikvision (84) and Dahua (27 + 4) prefix of the facts tables is in the table', () => {
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
    expect(db.oui.format).toBe('cctv-agent/oui/v1');
    expect(db.oui.registry).toEqual({ package: pkg.name, version: pkg.version });
    expect(db.oui.generated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(db.oui.coverage).toBe('vendors');
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
});
