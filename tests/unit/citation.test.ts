/**
 * Provenance a clone can check: isCheckableCitation on real citations from fingerprints/ and on
 * the kinds it must refuse, and a scan of the repository's own files for pointers into notes that
 * are not in the repository (the team's private reference files).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isCheckableCitation } from '../../agent/knowledge/citation.js';

/** The section sign, written as an escape so that this file's own lines point into no notes. */
const SECTION = '\u00a7';

describe('isCheckableCitation', () => {
  it.each([
    // URLs, as fingerprints/ writes them
    'https://github.com/maciej-or/hikvision_next/issues/50: ISAPI 401 body <userCheck>…',
    'CVE-2013-6117 record https://www.cve.org/CVERecord?id=CVE-2013-6117 ("Dahua DVR 2.608.0000.0")',
    'IEEE registry https://standards-oui.ieee.org/ via npm oui-data 2.1.9 "Verkada Inc" (E0:A7:00)',
    'http://www.iana.org/assignments/service-names-port-numbers',
    // owner/repo path@commit, full and abbreviated hash
    'rapid7/recog xml/http_wwwauth.xml@14fa1a7211e7fb5707c7a1b421a07d6c2cf4eec5 (Basic realm="hikvision")',
    'SADP DeviceSN in Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1',
    'nmap/nmap nmap-service-probes@db4aefd "Hikvision DVR rtspd"',
    '667bdrm/sofiactl README.md@c2a58654cb2fc046e4e10c21b1a20bee4cae5059 ("default port 34567")',
  ])('accepts %s', (text) => {
    expect(isCheckableCitation(text)).toBe(true);
  });

  it.each([
    // pointers into notes a clone does not have
    `facts ${SECTION}3.1`,
    `IEEE registry (00:03:C5, facts ${SECTION}1)`,
    `${['shared', 'reference', `${['fingerprint', 'facts'].join('-')}.md`].join('/')} ${SECTION}2.4`,
    `measured here, see the ${['library', 'notes'].join(' ')} ${SECTION}2`,
    // a public source named too vaguely to look up at a fixed state
    'rapid7/recog xml/http_servers.xml',
    'nmap nmap-service-probes "Dahua webcam httpd"',
    'rroller/dahua issue #9',
    'tchellomello/python-amcrest PR #73',
    // look-alikes: not a public address, not a commit, not a repository
    'http://localhost:5984/',
    'https://',
    'rapid7/recog xml/http_servers.xml@main',
    'rapid7/recog xml/http_servers.xml@14fa1a72zz',
    'admin@deadbeef',
    'ONVIF scope layout identical to Dahua, from a captured device list in public code',
    '',
  ])('refuses %j', (text) => {
    expect(isCheckableCitation(text)).toBe(false);
  });
});

describe('the repository cites no notes it does not contain', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const thisFile = relative(root, fileURLToPath(import.meta.url));
  // Written so that it matches none of its own lines: this file is scanned like every other.
  // The places the project's own text lives (the list issue #9 names); generated and vendored
  // trees are not scanned.
  const scanned = ['agent', 'fingerprints', 'scripts', 'tests', 'README.md', 'schema', 'Dockerfile'];
  const notesCitation = /facts \u00a7|fingerprint-fact[s]|\bthe fact[s]\b|library[- ]notes|shared\/reference/i;

  function filesUnder(path: string): string[] {
    const absolute = join(root, path);
    if (!statSync(absolute, { throwIfNoEntry: false })) return [];
    if (statSync(absolute).isFile()) return [path];
    return readdirSync(absolute).flatMap((name) => filesUnder(join(path, name)));
  }

  it('scans a real tree', () => {
    const files = scanned.flatMap(filesUnder);
    expect(files).toContain('fingerprints/vendors.yaml');
    expect(files).toContain(thisFile);
    expect(files.length).toBeGreaterThan(100);
  });

  it('has no line pointing into the team\'s private reference files', () => {
    const offending = scanned
      .flatMap(filesUnder)
      .flatMap((file) =>
        readFileSync(join(root, file), 'utf8')
          .split('\n')
          .flatMap((line, index) => (notesCitation.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])),
      );
    expect(offending).toEqual([]);
  });
});

describe('every source in fingerprints/ can be checked from a clone', () => {
  const dir = fileURLToPath(new URL('../../fingerprints/', import.meta.url));
  const dataFiles = [
    ...readdirSync(dir).filter((name) => name.endsWith('.yaml')),
    ...readdirSync(join(dir, 'rules')).map((name) => join('rules', name)),
  ];
  // A one-word `source` (onvif, dhip, …) names the evidence a rule file reads, not a citation.
  const evidenceKind = /^[a-z][a-z0-9_-]*$/;
  // Where no public source could be found the entry says so in these words instead of citing.
  const declaredGap = /no public source found/i;

  function citations(value: unknown, file: string): { file: string; text: string }[] {
    if (Array.isArray(value)) return value.flatMap((item) => citations(item, file));
    if (value === null || typeof value !== 'object') return [];
    return Object.entries(value).flatMap(([key, inner]) =>
      key === 'source' && typeof inner === 'string'
        ? evidenceKind.test(inner) ? [] : [{ file, text: inner }]
        : citations(inner, file),
    );
  }
  const all = dataFiles.flatMap((file) => citations(parseYaml(readFileSync(join(dir, file), 'utf8')), file));

  it('reads the citations of every data file', () => {
    expect(all.length).toBeGreaterThan(150);
    expect(new Set(all.map((c) => c.file))).toContain('vendors.yaml');
  });

  it('cites a URL or owner/repo path@commit, or says that no public source was found', () => {
    const unchecked = all.filter((c) => !isCheckableCitation(c.text) && !declaredGap.test(c.text));
    expect(unchecked.map((c) => `${c.file}: ${c.text}`)).toEqual([]);
  });
});
