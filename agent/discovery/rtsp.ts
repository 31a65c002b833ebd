/**
 * RTSP probe (RFC 2326 / RFC 7826): on every open port the port sweep marked for RTSP (554, 8554),
 * `OPTIONS rtsp://ip:port/` then `DESCRIBE` (Accept: application/sdp) on the same connection,
 * with no credentials, ever. Each answer becomes one observation: its status code, Server,
 * Public methods and WWW-Authenticate schemes and realms (codec: protocols/rtsp.ts).
 *
 * Only ports the sweep found (so only hosts active probes may touch); every exchange is capped at
 * RTSP_MAX_RESPONSE_BYTES and EXCHANGE_TIMEOUT_MS, and paced by the scan's shared `--rate`.
 */
import { connect, type Socket } from 'node:net';
import {
  buildRtspRequest,
  parseRtspResponse,
  rtspFields,
  rtspFraming,
  rtspUrl,
  RTSP_MAX_RESPONSE_BYTES,
  type RtspMethod,
} from '../protocols/rtsp.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation, ProbeStatus } from '../types.js';
import type { Logger } from '../log.js';
import type { RateLimiter } from '../net/rate-limiter.js';
import { exchangeDeadline } from '../net/abort.js';
import { openPortsFor, probeHosts } from './probe-hosts.js';
import { asTheyCome, claimUnprobed, portsSwept } from './probe-passes.js';
import { CLEANED_FIELD } from '../safe-text.js';

/** Connect to last byte of one answer. */
const EXCHANGE_TIMEOUT_MS = 3000;
/**
 * Ports probed at once; camera RTSP servers serve few clients, so each port gets one connection,
 * its requests one after another. 32 at once were no faster on the 1,000-device crowd than 8
 * (BENCHMARKS.md "Probes beside the sweep").
 */
const CONCURRENCY = 8;

export interface RtspTarget {
  readonly ip: string;
  readonly port: number;
}

/** Open ports the port sweep marked for RTSP, each once. */
export function rtspTargets(ctx: ScanContext): RtspTarget[] {
  return openPortsFor(ctx, 'rtsp').map(({ ip, port }) => ({ ip, port }));
}

type Exchange =
  | { ok: true; bytes: Buffer }
  | { ok: false; status: ProbeStatus; reason: string; /** bytes received before it failed */ received: number };

function failureStatus(error: NodeJS.ErrnoException): ProbeStatus {
  if (error.code === 'ECONNREFUSED') return 'refused';
  if (error.code === 'ETIMEDOUT') return 'timeout';
  return 'error';
}

/**
 * One TCP connection carrying request/response exchanges in turn (RTSP connections persist,
 * RFC 2326 §1.1). When a kept connection turns out to be closed by the server, the request is
 * sent once more on a fresh one.
 */
class RtspConnection {
  private socket: Socket | null = null;

  constructor(
    private readonly target: RtspTarget,
    private readonly signal: AbortSignal,
    private readonly limiter: RateLimiter,
  ) {}

  async exchange(request: Buffer): Promise<Exchange> {
    const reused = this.socket !== null;
    const first = await this.attempt(request);
    if (first.ok || !reused || first.received > 0 || first.status === 'timeout') return first;
    return this.attempt(request);
  }

