/**
 * `node list-profiles.js DIR`: validates every profile of DIR and prints one line per device,
 * `NAME IP MAC` and then one token per extra a profile has, for scripts/lab.sh:
 * `aliases=IP,IP…` (further addresses of eth0), `nics=IP/MAC,IP/MAC…` (further interfaces) and
 * `drop-tcp` (a `dropTcp` key: lab.sh then blackholes every TCP packet the device sends) and
 * `onlink=CIDR` (a `misaddressed` key: lab.sh routes the lab subnet on-link on eth0, so the device
 * answers the scanner from its foreign address) and `ula=ADDR` (its unique-local IPv6 address).
 * An IPv6-only device's IP is its link-local address, which the kernel gives it (lab.sh adds no
 * address then).
 * Exit 1 with the reason on stderr when a profile is wrong.
 */
import { LAB_SUBNET_CIDR, loadProfiles, type LabProfile } from './profile.js';

function extras(p: LabProfile): string {
  const tokens: string[] = [];
  if (p.aliases?.length) tokens.push(`aliases=${p.aliases.join(',')}`);
  if (p.nics?.length) tokens.push(`nics=${p.nics.map((n) => `${n.ip}/${n.mac}`).join(',')}`);
  if (p['dropTcp'] !== undefined) tokens.push('drop-tcp');
  if (p.misaddressed) tokens.push(`onlink=${LAB_SUBNET_CIDR}`);
  if (p.ipv6?.ula) tokens.push(`ula=${p.ipv6.ula}`);
  return tokens.map((t) => ` ${t}`).join('');
}

try {
  const dir = process.argv[2] ?? 'tests/lab/profiles';
  const profiles = loadProfiles(dir);
  if (profiles.length === 0) throw new Error(`no profiles in ${dir}`);
  for (const p of profiles) process.stdout.write(`${p.name} ${p.ip} ${p.mac}${extras(p)}\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
