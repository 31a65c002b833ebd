/**
 * Hikvision SADP (cameronnewman/hikvision-tooling internal/sadp/commands.go@01508629e5db733d8233d4b41eedba028a2d4da9,
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1):
 * the read-only `inquiry` probe, sent twice to
 * 239.255.255.250:37020 from every chosen interface; every device running Hikvision firmware
 * (Hikvision, its OEM relabels, EZVIZ) answers with a `<ProbeMatch>`.
 *
 * Where replies arrive: a device answers by unicast to the address and port the inquiry came from,
 * sending from its own SADP port 37020. The public clients read them on the very socket that sent
 * the inquiry, bound to an ephemeral port (cameronnewman/hikvision-tooling
 * `internal/sadp/scanner.go`; Haicam `golang/libs/onvif/haicam_test/discoverytest.go`), so the
 * per-interface sockets of agent/net/udp.ts receive them (the shape of ./udp-search.ts). Some
 * clients also listen on the group's port (julienblitte/UniversalScanner joins
 * 239.255.255.250:37020), but no capture shows a device multicasting its reply, so nothing listens
 * on 37020 here (a device that did would be missed).
 *
 * Nothing but the inquiry is ever sent (the same port accepts state-changing commands; the codec
 * can build no other probe), and only to the multicast group. The copy to 255.255.255.255 that
 * some tools add is left out (see ./udp-search.ts). The multicast probe is the one every client
 * cited above sends.
 */
import { randomUUID } from 'node:crypto';
import { buildSadpInquiry, parseSadpReply, SADP_MULTICAST_ADDRESS, SADP_PORT } from '../protocols/sadp.js';
import { udpSearch, type UdpSearchDiscoverer } from './udp-search.js';
import { CLEANED_FIELD } from '../safe-text.js';

/**
 * One observation per sender and serial (or MAC when there is no serial). The codec refuses a
 * datagram that is malformed, truncated, over the size cap, a probe rather than a reply, or that
 * carries no identifying element.
 */
export const sadp: UdpSearchDiscoverer<'sadp'> = udpSearch({
  name: 'sadp',
  evidence: 'sadp',
  emits: [
    'sadp.message', 'sadp.uuid', 'sadp.types', 'sadp.deviceType', 'sadp.model', 'sadp.serial', 'sadp.mac', 'sadp.ipv4', 'sadp.ipv4Mask', 'sadp.ipv4Gateway', 'sadp.firmware', 'sadp.dsp',
    'sadp.bootTime', 'sadp.activated', 'sadp.oemInfo', 'sadp.oemCode', 'sadp.commandPort', 'sadp.httpPort', 'sadp.sdkOverTlsPort', 'sadp.dhcp', 'sadp.analogChannels', 'sadp.digitalChannels',
    CLEANED_FIELD,
  ],
  description: 'Hikvision SADP inquiry (UDP 37020, multicast 239.255.255.250)',
  protocol: 'SADP',
  address: SADP_MULTICAST_ADDRESS,
  port: SADP_PORT,
  search: () => buildSadpInquiry(randomUUID()),
  decode(bytes) {
    const reply = parseSadpReply(bytes);
    if (!reply) return null;
    // sadp.message records that a ProbeMatch answered: the one field every valid reply has.
    return {
      mac: reply.mac,
      identity: reply.serial ?? reply.mac ?? '',
      fields: { ...reply.fields, 'sadp.message': 'ProbeMatch' },
      dropped: { elements: reply.elementsDropped },
    };
  },
});
