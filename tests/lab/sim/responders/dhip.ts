/**
 * Dahua DHIP discovery service (reply shape of
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1):
 * joins 239.255.255.251 on the device's
 * interface, listens on UDP 37810 and answers each `DHDiscover.search` with one
 * `client.notifyDevInfo`, unicast to the request's address and port, sent from port 37810 (the
 * replies DahuaConsole and Haicam read on their sending socket; agent/discovery/dhip.ts).
 *
 * The reply is built by the agent's codec (buildDhipReply: 32-byte header, the JSON of the Haicam
 * capture's shape, `\n\0` tail) from the profile's deviceInfo and the device's own MAC. Any other
 * method (DHDiscover.setConfig, DevInit.account, PasswdFind.resetPassword…) is logged and never
 * acted on; a malformed datagram is logged and ignored.
 */
import { DHIP_MULTICAST_ADDRESS, DHIP_PORT, DHIP_SEARCH_METHOD } from '../../../../agent/protocols/dhip.js';
import { buildDhipReply, parseDhipRequest, type DhipJson } from '../codecs/dhip-device.js';
import { excerpt } from '../log.js';
import { ProfileError } from '../profile.js';
import { ServiceSocket } from '../udp-service.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export type DhipDeviceInfo = { readonly [key: string]: DhipJson };

/** Profile key `dhip`. */
export interface DhipProfile {
  /** Where each value comes from (a URL or `owner/repo path@commit`, or "invented"). */
  source?: string[];
  /** `params.deviceInfo` of the reply, keys in the order sent; IPv4Address.IPAddress must be the profile's ip. */
  deviceInfo: DhipDeviceInfo;
  /** Devices wait a random 0..maxDelayMs before answering; default 0. */
  maxDelayMs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkDhipProfile(v: unknown, where: string, ip: string): DhipProfile {
  if (!isObject(v)) throw new ProfileError(`${where}: expected an object`);
  const { deviceInfo, maxDelayMs } = v;
  if (!isObject(deviceInfo)) throw new ProfileError(`${where}.deviceInfo: expected an object`);
  const ipv4 = deviceInfo.IPv4Address;
  if (ipv4 !== undefined && (!isObject(ipv4) || ipv4.IPAddress !== ip)) {
    throw new ProfileError(`${where}.deviceInfo.IPv4Address.IPAddress: must be the profile's ip (${ip})`);
  }
  if (maxDelayMs !== undefined && (typeof maxDelayMs !== 'number' || !(maxDelayMs >= 0))) throw new ProfileError(`${where}.maxDelayMs: expected a number >= 0`);
  return v as unknown as DhipProfile;
}

export const dhipResponder: Responder = {
  key: 'dhip',
  description: 'Dahua DHIP discovery (UDP 37810, 239.255.255.251): answers DHDiscover.search',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkDhipProfile(ctx.profile.dhip, `profile ${ctx.profile.name}.dhip`, ctx.profile.ip);
    const log = ctx.log.child('dhip');
    const reply = buildDhipReply(cfg.deviceInfo, ctx.profile.mac);
    const service = await ServiceSocket.open({
      port: DHIP_PORT,
      ip: ctx.profile.ip,
      group: DHIP_MULTICAST_ADDRESS,
      hub: ctx.groupHub,
      log,
      onMessage(msg, rinfo, socket) {
        const from = `${rinfo.address}:${rinfo.port}`;
        const request = parseDhipRequest(msg);
        if (!request) {
          log.warn(`ignored malformed datagram (${msg.length} bytes) from ${from}: ${excerpt(msg)}`);
          return;
        }
        if (request.method !== DHIP_SEARCH_METHOD) {
          log.warn(`ignored method ${JSON.stringify(request.method)} from ${from}: only ${DHIP_SEARCH_METHOD} is answered, nothing else is ever acted on`);
          return;
        }
        socket.reply(reply, rinfo, `${DHIP_SEARCH_METHOD} from ${from} -> client.notifyDevInfo`, cfg.maxDelayMs);
      },
    });
    return { endpoints: [service.endpoint], close: () => service.close() };
  },
};
