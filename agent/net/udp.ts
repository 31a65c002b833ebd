/**
 * Per-interface UDP sockets for multicast discovery. One socket per chosen interface, bound to that
 * interface's address, so the multicast leaves through it (IP_MULTICAST_IF) and unicast replies come
 * back to it. A datagram that fails to parse is the caller's business: this module never throws
 * from a receive.
 */
import dgram from 'node:dgram';
import type { Logger } from '../log.js';
import type { ScanInterface } from './interfaces.js';

export interface Datagram {
  bytes: Buffer;
  from: string;
  port: number;
  iface: ScanInterface;
}

/** A socket datagrams are sent from. */
export interface SendingSocket {
  /**
   * Queues a datagram and returns at once. Waiting for the send to complete would stall the caller
   * for seconds: a datagram to an address nobody holds sits in the kernel's ARP queue (counted
   * against the socket's send buffer) until resolution fails.
   */
  send(bytes: Buffer, address: string, port: number): void;
}

export interface InterfaceSocket extends SendingSocket {
  readonly iface: ScanInterface;
}

/** SOAP-over-UDP §3.4: repeat multicast messages with a short random delay (UDP_MIN_DELAY 50 ms). */
export const REPEAT_DELAY_MS = { min: 50, max: 250 } as const;

/**
 * Receive buffer asked for each discovery socket. The default (net.core.rmem_default, 212,992 bytes
 * on Linux) holds about a hundred replies; every device on a segment answers a multicast search
 * within a few milliseconds, so a segment of a thousand overflowed it and the replies past it were
 * lost (issue 10's crowd lab: serials of ~130 of 1,020 devices missing). The kernel grants at most
 * net.core.rmem_max (socket(7) SO_RCVBUF); nothing system-wide is raised.
 */
export const DISCOVERY_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Which IP family a set of discovery sockets speaks. */
export type SocketFamily = 'ipv4' | 'ipv6';

export function repeatDelay(): number {
  return REPEAT_DELAY_MS.min + Math.floor(Math.random() * (REPEAT_DELAY_MS.max - REPEAT_DELAY_MS.min));
}

/**
 * Opens one socket per interface, calls `use` with them, and closes them all when `use` resolves
 * or `signal` aborts, whichever is later for `use` (it should itself watch the signal).
 *
 * With `family` 'ipv6', one socket per interface that has an IPv6 link-local address, bound to it
 * (zone included): multicast to a link-local group (FF02::…) leaves through that interface alone
 * (RFC 4007 §6: a link-local scope zone is one link), and replies come back to that address, their
 * sender's link-local address carrying the zone (`fe80::…%eth0`), as it must to be reached again.
 */
export async function withInterfaceSockets(
  interfaces: readonly ScanInterface[],
  log: Logger,
  onDatagram: (d: Datagram) => void,
  use: (sockets: InterfaceSocket[]) => Promise<void>,
  family: SocketFamily = 'ipv4',
): Promise<void> {
  const opened: { socket: dgram.Socket; handle: InterfaceSocket }[] = [];
  try {
    for (const iface of interfaces) {
      const bindAddress = family === 'ipv4' ? iface.address : iface.ipv6LinkLocal;
      if (bindAddress === undefined) continue;
      const socket = dgram.createSocket({ type: family === 'ipv4' ? 'udp4' : 'udp6', reuseAddr: true, recvBufferSize: DISCOVERY_RECV_BUFFER_BYTES });
      socket.on('error', (error) => log.warn({ iface: iface.name, err: error.message }, 'UDP socket error'));
      socket.on('message', (bytes, rinfo) => onDatagram({ bytes, from: rinfo.address, port: rinfo.port, iface }));
      try {
        await bindEphemeral(socket, bindAddress);
      } catch (error) {
        // An IPv6 address can vanish or still be tentative (duplicate address detection): that
        // interface is left out of IPv6 discovery, and the rest goes on.
        socket.close();
        if (family === 'ipv4') throw error;
        log.warn({ iface: iface.name, address: bindAddress, err: (error as Error).message }, 'IPv6 discovery socket not opened on this interface');
        continue;
      }
      socket.setMulticastInterface(family === 'ipv4' ? iface.address : `::%${iface.name}`);
      // Discovery stays on the local link (SOAP-over-UDP multicast, RFC 2365 scoping; for IPv6 the
      // hop limit, and the link-local groups themselves).
      socket.setMulticastTTL(1);
      opened.push({ socket, handle: { iface, ...sender(socket, log.child({ iface: iface.name })) } });
    }
    await use(opened.map((o) => o.handle));
  } finally {
    for (const { socket } of opened) socket.close();
  }
}