  private async attempt(request: Buffer): Promise<Exchange> {
    if (!(await this.limiter.take(this.signal))) return { ok: false, status: 'timeout', reason: 'the scan ended first', received: 0 };
    return new Promise((resolve) => {
      if (!this.socket || this.socket.destroyed || !this.socket.writable) {
        this.close();
        this.socket = connect({ host: this.target.ip, port: this.target.port });
        this.socket.setNoDelay(true);
        // Between exchanges nobody listens; an error then must not crash the process.
        this.socket.on('error', () => undefined);
      }
      const socket = this.socket;
      const chunks: Buffer[] = [];
      let size = 0;
      const received = (): Buffer => Buffer.concat(chunks, size);
      const finish = (result: Exchange): void => {
        cancelDeadline();
        this.signal.removeEventListener('abort', onAbort);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (!result.ok) this.close();
        resolve(result);
      };
      const fail = (status: ProbeStatus, reason: string): void => finish({ ok: false, status, reason, received: size });
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        size += chunk.length;
        const bytes = received();
        const framing = rtspFraming(bytes);
        if (framing.kind === 'complete') finish({ ok: true, bytes: bytes.subarray(0, framing.length) });
        else if (framing.kind === 'invalid') fail('protocol-error', 'not an RTSP response');
        else if (size >= RTSP_MAX_RESPONSE_BYTES) {
          // Past the cap: keep the header section if it is whole, else give up.
          if (parseRtspResponse(bytes)) finish({ ok: true, bytes });
          else fail('protocol-error', `no complete RTSP header within ${RTSP_MAX_RESPONSE_BYTES} bytes`);
        }
      };
      const onError = (error: NodeJS.ErrnoException): void => fail(failureStatus(error), error.message);
      const onClose = (): void => {
        const bytes = received();
        if (parseRtspResponse(bytes)) finish({ ok: true, bytes });
        else fail(size === 0 ? 'error' : 'protocol-error', 'the connection closed without a complete RTSP answer');
      };
      const onAbort = (): void => fail('timeout', 'the scan ended first');
      const cancelDeadline = exchangeDeadline(EXCHANGE_TIMEOUT_MS, () => fail('timeout', `no complete answer within ${EXCHANGE_TIMEOUT_MS} ms`));
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      this.signal.addEventListener('abort', onAbort, { once: true });
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

/** OPTIONS then DESCRIBE on one port; one observation per answer (or per failure, which ends the probe). */
async function probeRtsp(
  target: RtspTarget,
  signal: AbortSignal,
  limiter: RateLimiter,
  log: Logger,
  emit: (o: Observation) => void,
): Promise<void> {
  const connection = new RtspConnection(target, signal, limiter);
  const url = rtspUrl(target.ip, target.port);
  const methods: RtspMethod[] = ['OPTIONS', 'DESCRIBE'];
  try {
    for (const [index, method] of methods.entries()) {
      const result = await connection.exchange(buildRtspRequest(method, url, index + 1));
      const base = { source: 'rtsp', ip: target.ip, port: target.port, at: new Date().toISOString() } as const;
      const response = result.ok ? parseRtspResponse(result.bytes) : null;
      if (!response) {
        const status = result.ok ? 'protocol-error' : result.status;
        log.debug({ ip: target.ip, port: target.port, method, status, reason: result.ok ? 'unparseable answer' : result.reason }, 'RTSP probe failed');
        emit({ ...base, status, fields: { 'rtsp.method': method } });
        return;
      }
      emit({ ...base, status: response.status === 401 ? 'auth-required' : 'ok', fields: rtspFields(method, response) });
    }
  } finally {
    connection.close();
  }
}

export const rtspProbe: Discoverer<'rtsp'> = {
  name: 'rtsp',
  phase: 'probe',
  evidence: 'rtsp',
  emits: ['rtsp.method', 'rtsp.status', 'rtsp.server', 'rtsp.public', 'rtsp.auth.scheme', 'rtsp.auth.realm', CLEANED_FIELD],
  description: 'RTSP OPTIONS and DESCRIBE without credentials on open RTSP ports: Server, Public methods, authentication realms',
  incremental: true,

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'rtsp' });
    let ports = 0;
    const targets = asTheyCome(ctx, (view) => {
      const found = claimUnprobed(view, 'rtsp', rtspTargets(view).filter((t) => portsSwept(view, t.ip)), (t) => `${t.ip} ${t.port}`);
      ports += found.length;
      return found;
    });
    await probeHosts(ctx, targets, { concurrency: CONCURRENCY }, (target) => target.ip, (target, { signal, limiter }) => probeRtsp(target, signal, limiter, log, emit));
    log.info({ ports }, 'RTSP probes finished');
  },
};
