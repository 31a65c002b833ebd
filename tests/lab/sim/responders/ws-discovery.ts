/**
 * WS-Discovery target service (SOAP-over-UDP, the 2005/04 draft that ONVIF uses):
 * joins 239.255.255.250 on the device's interface, listens on UDP 3702 and answers each
 * matching Probe (multicast or unicast) with one unicast ProbeMatches to the sender's
 * address and port, sent from port 3702 (through udp-service.ts, which also serves a crowd).
 *
 * Matching (WS-Discovery 2005/04 §5.3): Types empty → match; otherwise the probe matches when
 * one of its QNames has a local name in the profile's answerTypes (prefix ignored), or always
 * when answerTypes is '*'. Scopes empty → match; otherwise every probe scope must match one
 * device scope by the default rule (RFC 3986 prefix by path segment); other MatchBy rules are
 * not supported (the device stays silent, as a device that does not support it may).
 */
import type { RemoteInfo } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { excerpt } from '../log.js';
import { isIpv6Only, type WsDiscoveryProfile } from '../profile.js';
import { attr, esc, NS, parseSoap, text, type SoapMessage } from '../xml.js';
import { ServiceSocket } from '../udp-service.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export const WSD_GROUP = '239.255.255.250';
/** The IPv6 group, link-local scope (WS-Discovery 1.1 §2.4, http://docs.oasis-open.org/ws-dd/discovery/1.1/os/wsdd-discovery-1.1-spec-os.html). */
export const WSD_GROUP_IPV6 = 'ff02::c';
/** The interface every lab device has on the bridge. */
const LAB_INTERFACE = 'eth0';
export const WSD_PORT = 3702;
const RFC3986 = 'http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986';
const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

/** Prefixes the profiles may use in Types without declaring them. */
const DEFAULT_TYPE_NS: Record<string, string> = {
  dn: NS.dn,
  tds: NS.tds,
  wsdp: NS.wsdp,
  wprt: NS.wprt,
  wscn: NS.wscn,
};

export function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

export function typesMatch(probeTypes: string[], cfg: WsDiscoveryProfile): boolean {
  if (cfg.answerTypes === '*' || probeTypes.length === 0) return true;
  const wanted = new Set(cfg.answerTypes);
  return probeTypes.some((t) => wanted.has(localName(t)));
}

/** RFC 3986 scope matching as defined by WS-Discovery 2005/04 §5.1 (case-sensitive path). */
export function scopeMatches(probeScope: string, deviceScope: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(probeScope);
    b = new URL(deviceScope);
  } catch {
    return probeScope === deviceScope;
  }
  if (a.protocol !== b.protocol || a.host !== b.host) return false;
  const segA = a.pathname.split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
  const segB = b.pathname.split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
  if (segA.length > segB.length) return false;
  return segA.every((s, i) => s === segB[i]);
}

export function buildProbeMatches(cfg: WsDiscoveryProfile, relatesTo: string, seq: { instanceId: number; messageNumber: number }): string {
  const nsDecl = { ...DEFAULT_TYPE_NS, ...cfg.namespaces };
  const usedPrefixes = [...new Set(cfg.types.map((t) => t.slice(0, t.indexOf(':'))))];
  const typeNs = usedPrefixes.map((p) => ` xmlns:${p}="${esc(nsDecl[p] ?? `urn:lab:undeclared:${p}`)}"`).join('');
  const scopes = cfg.scopes.length > 0 ? `<wsd:Scopes>${esc(cfg.scopes.join(' '))}</wsd:Scopes>` : '';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<env:Envelope xmlns:env="${NS.soapEnv}" xmlns:wsa="${NS.wsa}" xmlns:wsd="${NS.wsd}"${typeNs}>` +
    '<env:Header>' +
    `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
    `<wsa:RelatesTo>${esc(relatesTo)}</wsa:RelatesTo>` +
    `<wsa:To env:mustUnderstand="true">${ANONYMOUS}</wsa:To>` +
    `<wsa:Action env:mustUnderstand="true">${NS.wsd}/ProbeMatches</wsa:Action>` +
    `<wsd:AppSequence InstanceId="${seq.instanceId}" MessageNumber="${seq.messageNumber}"/>` +
    '</env:Header>' +
    '<env:Body><wsd:ProbeMatches><wsd:ProbeMatch>' +
    `<wsa:EndpointReference><wsa:Address>${esc(cfg.endpointReference)}</wsa:Address></wsa:EndpointReference>` +
    `<wsd:Types>${esc(cfg.types.join(' '))}</wsd:Types>` +
    scopes +
    `<wsd:XAddrs>${esc(cfg.xaddrs.join(' '))}</wsd:XAddrs>` +
    `<wsd:MetadataVersion>${cfg.metadataVersion}</wsd:MetadataVersion>` +
    '</wsd:ProbeMatch></wsd:ProbeMatches></env:Body></env:Envelope>'
  );
}

