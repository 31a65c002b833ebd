/**
 * Hikvision SADP service (reply shape of
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1):
 * joins 239.255.255.250 on the device's
 * interface, listens on UDP 37020 and answers each `inquiry` probe with one ProbeMatch, unicast to
 * the probe's address and port, sent from port 37020 (the replies the clients cited in
 * agent/discovery/sadp.ts read on their sending socket).
 *
 * The ProbeMatch is built by the agent's codec (buildSadpProbeMatch: the element order and layout
 * of the Haicam and UniversalScanner captures). It echoes the probe's Uuid and Types, carries the
 * device's own MAC (dash-separated, lower case, as in the Haicam capture) and IPv4 address, and
 * the profile's other elements. Any other probe type (activate, update, reboot, resetPassword…)
 * is logged and never acted on; a malformed datagram is logged and ignored.
 */
import { SADP_INQUIRY, SADP_MULTICAST_ADDRESS, SADP_PORT, SADP_PROBE_MATCH_ELEMENTS, type SadpProbeMatchElements } from '../../../../agent/protocols/sadp.js';
import { parseSadpProbe, buildSadpProbeMatch } from '../codecs/sadp-device.js';
import { excerpt } from '../log.js';
import { ProfileError } from '../profile.js';
import { ServiceSocket } from '../udp-service.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

/** Profile key `sadp`. */
export interface SadpProfile {
  /** Where each value comes from (a URL or `owner/repo path@commit`, or "invented"). */
  source?: string[];
  /** ProbeMatch elements, as strings; Uuid, Types, MAC and IPv4Address are filled in per reply. */
  probeMatch: SadpProbeMatchElements;
  /** Devices wait a random 0..maxDelayMs before answering; default 0. */
  maxDelayMs?: number;
}

/** Elements the responder fills in itself: the echo of the probe, and the device's own addresses. */
const FILLED_PER_REPLY = new Set(['Uuid', 'Types', 'MAC', 'IPv4Address']);
const ELEMENT_NAMES: ReadonlySet<string> = new Set(SADP_PROBE_MATCH_ELEMENTS);

export function checkSadpProfile(v: unknown, where: string): SadpProfile {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProfileError(`${where}: expected an object`);
  const { probeMatch, maxDelayMs } = v as Record<string, unknown>;
  if (typeof probeMatch !== 'object' || probeMatch === null || Array.isArray(probeMatch)) throw new ProfileError(`${where}.probeMatch: expected an object`);
  for (const [name, value] of Object.entries(probeMatch)) {
    if (!ELEMENT_NAMES.has(name)) throw new ProfileError(`${where}.probeMatch.${name}: not a ProbeMatch element (agent/protocols/sadp.ts)`);
    if (FILLED_PER_REPLY.has(name)) throw new ProfileError(`${where}.probeMatch.${name}: filled in per reply, leave it out`);
    if (typeof value !== 'string') throw new ProfileError(`${where}.probeMatch.${name}: expected a string`);
  }
  if (maxDelayMs !== undefined && (typeof maxDelayMs !== 'number' || !(maxDelayMs >= 0))) throw new ProfileError(`${where}.maxDelayMs: expected a number >= 0`);
  return v as SadpProfile;
}

/** `58-50-ed-1f-e3-85`: the MAC as the Haicam capture's ProbeMatch spells it. */
export function sadpMac(mac: string): string {
  return mac.toLowerCase().replaceAll(':', '-');
}

export const sadpResponder: Responder = {
  key: 'sadp',
  description: 'Hikvision SADP (UDP 37020, 239.255.255.250): answers inquiry probes',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkSadpProfile(ctx.profile.sadp, `profile ${ctx.profile.name}.sadp`);
    const log = ctx.log.child('sadp');
    const service = await ServiceSocket.open({
      port: SADP_PORT,
      ip: ctx.profile.ip,
      group: SADP_MULTICAST_ADDRESS,
      hub: ctx.groupHub,
      log,
      onMessage(msg, rinfo, socket) {
        const from = `${rinfo.address}:${rinfo.port}`;
        const probe = parseSadpProbe(msg);
        if (!probe) {
          log.warn(`ignored malformed datagram (${msg.length} bytes) from ${from}: ${excerpt(msg)}`);
          return;
        }
        if (probe.types !== SADP_INQUIRY) {
          log.warn(`ignored probe type ${JSON.stringify(probe.types)} from ${from}: only inquiry is answered, nothing else is ever acted on`);
          return;
        }
        const reply = buildSadpProbeMatch({
          ...cfg.probeMatch,
          Uuid: probe.uuid,
          Types: probe.types,
          MAC: sadpMac(ctx.profile.mac),
          IPv4Address: ctx.profile.ip,
        });
        socket.reply(reply, rinfo, `inquiry ${probe.uuid} from ${from} -> ProbeMatch`, cfg.maxDelayMs);
      },
    });
    return { endpoints: [service.endpoint], close: () => service.close() };
  },
};
