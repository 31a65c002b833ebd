/**
 * The UDP socket of a simulated device's discovery service, for the responders that answer
 * datagrams (SADP, DHIP, the hostile device). Either bound to 0.0.0.0:PORT and joined to a
 * multicast group on the device's interface (it hears multicast and unicast requests), or, without
 * a group, bound to the device's own address (it hears unicast requests only: a socket bound to a
 * unicast address never receives multicast). Replies go out from the service port, as a device's
 * do; a reply may wait a random delay first, as devices spread their answers.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { SimLog } from './log.js';

export interface ServiceSocketOptions {
  port: number;
  /** The device's address (its interface). */
  ip: string;
  /** Multicast group to join on the device's interface; absent: unicast only. */
  group?: string;
  log: SimLog;
  /** Called for every datagram, with the service to reply through; an exception is logged, never thrown. */
  onMessage(msg: Buffer, rinfo: RemoteInfo, service: ServiceSocket): void;
}

export class ServiceSocket {
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly socket: Socket,
    private readonly log: SimLog,
    /** e.g. `udp 0.0.0.0:37020 + group 239.255.255.250 on 198.18.0.10`, for the ready file. */
    readonly endpoint: string,
  ) {}

  static async open(opts: ServiceSocketOptions): Promise<ServiceSocket> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('error', (e) => opts.log.warn(`socket error: ${e.message}`));
    const bindAddress = opts.group ? '0.0.0.0' : opts.ip;
    const endpoint = `udp ${bindAddress}:${opts.port}${opts.group ? ` + group ${opts.group} on ${opts.ip}` : ''}`;
    const service = new ServiceSocket(socket, opts.log, endpoint);
    socket.on('message', (msg, rinfo) => {
      try {
        opts.onMessage(msg, rinfo, service);
      } catch (e) {
        opts.log.warn(`error handling datagram from ${rinfo.address}:${rinfo.port}: ${(e as Error).message}`);
      }
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: opts.port, address: bindAddress }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (opts.group) {
      socket.addMembership(opts.group, opts.ip);
      socket.setMulticastInterface(opts.ip);
      // The device never hears its own multicast.
      socket.setMulticastLoopback(false);
    }
    return service;
  }

  /** Sends `bytes` to `to` from the service port after 0..maxDelayMs; `what` names it in the log. */
  reply(bytes: Buffer, to: RemoteInfo, what: string, maxDelayMs = 0): void {
    const delay = maxDelayMs > 0 ? Math.floor(Math.random() * maxDelayMs) : 0;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.socket.send(bytes, to.port, to.address, (err) => {
        if (err) this.log.warn(`${what} to ${to.address}:${to.port} failed: ${err.message}`);
        else this.log.info(`${what} (${bytes.length} bytes, delay ${delay} ms) -> ${to.address}:${to.port}`);
      });
    }, delay);
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
