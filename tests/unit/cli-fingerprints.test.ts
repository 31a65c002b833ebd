/**
 * `cctv-agent fingerprints fields | match | verify`, run as the built CLI (dist/agent/cli.js, made
 * by `npm run build`) with execFile: nothing touches the network. Also: `--help` does not read the
 * fingerprint database at all (it still works from a copy of the program with no fingerprints/).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintDevice, readFields } from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'agent', 'cli.js');
const db = loadKnowledge();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], program = cli): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [program, ...args], { timeout: 20_000, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first`);
});

describe('fingerprints fields', () => {
  it('prints one line per field: name, meaning, example', async () => {
    const r = await run(['fingerprints', 'fields']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const fields = [...readFields(db.dir).values()];
    expect(lines).toHaveLength(fields.length);
    fields.forEach((f, i) => {
      const line = lines[i] ?? '';
      expect(line.startsWith(`${f.name} `), line).toBe(true);
      expect(line).toContain(f.meaning);
      expect(line).toContain(`(example: ${f.example === '' ? '""' : f.example})`);
    });
    expect(r.stdout).toMatch(/^onvif\.scope\.name +value of the onvif:\/\/www\.onvif\.org\/name\/ scope .*\(example: HIKVISION DS-2CD2143G2-I\)$/m);
  });

  it('--json prints the vocabulary as data', async () => {
    const r = await run(['fingerprints', 'fields', '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { name: string; meaning: string; example: string; identity: string | null }[];
    expect(parsed.map((f) => f.name)).toEqual([...db.fields.keys()]);
    expect(parsed.find((f) => f.name === 'onvif.device.model')).toMatchObject({ identity: 'model', example: 'DS-2CD2143G2-I' });
  });
});

describe('fingerprints match', () => {
  it('--json: which rule fires, what it supports, its confidence and what it captured', async () => {
    const value = 'HIKVISION DS-2CD2143G2-I';
    const r = await run(['fingerprints', 'match', 'onvif.scope.name', value, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { field: string; value: string; matches: { rule: string; supports: string | null; confidence: number; identity: Record<string, string> }[] };
    expect(Object.keys(report)).toEqual(['field', 'value', 'matches']);
    expect(report.field).toBe('onvif.scope.name');
    expect(report.value).toBe(value);
    expect(report.matches).toContainEqual({ rule: 'label-hikvision', supports: 'hikvision', confidence: 0.85, identity: { model: 'DS-2CD2143G2-I' } });
    // Exactly the rules of the field whose pattern matches, in file order.
    const expected = (db.rulesByField.get('onvif.scope.name') ?? []).filter((rule) => rule.pattern.test(value)).map((rule) => rule.id);
    expect(report.matches.map((m) => m.rule)).toEqual(expected);
    for (const m of report.matches) expect(Object.keys(m)).toEqual(['rule', 'supports', 'confidence', 'identity']);
  });

  it('--json: a Hikvision serial yields the model inside it', async () => {
    const r = await run(['fingerprints', 'match', 'onvif.device.serial', 'DS-2CD2385G1-I20200414AAWRE33842150', '--json']);
    expect(r.code).toBe(0);
    const rule = db.rulesById.get('serial-hikvision');
    expect(JSON.parse(r.stdout)).toEqual({
      field: 'onvif.device.serial',
      value: 'DS-2CD2385G1-I20200414AAWRE33842150',
      matches: [{ rule: 'serial-hikvision', supports: 'hikvision', confidence: rule?.confidence, identity: { model: 'DS-2CD2385G1-I' } }],
    });
  });

  it('in words: the rule, its file, pattern, vendor and relation, claim, captures and source', async () => {
    const r = await run(['fingerprints', 'match', 'onvif.scope.name', 'LTS']);
    expect(r.code).toBe(0);
    const rule = db.rulesById.get('label-lts');
    expect(rule).toBeDefined();
    expect(r.stdout).toContain('onvif.scope.name = "LTS"');
    expect(r.stdout).toContain(`label-lts (kinds/brand-label.yaml, rule ${(rule?.index ?? 0) + 1}): ${rule?.description}`);
    expect(r.stdout).toContain(`pattern /${rule?.pattern.source}/${rule?.pattern.flags} matched`);
    expect(r.stdout).toContain('points to LTS (lts: oem of hikvision); brand claim, confidence');
    expect(r.stdout).toContain(`source: ${rule?.citation}`);
  });

  it('a value no rule knows: no matches, exit 0; a mapped field says what the value is', async () => {
    const json = await run(['fingerprints', 'match', 'onvif.scope.name', 'Acme Widgets', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ field: 'onvif.scope.name', value: 'Acme Widgets', matches: [] });
    const text = await run(['fingerprints', 'match', 'onvif.device.model', 'Acme-1']);
    expect(text.stdout).toContain('no rule fires');
    expect(text.stdout).toContain('the value itself is identity.model (field priority 80)');
  });

  it('an unknown field exits 2 with one coded line on stderr and nothing on stdout', async () => {
    const r = await run(['fingerprints', 'match', 'onvif.scopes.name', 'HIKVISION', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('"onvif.scopes.name" is not an observation field');
    expect(r.stderr).toContain('cctv-agent fingerprints fields');
    expect(r.stderr).toContain('[CCTV_ERR_UNKNOWN_FIELD]');
  });

  it('a missing value is a usage error (exit 2)', async () => {
    const r = await run(['fingerprints', 'match', 'onvif.scope.name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'value'/);
  });
});

describe('fingerprints match mac', () => {
  /** The OUI evidence a scan writes for `mac` as the device's own MAC. */
  const scanned = (mac: string) => fingerprintDevice(db, { macs: [mac], observations: [] }).evidence.find((e) => e.rule === 'oui-registry');

  it('gives the registry verdict a scan gives the same MAC, in words and as JSON, in any notation (exit 0)', async () => {
    const text = await run(['fingerprints', 'match', 'mac', '28-57-BE-6A-1C-10']);
    const json = await run(['fingerprints', 'match', 'mac', '3cd9.2b40.4040', '--json']);
    for (const r of [text, json]) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });

    const hikvision = scanned('28:57:be:6a:1c:10');
    expect(text.stdout.split('\n')).toEqual([
      'mac = "28-57-BE-6A-1C-10"',
      `${hikvision?.detail}: points to Hikvision (hikvision: hikvision itself); platform claim, confidence ${hikvision?.confidence}`,
      '',
    ]);

    const hp = scanned('3c:d9:2b:40:40:40');
    expect(hp?.supports).toBe('hp');
    expect(JSON.parse(json.stdout)).toEqual({
      field: 'mac',
      value: '3cd9.2b40.4040',
      matches: [],
      macs: [{ mac: '3c:d9:2b:40:40:40', carrier: null, prefix: '3CD92B', organisation: 'Hewlett Packard', supports: hp?.supports, confidence: hp?.confidence }],
    });
    // Two runs of the program; on a loaded machine each may take seconds to load the database.
  }, 45_000);

  it('a value that is not a MAC exits 2 with one coded line on stderr and nothing on stdout', async () => {
    const r = await run(['fingerprints', 'match', 'mac', '28:57:be:6a:1c', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('"28:57:be:6a:1c" is not a MAC address');
    expect(r.stderr).toContain('[CCTV_ERR_NOT_A_MAC]');
  });
});