/**
 * A crowd's shared socket hands one datagram to every device of the process (udp-service.ts
 * DatagramHub): the Probe is parsed once for all of them, not once per device. Handlers only read it.
 */
const parsedDatagrams = new WeakMap<Buffer, SoapMessage | null>();
function parsedOnce(msg: Buffer): SoapMessage | null {
  let soap = parsedDatagrams.get(msg);
  if (soap === undefined) {
    soap = parseSoap(msg.toString('utf8'));
    parsedDatagrams.set(msg, soap);
  }
  return soap;
}

export const wsDiscoveryResponder: Responder = {
  key: 'wsDiscovery',
  description: 'WS-Discovery 2005/04 target service (UDP 3702, 239.255.255.250)',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = ctx.profile.wsDiscovery;
    if (!cfg) throw new Error('no wsDiscovery section');
    const log = ctx.log.child('wsd');
    const seq = { instanceId: Math.floor(Date.now() / 1000), messageNumber: 0 };

    const onMessage = (msg: Buffer, rinfo: RemoteInfo, service: ServiceSocket, xaddrs: string[]): void => {
      const from = `${rinfo.address}:${rinfo.port}`;
      const soap = parsedOnce(msg);
      if (!soap) {
        log.warn(`ignored malformed datagram (${msg.length} bytes) from ${from}: ${excerpt(msg)}`);
        return;
      }
      if (soap.operation !== 'Probe') {
        log.info(`ignored ${soap.operation ?? 'empty body'} from ${from}`);
        return;
      }
      const messageId = text(soap.header, 'MessageID');
      if (!messageId) {
        log.warn(`ignored Probe without MessageID from ${from}`);
        return;
      }
      const probe = soap.body.Probe;
      const probeTypes = (text(probe, 'Types') ?? '').split(/\s+/).filter(Boolean);
      const probeScopes = (text(probe, 'Scopes') ?? '').split(/\s+/).filter(Boolean);
      const matchBy = attr(probe, 'Scopes', 'MatchBy');
      let answer = typesMatch(probeTypes, cfg);
      if (answer && cfg.answerTypes !== '*' && probeScopes.length > 0) {
        if (matchBy !== undefined && matchBy !== RFC3986) {
          log.info(`Probe ${messageId} from ${from}: MatchBy ${matchBy} not supported, no answer`);
          return;
        }
        answer = probeScopes.every((ps) => cfg.scopes.some((ds) => scopeMatches(ps, ds)));
      }
      if (!answer) {
        log.info(`Probe ${messageId} from ${from} types=[${probeTypes.join(' ')}] scopes=[${probeScopes.join(' ')}]: no match`);
        return;
      }
      seq.messageNumber += 1;
      const reply = Buffer.from(buildProbeMatches({ ...cfg, xaddrs }, messageId, seq), 'utf8');
      service.reply(reply, rinfo, `Probe ${messageId} from ${from} types=[${probeTypes.join(' ')}] -> ProbeMatches`, cfg.maxDelayMs);
    };

    // Multicast and unicast Probes alike; the device never hears its own multicast (ServiceSocket).
    // An IPv6-only device has no IPv4 socket; a device with the `ipv6` key answers over IPv6 too.
    const services: ServiceSocket[] = [];
    const { ip, ipv6 } = ctx.profile;
    if (!isIpv6Only(ctx.profile)) {
      services.push(await ServiceSocket.open({ port: WSD_PORT, ip, group: WSD_GROUP, hub: ctx.groupHub, log, onMessage: (m, r, s) => onMessage(m, r, s, cfg.xaddrs) }));
    }
    if (ipv6) {
      const xaddrs = ipv6.xaddrs ?? cfg.xaddrs;
      services.push(await ServiceSocket.open({ port: WSD_PORT, ip, group: WSD_GROUP_IPV6, ipv6Interface: LAB_INTERFACE, log, onMessage: (m, r, s) => onMessage(m, r, s, xaddrs) }));
    }
    return { endpoints: services.map((s) => s.endpoint), close: async () => void (await Promise.all(services.map((s) => s.close()))) };
  },
};