/** An IPv6 link-local multicast group and port to listen on (FF02::C:1900 for SSDP announcements). */
export interface ListenGroup {
  readonly address: string;
  readonly port: number;
}

/**
 * Opens one IPv6 socket per interface that has a link-local address, listening to a link-local
 * multicast group on that interface alone, calls `use`, and closes them all when it resolves.
 *
 * Each socket is bound to the group with the interface as zone (`[ff02::c%eth0]:1900`), which on
 * Linux ties it to that interface (torvalds/linux net/ipv6/af_inet6.c __inet6_bind: a scoped
 * address binds the socket to its zone's device), and joins the group there (RFC 3493 §5.2 IPV6_JOIN_GROUP): it
 * hears the group's datagrams arriving on that link and nothing sent to the agent's other sockets.
 * (A socket bound to a unicast address receives no multicast; one bound to `::` would also hear
 * the group joined on other interfaces.) Senders are link-local addresses with their zone. A socket
 * that cannot be opened (the port held without SO_REUSEADDR by another program) is logged and left out.
 */
export async function withGroupSockets(
  interfaces: readonly ScanInterface[],
  log: Logger,
  group: ListenGroup,
  onDatagram: (d: Datagram) => void,
  use: () => Promise<void>,
): Promise<void> {
  const opened: dgram.Socket[] = [];
  try {
    for (const iface of interfaces) {
      if (iface.ipv6LinkLocal === undefined) continue;
      const socket = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true, recvBufferSize: DISCOVERY_RECV_BUFFER_BYTES });
      socket.on('error', (error) => log.warn({ iface: iface.name, err: error.message }, 'UDP socket error'));
      socket.on('message', (bytes, rinfo) => onDatagram({ bytes, from: rinfo.address, port: rinfo.port, iface }));
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(group.port, `${group.address}%${iface.name}`, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        socket.addMembership(group.address, `::%${iface.name}`);
      } catch (error) {
        socket.close();
        log.warn({ iface: iface.name, group: group.address, port: group.port, err: (error as Error).message }, 'IPv6 multicast group not joined on this interface');
        continue;
      }
      opened.push(socket);
    }
    await use();
  } finally {
    for (const socket of opened) socket.close();
  }
}

/** Binds `socket` to `address` on a port the kernel picks. */
function bindEphemeral(socket: dgram.Socket, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function sender(socket: dgram.Socket, log: Logger): SendingSocket {
  return {
    send: (bytes, address, port) =>
      socket.send(bytes, port, address, (error) => {
        if (error) log.debug({ to: address, err: error.message }, 'UDP send failed');
      }),
  };
}

/**
 * With `open`, one udp6 socket bound to no address ([::], a port the kernel picks) for unicast to
 * unique-local and global IPv6 addresses, handed to `use` and closed after it: the kernel chooses
 * the outgoing interface by its routing table and the source address by RFC 6724 §5, so the
 * device sees an address of the scanner it can answer from its own unique-local or global one (a
 * socket bound to a link-local address sends from fe80::, and the answer would come from the
 * device's link-local address instead). Its replies carry no interface. `use` gets null without
 * `open`, or when this machine has no IPv6 (logged).
 */
export async function withRoutedIpv6Socket(
  log: Logger,
  onDatagram: (d: Omit<Datagram, 'iface'>) => void,
  open: boolean,
  use: (socket: SendingSocket | null) => Promise<void>,
): Promise<void> {
  if (!open) return use(null);
  const socket = dgram.createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: DISCOVERY_RECV_BUFFER_BYTES });
  socket.on('error', (error) => log.warn({ err: error.message }, 'routed IPv6 UDP socket error'));
  socket.on('message', (bytes, rinfo) => onDatagram({ bytes, from: rinfo.address, port: rinfo.port }));
  try {
    await bindEphemeral(socket, '::');
  } catch (error) {
    socket.close();
    log.warn({ err: (error as Error).message }, 'IPv6 unicast socket not opened: unique-local and global IPv6 targets get no unicast probe');
    return use(null);
  }
  try {
    await use(sender(socket, log));
  } finally {
    socket.close();
  }
}
