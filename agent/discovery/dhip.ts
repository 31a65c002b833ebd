/**
 * Dahua DHIP discovery ("DHDiscover", fingerprint-facts §2.2): the read-only `DHDiscover.search`
 * request, sent twice to 239.255.255.251:37810 from every chosen interface; every device running
 * Dahua firmware (Dahua, Amcrest, Intelbras and other relabels) answers with
 * `client.notifyDevInfo`, whatever brand its Vendor field names.
 *
 * Where replies arrive: by unicast to the address and port the request came from, sent from the
 * device's port 37810. mcw0/DahuaConsole `dh_discover` reads them with `recvfrom` on the socket
 * that sent the search (an ephemeral port), as does Haicam `discoverytest.go`, so the
 * per-interface sockets of agent/net/udp.ts receive them.
 *
 * Nothing but the search is ever sent (the same port accepts state-changing methods; the codec can
 * build no other request), and only to the multicast group, which is where DahuaConsole sends it by
 * default and UniversalScanner `Dahua2.cs` always. The broadcast copy the facts also list (§2.2)
 * is left out: a limited broadcast from a socket bound to one interface's address still leaves
 * through whichever interface the routing table picks, so it could reach a network nobody chose.
 */
import type { Logger } from '../log.js';
import { withInterfaceSockets, repeatDelay, type Datagram } from '../net/udp.js';
import { sleep } from '../net/abort.js';
import { buildDhipSearch, DHIP_MULTICAST_ADDRESS, DHIP_NOTIFY_METHOD, DHIP_PORT, parseDhipReply } from '../protocols/dhip.js';
import type { ReplyCollector } from './sadp.js';
import type { Discoverer, ScanContext } from './types.js';
import type { Observation } from '../types.js';

/** How many times the search is sent (UDP loses packets). */
const SEND_COUNT = 2;
/** Bytes of a dropped datagram quoted (base64) in the log line. */
const LOGGED_HEAD_BYTES = 64;

/**
 * Turns DHIP replies into observations (one per sender and serial, or MAC when there is no
 * serial). Drops, with a log line, a datagram from a port other than 37810 (not the device's
 * discovery service) and one the codec refuses (bad header, lying or mismatched lengths, over the
 * size cap, not JSON, not a notifyDevInfo). Never throws.
 */
export function dhipReplyCollector(log: Logger, emit: (o: Observation) => void): ReplyCollector {
  const seen = new Set<string>();
  return {
    onDatagram(d: Datagram): void {
      const dropped = { from: d.from, port: d.port, bytes: d.bytes.length, head: d.bytes.subarray(0, LOGGED_HEAD_BYTES).toString('base64') };
      if (d.port !== DHIP_PORT) {
        log.warn(dropped, `DHIP reply dropped: it came from port ${d.port}, not from the DHIP port ${DHIP_PORT}`);
        return;
      }
      const reply = parseDhipReply(d.bytes);
      if (!reply) {
        log.warn(dropped, 'malformed DHIP reply dropped');
        return;
      }
      const key = `${d.from} ${reply.serial ?? reply.mac ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      emit({
        source: 'dhip',
        ip: d.from,
        mac: reply.mac ?? undefined,
        at: new Date().toISOString(),
        status: 'ok',
        // dhip.method records that a notifyDevInfo answered: the one field every valid reply has.
        fields: { ...reply.fields, 'dhip.method': DHIP_NOTIFY_METHOD },
      });
    },
    devices: () => seen.size,
  };
}

export const dhip: Discoverer<'dhip'> = {
  name: 'dhip',
  phase: 'listen',
  evidence: 'dhip',
  emits: [
    'dhip.method', 'dhip.mac', 'dhip.deviceClass', 'dhip.deviceType', 'dhip.serial', 'dhip.version', 'dhip.vendor', 'dhip.manufacturer',
    'dhip.machineName', 'dhip.deviceId', 'dhip.init', 'dhip.find', 'dhip.findVersion', 'dhip.videoInputChannels',
    'dhip.videoOutputChannels', 'dhip.remoteVideoInputChannels', 'dhip.alarmInputChannels', 'dhip.alarmOutputChannels',
    'dhip.unLoginFuncMask', 'dhip.ipv4', 'dhip.dhcp', 'dhip.httpPort', 'dhip.port',
  ],
  description: 'Dahua DHIP DHDiscover.search (UDP 37810, multicast 239.255.255.251)',

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'dhip' });
    const replies = dhipReplyCollector(log, emit);
    const search = buildDhipSearch();
    await withInterfaceSockets(ctx.interfaces, log, (d) => replies.onDatagram(d), async (sockets) => {
      const window = sleep(ctx.timeoutMs, ctx.signal);
      for (let round = 0; round < SEND_COUNT && !ctx.signal.aborted; round++) {
        for (const socket of sockets) socket.send(search, DHIP_MULTICAST_ADDRESS, DHIP_PORT);
        await sleep(repeatDelay(), ctx.signal);
      }
      await window;
    });
    log.info({ devices: replies.devices() }, 'DHIP finished');
  },
};
