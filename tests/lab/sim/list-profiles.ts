/**
 * `node list-profiles.js DIR`: validates every profile of DIR and prints one line per device,
 * `NAME IP MAC ALIASES NICS`, for scripts/lab.sh: ALIASES the further addresses of eth0
 * comma-separated, NICS the further interfaces as IP/MAC comma-separated, each `-` when none.
 * Exit 1 with the reason on stderr when a profile is wrong.
 */
import { loadProfiles } from './profile.js';

const list = (items: readonly string[]): string => (items.length > 0 ? items.join(',') : '-');

try {
  const dir = process.argv[2] ?? 'tests/lab/profiles';
  const profiles = loadProfiles(dir);
  if (profiles.length === 0) throw new Error(`no profiles in ${dir}`);
  for (const p of profiles) {
    const nics = (p.nics ?? []).map((n) => `${n.ip}/${n.mac}`);
    process.stdout.write(`${p.name} ${p.ip} ${p.mac} ${list(p.aliases ?? [])} ${list(nics)}\n`);
  }
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
