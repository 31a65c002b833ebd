/**
 * Hikvision SADP (fingerprint-facts §2.1): the read-only `inquiry` probe, sent twice to
 * 239.255.255.250:37020 from every chosen interface; every device running Hikvision firmware
 * (Hikvision, its OEM relabels, EZVIZ) answers with a `<ProbeMatch>`.
 *
 * Where replies arrive: a device answers by unicast to the address and port the inquiry came from,
 * sending from its own SADP port 37020. The public clients read them on the very socket that sent
 * the inquiry, bound to an ephemeral port (cameronnewman/hikvision-tooling
 * `internal/sadp/scanner.go`; Haicam `golang/libs/onvif/haicam_test/discoverytest.go`), so the
 * per-interface sockets of agent/net/udp.ts receive them. Some clients also listen on the group's
 * port (julienblitte/UniversalScanner joins 239.255.255.250:37020), but no capture shows a device
 * multicasting its reply, so nothing listens on 37020 here (a device that did would be missed).
 *
 * Nothing but the inquiry is ever sent (the same port accepts state-changing commands; the codec
 * can build no other probe), and only to the multicast group. The copy to 255.255.255.255 that
 * some tools add is left out: a limited broadcast from a socket bound to one interface's address
 * still leaves through whichever interface the routing table picks, so it could reach a network
 * nobody chose. The multicast probe is the one every client cited above sends.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { withInterfaceSockets, repeatDelay, type Datagram } from '../net/udp.js';
import { sleep } from '../net/abort.js';
import { buildSadpInquiry, parseSadpReply, SADP_MULTICAST_ADDRESS, SADP_PORT } from '../protocols/sadp.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';

/** How many times the inquiry is sent (UDP loses packets; nmap's broadcast scripts send twice too). */
const SEND_COUNT = 2;
/** Bytes of a dropped datagram quoted (base64) in the log line. */
const LOGGED_HEAD_BYTES = 64;

export interface ReplyCollector {
  onDatagram(d: Datagram): void;
  /** How many distinct devices answered so far. */
  devices(): number;
}

/**
 * Turns SADP replies into observations (one per sender and serial, or MAC when there is no
 * serial). Drops, with a log line, a datagram from a port other than 37020 (not the device's
 * SADP service) and one the codec refuses (malformed, truncated, over the size cap, a probe
 * rather than a reply, or carrying no identifying element). Never throws.
 */
export function sadpReplyCollector(log: Logger, emit: (o: Observation) => void): ReplyCollector {
  const seen = new Set<string>();
  return {
    onDatagram(d: Datagram): void {
      const dropped = { from: d.from, port: d.port, bytes: d.bytes.length, head: d.bytes.subarray(0, LOGGED_HEAD_BYTES).toString('base64') };
      if (d.port !== SADP_PORT) {
        log.warn(dropped, `SADP reply dropped: it came from port ${d.port}, not from the SADP port ${SADP_PORT}`);
        return;
      }
      const reply = parseSadpReply(d.bytes);
      if (!reply) {
        log.warn(dropped, 'malformed SADP reply dropped');
        return;
      }
      const key = `${d.from} ${reply.serial ?? reply.mac ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      emit({
        source: 'sadp',
        ip: d.from,
        mac: reply.mac ?? undefined,
        at: new Date().toISOString(),
        status: 'ok',
        // sadp.message records that a ProbeMatch answered: the one field every valid reply has.
        fields: { ...reply.fields, 'sadp.message': 'ProbeMatch' },
      });
    },
    devices: () => seen.size,
  };
}

export const sadp: Discoverer<'sadp'> = {
  name: 'sadp',
  phase: 'listen',
  evidence: 'sadp',
  emits: [
    'sadp.message', 'sadp.uuid', 'sadp.types', 'sadp.deviceType', 'sadp.model', 'sadp.serial', 'sadp.mac', 'sadp.ipv4', 'sadp.firmware', 'sadp.dsp',
    'sadp.bootTime', 'sadp.activated', 'sadp.oemInfo', 'sadp.oemCode', 'sadp.commandPort', 'sadp.httpPort', 'sadp.sdkOverTlsPort', 'sadp.dhcp', 'sadp.analogChannels', 'sadp.digitalChannels',
  ],
  description: 'Hikvision SADP inquiry (UDP 37020, multicast 239.255.255.250)',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'sadp' });
    const replies = sadpReplyCollector(log, emit);
    const inquiry = buildSadpInquiry(randomUUID());
    await withInterfaceSockets(ctx.interfaces, log, (d) => replies.onDatagram(d), async (sockets) => {
      const window = sleep(ctx.timeoutMs, ctx.signal);
      for (let round = 0; round < SEND_COUNT && !ctx.signal.aborted; round++) {
        for (const socket of sockets) socket.send(inquiry, SADP_MULTICAST_ADDRESS, SADP_PORT);
        await sleep(repeatDelay(), ctx.signal);
      }
      await window;
    });
    log.info({ devices: replies.devices() }, 'SADP finished');
  },
};
