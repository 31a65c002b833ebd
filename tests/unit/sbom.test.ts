/**
 * The agent's own SBOM (scripts/sbom.mjs, shipped in the Docker image): CycloneDX JSON that lists
 * every package installed for run time at its installed version, and no development-only package.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'cctv-sbom-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Manifest {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
interface CycloneDx {
  bomFormat: string;
  specVersion: string;
  metadata: { component: { name: string; version: string; type: string } };
  components: Array<{ name: string; version: string; 'bom-ref': string; purl: string }>;
  dependencies: Array<{ ref: string; dependsOn?: string[] }>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

describe('scripts/sbom.mjs', () => {
  it('lists every runtime dependency at its installed version, names the agent, and leaves dev-only packages out', async () => {
    const out = join(work, 'sbom.cdx.json');
    await run('node', [join(ROOT, 'scripts/sbom.mjs'), out], { cwd: ROOT });
    const sbom = JSON.parse(readFileSync(out, 'utf8')) as CycloneDx;
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.metadata.component).toMatchObject({ name: manifest.name, version: manifest.version, type: 'application' });
    const refs = new Set(sbom.components.map((c) => c['bom-ref']));
    for (const name of Object.keys(manifest.dependencies)) expect(refs, name).toContain(`${name}@${installedVersion(name)}`);
    for (const name of ['vitest', 'typescript', 'fast-check', 'pouchdb', 'playwright-core']) {
      expect(sbom.components.map((c) => c.name)).not.toContain(name);
    }
    const known = new Set([...refs, ...sbom.dependencies.map((d) => d.ref)]);
    for (const d of sbom.dependencies) for (const ref of d.dependsOn ?? []) expect(known, `${d.ref} → ${ref}`).toContain(ref);
  }, 60_000);
});
