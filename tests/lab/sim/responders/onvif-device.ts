/**
 * ONVIF device service (SOAP 1.2 over HTTP POST, Content-Type application/soap+xml) on the
 * profile's port/path (default 80, /onvif/device_service).
 *
 * - Operations in `publicOperations` are answered without credentials (ONVIF Core §5.9.4:
 *   GetSystemDateAndTime must be; some vendors also open GetDeviceInformation).
 * - Any other operation needs the profile's credentials (HTTP Digest or WS-Security
 *   UsernameToken, whose Created must be within 5 minutes of the device's own, possibly skewed,
 *   clock: ONVIF Core §5.12.2); without them it is refused in the vendor's way (`unauthorized`):
 *   `digest-401`: HTTP 401 + `WWW-Authenticate: Digest qop="auth", realm="…", nonce="…", stale="FALSE"`
 *   (Hikvision: https://github.com/jimm98y/SharpOnvif/issues/11); `soap-fault`: HTTP 400/500 + SOAP Fault env:Sender /
 *   ter:NotAuthorized (ONVIF Core §5.12).
 * - Unknown operations: HTTP 500, env:Receiver / ter:ActionNotSupported. Malformed XML: HTTP 400,
 *   env:Sender / ter:WellFormed. Other methods than POST: 405.
 * New operations go into OPERATIONS below.
 */
import { verifyDigest, verifyUsernameToken, hikvisionNonce } from '../auth.js';
import type { HttpReply, HttpRequest } from '../http-host.js';
import { excerpt } from '../log.js';
import type { LabProfile, OnvifProfile } from '../profile.js';
import { esc, NS, parseSoap, soapFault, type SoapMessage } from '../xml.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

const SOAP_CT = 'application/soap+xml; charset=utf-8';
const NOT_AUTHORIZED_REASON = 'The action requested requires authorization and the sender is not authorized';

function envelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<env:Envelope xmlns:env="${NS.soapEnv}" xmlns:tds="${NS.tds}" xmlns:tt="${NS.tt}">` +
    `<env:Body>${body}</env:Body></env:Envelope>`
  );
}

function soapReply(status: number, xml: string): HttpReply {
  return { status, headers: { 'Content-Type': SOAP_CT }, body: xml };
}

/** Wall clock of the device: the real clock plus the profile's offset. */
export function deviceNow(cfg: OnvifProfile, now = Date.now()): Date {
  return new Date(now + cfg.clockOffsetSeconds * 1000);
}

function dateTimeXml(tag: string, d: Date): string {
  return (
    `<tt:${tag}>` +
    `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>` +
    `</tt:${tag}>`
  );
}

type Operation = (profile: LabProfile, cfg: OnvifProfile, msg: SoapMessage) => string;

const OPERATIONS: Record<string, Operation> = {
  GetSystemDateAndTime: (_p, cfg) => {
    const utc = deviceNow(cfg);
    const local = new Date(utc.getTime() + cfg.timeZone.utcOffsetSeconds * 1000);
    return envelope(
      '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
        `<tt:DateTimeType>${cfg.dateTimeType}</tt:DateTimeType>` +
        `<tt:DaylightSavings>${cfg.daylightSavings}</tt:DaylightSavings>` +
        `<tt:TimeZone><tt:TZ>${esc(cfg.timeZone.tz)}</tt:TZ></tt:TimeZone>` +
        dateTimeXml('UTCDateTime', utc) +
        dateTimeXml('LocalDateTime', local) +
        '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
    );
  },
  GetDeviceInformation: (_p, cfg) => {
    const d = cfg.deviceInformation;
    return envelope(
      '<tds:GetDeviceInformationResponse>' +
        `<tds:Manufacturer>${esc(d.manufacturer)}</tds:Manufacturer>` +
        `<tds:Model>${esc(d.model)}</tds:Model>` +
        `<tds:FirmwareVersion>${esc(d.firmwareVersion)}</tds:FirmwareVersion>` +
        `<tds:SerialNumber>${esc(d.serialNumber)}</tds:SerialNumber>` +
        `<tds:HardwareId>${esc(d.hardwareId)}</tds:HardwareId>` +
        '</tds:GetDeviceInformationResponse>',
    );
  },
  // devicemgmt.wsdl GetNetworkInterfaces: one wired interface with the profile's MAC and address.
  GetNetworkInterfaces: (p) =>
    envelope(
      '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">' +
        '<tt:Enabled>true</tt:Enabled>' +
        `<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>${esc(p.mac)}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>` +
        '<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>' +
        `<tt:Manual><tt:Address>${esc(p.ip)}</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>` +
        '<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>' +
        '</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>',
    ),
  // devicemgmt.wsdl GetScopes: the scopes the device announces over WS-Discovery (name/ and
  // location/ configurable, the rest fixed, as ONVIF Core §7.3.2.2 describes them).
  GetScopes: (p) =>
    envelope(
      '<tds:GetScopesResponse>' +
        (p.wsDiscovery?.scopes ?? [])
          .map((scope) => {
            const def = /^onvif:\/\/www\.onvif\.org\/(?:name|location)\//i.test(scope) ? 'Configurable' : 'Fixed';
            return `<tds:Scopes><tt:ScopeDef>${def}</tt:ScopeDef><tt:ScopeItem>${esc(scope)}</tt:ScopeItem></tds:Scopes>`;
          })
          .join('') +
        '</tds:GetScopesResponse>',
    ),
};

export const onvifDeviceResponder: Responder = {
  key: 'onvif',
  description: 'ONVIF device service (SOAP 1.2 over HTTP)',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = ctx.profile.onvif;
    if (!cfg) throw new Error('no onvif section');
    const log = ctx.log.child('onvif');
    const port = cfg.port ?? 80;
    const path = cfg.path ?? '/onvif/device_service';
    const unauthorized = cfg.unauthorized;
    // Nonces this device handed out (Digest answers must use one of them); bounded.
    const nonces = new Set<string>();
    const rememberNonce = (n: string): void => {
      nonces.add(n);
      if (nonces.size > 256) nonces.delete(nonces.values().next().value as string);
    };

    if (cfg.serverHeader) ctx.http.setPortHeaders(port, { Server: cfg.serverHeader });

    const refuse = (): HttpReply => {
      if (unauthorized.style === 'digest-401') {
        const challenges = (unauthorized.algorithms ?? ['MD5']).map((alg) => {
          const nonce = hikvisionNonce();
          rememberNonce(nonce);
          const algo = alg === 'MD5' ? '' : ` algorithm="${alg}",`;
          return `Digest qop="auth", realm="${unauthorized.realm}", nonce="${nonce}",${algo} stale="FALSE"`;
        });
        return {
          status: 401,
          headers: { 'Content-Type': 'text/html', 'WWW-Authenticate': challenges },
          body: unauthorized.body ?? '',
        };
      }
      return soapReply(unauthorized.httpStatus, soapFault('env:Sender', 'ter:NotAuthorized', unauthorized.reason ?? NOT_AUTHORIZED_REASON));
    };

    const handle = (req: HttpRequest): HttpReply => {
      const tag = `${req.method} ${req.path} from ${req.remote}`;
      if (req.method !== 'POST') {
        log.info(`${tag} -> 405`);
        return { status: 405, headers: { Allow: 'POST', 'Content-Type': 'text/html' }, body: '' };
      }
      const msg = parseSoap(req.body.toString('utf8'));
      if (!msg || !msg.operation) {
        log.warn(`${tag}: malformed SOAP (${req.body.length} bytes) ${excerpt(req.body)} -> 400 ter:WellFormed`);
        return soapReply(400, soapFault('env:Sender', 'ter:WellFormed', 'XML Well-formed violation'));
      }
      const op = msg.operation;
      if (!cfg.publicOperations.includes(op)) {
        const realm = unauthorized.style === 'digest-401' ? unauthorized.realm : '';
        const authHeader = req.req.headers.authorization;
        const ok =
          verifyUsernameToken(msg.header, cfg.credentials, deviceNow(cfg).getTime()) ||
          (unauthorized.style === 'digest-401' && verifyDigest(authHeader, req.method, realm, cfg.credentials, (n) => nonces.has(n)));
        if (!ok) {
          const reply = refuse();
          log.info(`${tag} ${op}${authHeader ? ' (bad credentials)' : ''} -> ${reply.status} refused (${unauthorized.style})`);
          return reply;
        }
      }
      const impl = OPERATIONS[op];
      if (!impl) {
        log.info(`${tag} ${op} -> 500 ter:ActionNotSupported`);
        return soapReply(500, soapFault('env:Receiver', 'ter:ActionNotSupported', 'Optional Action Not Implemented'));
      }
      log.info(`${tag} ${op} -> 200`);
      return soapReply(200, impl(ctx.profile, cfg, msg));
    };

    ctx.http.route(port, path, handle);
    return { endpoints: [`http :${port}${path}`], close: async () => undefined };
  },
};
