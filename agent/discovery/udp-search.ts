/**
 * The shape SADP and DHIP discovery share (and any vendor "search" protocol like them): send one
 * read-only search to a multicast group from each chosen interface, twice, collect the unicast
 * replies until the discovery window ends, decode each with the protocol's pure codec, and drop
 * (with a log line) what is not a reply from the protocol's own port or what the codec refuses.
 *
 * Replies arrive on the socket that sent the search (devices answer the sender's address and
 * port), so the per-interface sockets of agent/net/udp.ts receive them; nothing listens on the
 * protocol's port. Only the multicast group is ever addressed: a limited broadcast from a socket
 * bound to one interface's address still leaves through whichever interface the routing table
 * picks, so it could reach a network nobody chose.
 */
import type { Logger } from '../log.js';
import { sleep } from '../net/abort.js';
import { createHash } from 'node:crypto';
import { repeatDelay, withInterfaceSockets, type Datagram } from '../net/udp.js';
import type { EvidenceSource, Fields, Observation } from '../types.js';
import type { DiscovererName } from './index.js';
import { MAX_REMEMBERED_REPLIES, type ScanBounds } from './bounds.js';
import type { Discoverer, ScanContext } from './types.js';

/** How many times the search is sent (UDP loses packets; nmap's broadcast scripts send twice too). */
const SEND_COUNT = 2;
/** Bytes of a dropped datagram quoted (base64) in the log line. */
const LOGGED_HEAD_BYTES = 64;

/** What the codec makes of one reply. */
export interface SearchReply {
  /** The device's MAC in lower-case colon form, when the reply carries one. */
  readonly mac: string | null;
  /** What tells two devices at one address apart (serial, else MAC); replies with the same one are one device. */
  readonly identity: string;
  readonly fields: Fields;
  /** Items of the datagram left unread at the codec's caps, by what they are (`elements`); absent: none. */
  readonly dropped?: Readonly<Record<string, number>>;
}

export interface UdpSearchSpec<Name extends DiscovererName> {
  readonly name: Name;
  readonly evidence: EvidenceSource;
  readonly emits: readonly string[];
  readonly description: string;
  /** The protocol's name in log lines (`SADP`). */
  readonly protocol: string;
  readonly address: string;
  /** The port searched, and the only port replies are accepted from. */
  readonly port: number;
  /** The read-only search, built once per run. */
  search(): Buffer;
  /** The pure codec: the reply's fields, or null when the datagram is not a well-formed reply. */
  decode(bytes: Buffer): SearchReply | null;
}

export interface ReplyCollector {
  onDatagram(d: Datagram): void;
  /** How many distinct devices answered so far. */
  devices(): number;
}

export interface UdpSearchDiscoverer<Name extends DiscovererName> extends Discoverer<Name> {
  /**
   * The reply handling of one run, without sockets: one observation per sender and identity;
   * datagrams from another port, or that the codec refuses, dropped with a warning; datagrams
   * from a sender that has had its share of observations (`bounds`), dropped unparsed. Never throws.
   */
  collector(log: Logger, emit: (o: Observation) => void, bounds: ScanBounds): ReplyCollector;
}

export function udpSearch<Name extends DiscovererName>(spec: UdpSearchSpec<Name>): UdpSearchDiscoverer<Name> {
  const collector = (log: Logger, emit: (o: Observation) => void, bounds: ScanBounds): ReplyCollector => {
    const seen = new Set<string>();
    /** Sender and digest of every reply decoded: the search goes out twice, and the same answer to it is not decoded again. */
    const read = new Set<string>();
    return {
      onDatagram(d: Datagram): void {
        if (!bounds.admits(spec.name, d.from)) return;
        const dropped = { from: d.from, port: d.port, bytes: d.bytes.length, head: d.bytes.subarray(0, LOGGED_HEAD_BYTES).toString('base64') };
        if (d.port !== spec.port) {
          log.warn(dropped, `${spec.protocol} reply dropped: it came from port ${d.port}, not from the ${spec.protocol} port ${spec.port}`);
          return;
        }
        const readKey = `${d.from} ${createHash('sha256').update(d.bytes).digest('base64')}`;
        if (read.has(readKey)) return;
        const reply = spec.decode(d.bytes);
        if (!reply) {
          log.warn(dropped, `malformed ${spec.protocol} reply dropped`);
          return;
        }
        if (read.size < MAX_REMEMBERED_REPLIES) read.add(readKey);
        for (const [what, count] of Object.entries(reply.dropped ?? {})) bounds.dropped(`${spec.name}.${what}`, count, { from: d.from });
        const key = `${d.from} ${reply.identity}`;
        if (seen.has(key)) return;
        seen.add(key);
        emit({ source: spec.name, ip: d.from, mac: reply.mac ?? undefined, at: new Date().toISOString(), status: 'ok', fields: reply.fields });
      },
      devices: () => seen.size,
    };
  };

  return {
    name: spec.name,
    phase: 'listen',
    evidence: spec.evidence,
    emits: spec.emits,
    description: spec.description,
    collector,

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      const log = ctx.log.child({ module: spec.name });
      const replies = collector(log, emit, ctx.bounds);
      const search = spec.search();
      await withInterfaceSockets(ctx.interfaces, log, (d) => replies.onDatagram(d), async (sockets) => {
        const window = sleep(ctx.timeoutMs, ctx.signal);
        for (let round = 0; round < SEND_COUNT && !ctx.signal.aborted; round++) {
          for (const socket of sockets) socket.send(search, spec.address, spec.port);
          await sleep(repeatDelay(), ctx.signal);
        }
        await window;
      });
      log.info({ devices: replies.devices() }, `${spec.protocol} finished`);
    },
  };
}
