/**
 * There is no container engine here, so the Dockerfile is kept honest two ways: an offline linter
 * (dockerfilelint, from npm) finds no problem in it, and its build steps are the very commands CI
 * runs (scripts/test-all.sh), so a build that works in CI works in the image.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface LintReport {
  totalIssues: number;
  files: Array<{ issues: Array<{ line: number; title: string; description: string }> }>;
}

async function lint(fileOrContent: string): Promise<LintReport> {
  // dockerfilelint exits with the number of issues; its JSON report is on stdout either way.
  const out = await run('npx', ['--no-install', 'dockerfilelint', '-o', 'json', fileOrContent], { cwd: ROOT }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
  );
  return JSON.parse(out.stdout) as LintReport;
}

/** The instructions of each stage, continuation lines joined. */
function stages(text: string): Array<Array<{ op: string; args: string }>> {
  const out: Array<Array<{ op: string; args: string }>> = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') out.push([]);
    out.at(-1)?.push({ op: op.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes dockerfilelint with no issue', async () => {
    const report = await lint('Dockerfile');
    expect(report.files[0]?.issues).toEqual([]);
    expect(report.totalIssues).toBe(0);
  }, 60_000);

  it('the linter does find problems (so the test above can fail)', async () => {
    const report = await lint('FROM node\nRUN apt-get install curl\nEXPOSE 99999\n');
    expect(report.totalIssues).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('builds with the command CI runs (npm ci, dist/ built by the prepare script) in a first stage', () => {
    const [build, runtime, extra] = stages(dockerfile);
    expect(extra).toBeUndefined();
    expect(build?.[0]?.args).toMatch(/^node:20[-\w.]* AS build$/i);
    const ciInstall = /^npm ci[^\n]*$/m.exec(readFileSync(join(ROOT, 'scripts/test-all.sh'), 'utf8'))?.[0];
    expect(ciInstall).toBe('npm ci --no-audit --no-fund');
    const runs = build?.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    expect(runs.some((r) => r.split('&&').map((c) => c.trim()).includes(ciInstall!))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe(pkg.scripts.build);
    // Everything `npm ci` + prepare reads is copied in before it runs.
    const copied = build?.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1)) ?? [];
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'agent']) expect(copied).toContain(needed);
    // …and each script the build runs after tsc (scripts/check-knowledge.mjs).
    for (const [, script] of pkg.scripts.prepare?.matchAll(/\bnode (scripts\/\S+)/g) ?? []) expect(copied, script).toContain(script);
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    expect(tsconfig.include).toEqual(['agent/**/*.ts']);
    expect(runtime?.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build /app/dist'))).toBe(true);
  });

  it('runs the daemon as a non-root user in a slim runtime stage', () => {
    const runtime = stages(dockerfile)[1] ?? [];
    expect(runtime[0]?.args).toMatch(/^node:20-slim$/);
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["node", "/app/dist/agent/cli.js"]');
    expect(JSON.parse(runtime.find((i) => i.op === 'CMD')?.args ?? '[]')).toEqual(['daemon', '--config', '/etc/cctv-agent/daemon.yaml', '--state', '/data']);
    // No devDependencies in the runtime: they were pruned in the build stage before node_modules is copied.
    expect(stages(dockerfile)[0]?.some((i) => i.op === 'RUN' && i.args.includes('npm prune --omit=dev'))).toBe(true);
  });

  it('writes the agent\'s SBOM into dist/ before pruning, so the image ships it', () => {
    const [build] = stages(dockerfile);
    const steps = (build ?? []).filter((i) => i.op === 'RUN').flatMap((i) => i.args.split('&&').map((c) => c.trim()));
    const sbom = steps.indexOf('npm run sbom');
    expect(sbom).toBeGreaterThan(steps.indexOf('npm ci --no-audit --no-fund'));
    expect(sbom).toBeLessThan(steps.indexOf('npm prune --omit=dev'));
    expect(build?.some((i) => i.op === 'COPY' && i.args.startsWith('scripts/sbom.mjs'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.sbom).toBe('node scripts/sbom.mjs');
  });
});
