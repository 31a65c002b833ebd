/**
 * `node list-profiles.js DIR`: validates every profile of DIR and prints one line per device,
 * `NAME IP MAC`, and ` drop-tcp` after it when the profile has a `dropTcp` key (lab.sh then
 * blackholes every TCP packet the device sends), for scripts/lab.sh. Exit 1 with the reason on stderr
 * when a profile is wrong.
 */
import { loadProfiles } from './profile.js';

try {
  const dir = process.argv[2] ?? 'tests/lab/profiles';
  const profiles = loadProfiles(dir);
  if (profiles.length === 0) throw new Error(`no profiles in ${dir}`);
  for (const p of profiles) process.stdout.write(`${p.name} ${p.ip} ${p.mac}${p['dropTcp'] === undefined ? '' : ' drop-tcp'}\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