describe('fingerprints verify', () => {
  it('exits 0 on the shipped database', async () => {
    const r = await run(['fingerprints', 'verify']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('every file, rule, example and citation verified');
    expect(r.stdout).toMatch(/\d+ entries say no public source was found \(vendors\.yaml cp-plus, /);
  });
});

describe('--help does not read the fingerprint database', () => {
  let copy = '';
  beforeAll(() => {
    // The program without fingerprints/ beside it: dist, package.json and the installed modules.
    copy = mkdtempSync(join(tmpdir(), 'cctv-cli-'));
    cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
    // Its own version, so that --version shows it reads this file (not npm's environment or a default).
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...manifest, version: '9.8.7-copy' }));
    cpSync(join(root, 'schema'), join(copy, 'schema'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  });
  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('prints the help, including the fingerprints commands, where the database is missing', async () => {
    const program = join(copy, 'dist', 'agent', 'cli.js');
    const help = await run(['fingerprints', '--help'], program);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/fields\s/);
    expect(help.stdout).toMatch(/match \[options\] <field> <value>/);
    expect((await run(['--help'], program)).code).toBe(0);
    // The version is the package.json beside the program's, also when run without npm.
    expect((await run(['--version'], program)).stdout.trim()).toBe('9.8.7-copy');
    // …while a command that needs it says so.
    const fields = await run(['fingerprints', 'fields'], program);
    expect(fields.code).toBe(2);
    expect(fields.stderr).toContain('the fingerprints folder was not found');
  });
});
