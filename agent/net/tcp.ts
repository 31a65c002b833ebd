/**
 * A TCP connect(2) probe: the three-way handshake of RFC 9293 §3.5 and nothing more. Nothing is
 * sent on the connection; as soon as the handshake's outcome is known the socket is closed, an
 * accepted one with a RST (SO_LINGER 0), as nmap's connect scan closes its sockets "instead of
 * wasting bandwidth with the four-step close" (nmap/nmap scan_engine_connect.cc@db4aefddfa348ec815ffa83a109c97e05db88766
 * init_socket): the device frees the connection at once, no FIN exchange, no TIME_WAIT here.
 */
import net from 'node:net';
import { exchangeDeadline, whenAborted } from './abort.js';

/**
 * How one connect ended. `unreachable`: the network said no route or no such host (ICMP, ARP).
 * `local-limit`: this machine could not even try (out of file descriptors or buffers), so the
 * port's state is unknown, not silent.
 */
export type ConnectOutcome = 'open' | 'refused' | 'timeout' | 'unreachable' | 'local-limit' | 'error';

const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
/** socket(2)/connect(2) errors that are about this process or host, not the peer (EMFILE: the RLIMIT_NOFILE limit). */
const LOCAL_LIMIT_CODES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'EADDRNOTAVAIL']);

/** One TCP connect: the handshake only, then the socket is closed. Never rejects. */
export function tcpConnect(ip: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ConnectOutcome> {
  if (signal?.aborted) return Promise.resolve('timeout');
  return new Promise((resolvePromise) => {
    let settled = false;
    const socket = new net.Socket();
    const finish = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      cancelDeadline();
      stopWatching();
      if (outcome === 'open' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
      resolvePromise(outcome);
    };
    // Judged after the loop turn's I/O: a short adaptive timeout cannot turn a loaded scanner's delay into silence.
    const cancelDeadline = exchangeDeadline(timeoutMs, () => finish('timeout'));
    // One listener on the signal for all connects (whenAborted): a sweep holds a thousand at once.
    const stopWatching = signal ? whenAborted(signal, () => finish('timeout')) : (): void => undefined;
    socket.once('connect', () => finish('open'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // A RST answering the SYN is ECONNREFUSED; ECONNRESET means the handshake completed and the
      // peer then reset the connection (before Node reported it): the port did accept, so it is open.
      if (error.code === 'ECONNRESET') finish('open');
      else if (error.code === 'ECONNREFUSED') finish('refused');
      else if (error.code && UNREACHABLE_CODES.has(error.code)) finish('unreachable');
      else if (error.code && LOCAL_LIMIT_CODES.has(error.code)) finish('local-limit');
      else finish('error');
    });
    socket.connect(port, ip);
  });
}
