/**
 * The UDP socket of a simulated device's discovery service, for the responders that answer
 * datagrams (SADP, DHIP, the hostile device). Either bound to 0.0.0.0:PORT and joined to a
 * multicast group on the device's interface (it hears multicast and unicast requests), or, without
 * a group, bound to the device's own address (it hears unicast requests only: a socket bound to a
 * unicast address never receives multicast). Replies go out from the service port, as a device's
 * do; a reply may wait a random delay first, as devices spread their answers.
 *
 * In a crowd (many devices in one namespace and one process, crowd.ts) each device's socket is
 * bound to its own address, which hears no multicast; a GroupHub then hears each group once, on
 * one interface of the crowd, and hands every datagram to every device's handler, so each device
 * still answers from its own address, as devices on one segment each hear the same multicast.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { SimLog } from './log.js';

export interface ServiceSocketOptions {
  port: number;
  /** The device's address (its interface). */
  ip: string;
  /** Multicast group to join on the device's interface; absent: unicast only. */
  group?: string;
  /** A crowd's shared listener: the socket binds to `ip` and hears the group through the hub. */
  hub?: GroupHub;
  /**
   * IPv6 instead: bound to [::]:PORT (IPv6 only) and joined to `group` (an IPv6 group such as
   * FF02::C) on this interface, named as the zone of `::%IF` (RFC 4007 §11); `ip` is then unused.
   */
  ipv6Interface?: string;
  log: SimLog;
  /** Called for every datagram, with the service to reply through; an exception is logged, never thrown. */
  onMessage(msg: Buffer, rinfo: RemoteInfo, service: ServiceSocket): void;
}

export class ServiceSocket {
  private readonly timers = new Set<NodeJS.Timeout>();
  private leaveHub: () => void = () => undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly log: SimLog,
    /** e.g. `udp 0.0.0.0:37020 + group 239.255.255.250 on 198.18.0.10`, for the ready file. */
    readonly endpoint: string,
  ) {}

  static async open(opts: ServiceSocketOptions): Promise<ServiceSocket> {
    const v6 = opts.ipv6Interface;
    const socket = v6 === undefined ? createSocket({ type: 'udp4', reuseAddr: true }) : createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true });
    socket.on('error', (e) => opts.log.warn(`socket error: ${e.message}`));
    const joinsGroup = opts.group !== undefined && opts.hub === undefined;
    const bindAddress = v6 !== undefined ? '::' : joinsGroup ? '0.0.0.0' : opts.ip;
    // The interface a group is joined on: its IPv4 address, or for IPv6 the zone of `::%IF`.
    const groupInterface = v6 === undefined ? opts.ip : `::%${v6}`;
    const endpoint = `udp ${v6 === undefined ? bindAddress : '[::]'}:${opts.port}${opts.group ? ` + group ${opts.group} on ${v6 ?? opts.ip}` : ''}`;
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
    if (opts.group && opts.hub && v6 === undefined) {
      service.leaveHub = await opts.hub.join(opts.group, opts.port, (msg, rinfo) => opts.onMessage(msg, rinfo, service));
    } else if (opts.group) {
      socket.addMembership(opts.group, groupInterface);
      socket.setMulticastInterface(groupInterface);
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
    this.leaveHub();
    for (const t of this.timers) clearTimeout(t);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

type DatagramHandler = (msg: Buffer, rinfo: RemoteInfo) => void;

/**
 * One socket per (group, port) for a whole crowd: bound to GROUP:PORT and joined to the group on
 * the interface of `anchorIp` (one membership: a macvlan hears a group only when it joined it, so
 * each datagram arrives once), handing each datagram to every device that listens for it. Bound to
 * the group, not to 0.0.0.0: Linux delivers to a socket bound to an address only the datagrams sent
 * to that address (udp(7), ip(7)), so a unicast request to a crowd address without a socket of its
 * own on the port (a device without the service) is refused as such a device refuses it, instead of
 * reaching every device of the crowd through the hub.
 */
export class GroupHub {
  private readonly listeners = new Map<string, { socket: Socket; handlers: Set<DatagramHandler> }>();

  constructor(
    private readonly anchorIp: string,
    private readonly log: SimLog,
  ) {}

  /** Adds a handler for the group; returns the function that removes it again. */
  async join(group: string, port: number, handler: DatagramHandler): Promise<() => void> {
    const key = `${group}:${port}`;
    let listener = this.listeners.get(key);
    if (!listener) {
      const socket = createSocket({ type: 'udp4', reuseAddr: true });
      const handlers = new Set<DatagramHandler>();
      listener = { socket, handlers };
      this.listeners.set(key, listener);
      socket.on('error', (e) => this.log.warn(`group ${key}: socket error: ${e.message}`));
      socket.on('message', (msg, rinfo) => {
        for (const h of handlers) {
          try {
            h(msg, rinfo);
          } catch (e) {
            this.log.warn(`group ${key}: error handling datagram from ${rinfo.address}:${rinfo.port}: ${(e as Error).message}`);
          }
        }
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port, address: group }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.addMembership(group, this.anchorIp);
    }
    const { handlers } = listener;
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  async close(): Promise<void> {
    const sockets = [...this.listeners.values()].map((l) => l.socket);
    this.listeners.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
