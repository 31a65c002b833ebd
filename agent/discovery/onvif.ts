/**
 * ONVIF device service, unauthenticated: GetSystemDateAndTime (ONVIF Core §8.3.10, always open) and
 * an attempt at GetDeviceInformation (§8.3.1; open on some devices, `auth-required` on others).
 * Runs only on devices that answered WS-Discovery, at the XAddrs they gave — and only at XAddrs on
 * the address that answered, so a reply cannot point the agent at another host.
 */
import { httpRequest } from '../net/http-client.js';
import {
  buildDeviceRequest,
  isNotAuthorizedFault,
  ONVIF_MAX_RESPONSE_BYTES,
  parseDeviceClock,
  parseDeviceInformation,
  parseSoapEnvelope,
  type DeviceCall,
} from '../protocols/onvif-soap.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Fields, Observation, ProbeStatus } from '../types.js';
import type { Logger } from '../log.js';

/** Devices asked at once; cameras answer slowly and fall over under bursts. */
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 4000;

/** The XAddr to use for a responder: the first whose host is the responder's own address. */
export function xaddrForResponder(ip: string, xaddrs: readonly string[]): URL | null {
  for (const x of xaddrs) {
    try {
      const url = new URL(x);
      if (url.hostname.replace(/^\[|\]$/g, '') === ip) return url;
    } catch {
      // validXaddrs already dropped these; nothing to do
    }
  }
  return null;
}

/** The realm of a `WWW-Authenticate` challenge (RFC 7235 §4.1), if any. */
function authRealm(header: string | string[] | undefined): string | null {
  const first = Array.isArray(header) ? header[0] : header;
  return first ? (/realm="([^"]*)"/i.exec(first)?.[1] ?? null) : null;
}

interface CallResult {
  status: ProbeStatus;
  fields: Fields;
}

async function call(url: URL, action: DeviceCall, ctx: ScanContext, log: Logger): Promise<CallResult> {
  const result = await httpRequest({
    url,
    method: 'POST',
    headers: { 'Content-Type': `application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/${action}"` },
    body: buildDeviceRequest(action),
    timeoutMs: REQUEST_TIMEOUT_MS,
    maxBodyBytes: ONVIF_MAX_RESPONSE_BYTES,
    signal: ctx.signal,
  });
  if (!result.ok) {
    log.debug({ url: url.href, action, status: result.status, reason: result.reason }, 'ONVIF call failed');
    return { status: result.status, fields: {} };
  }
  const { response } = result;
  const server = response.headers.server;
  const common: Fields = server ? { 'onvif.http.server': server } : {};
  if (response.status === 401) {
    const realm = authRealm(response.headers['www-authenticate']);
    return { status: 'auth-required', fields: { ...common, ...(realm ? { 'onvif.auth.realm': realm } : {}) } };
  }
  const outcome = parseSoapEnvelope(response.body);
  if (isNotAuthorizedFault(outcome)) return { status: 'auth-required', fields: common };
  if (outcome.kind !== 'response') {
    log.debug({ url: url.href, action, http: response.status, outcome: outcome.kind }, 'ONVIF answer unusable');
    return { status: 'protocol-error', fields: common };
  }
  if (action === 'GetDeviceInformation') {
    const info = parseDeviceInformation(outcome.body);
    return info ? { status: 'ok', fields: { ...common, ...info } } : { status: 'protocol-error', fields: common };
  }
  const clock = parseDeviceClock(outcome.body);
  if (!clock) return { status: 'protocol-error', fields: common };
  const offsetSeconds = Math.round((clock.utcMs - Date.now()) / 1000);
  return {
    status: 'ok',
    fields: {
      ...common,
      'onvif.time.utc': new Date(clock.utcMs).toISOString(),
      'onvif.time.offsetSeconds': String(offsetSeconds),
      ...(clock.dateTimeType ? { 'onvif.time.type': clock.dateTimeType } : {}),
    },
  };
}

export const onvifDevice: Discoverer = {
  name: 'onvif',
  phase: 'probe',
  method: 'onvif-device-service',
  description: 'ONVIF device service: GetSystemDateAndTime and GetDeviceInformation without credentials',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'onvif' });
    const work = new Map<string, URL>();
    for (const o of ctx.seen) {
      const xaddrs = o.fields['onvif.xaddr'];
      if (o.source !== 'wsdiscovery' || !Array.isArray(xaddrs) || work.has(o.ip)) continue;
      const url = xaddrForResponder(o.ip, xaddrs);
      if (url) work.set(o.ip, url);
      else log.warn({ ip: o.ip, xaddrs }, 'no XAddr on the answering address; ONVIF device service not contacted');
    }
    const queue = [...work.entries()];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && !ctx.signal.aborted; next = queue.shift()) {
        const [ip, url] = next;
        const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
        for (const action of ['GetSystemDateAndTime', 'GetDeviceInformation'] as const) {
          const { status, fields } = await call(url, action, ctx, log);
          emit({ source: 'onvif', ip, port, at: new Date().toISOString(), status, fields: { ...fields, 'onvif.call': action } });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  },
};
