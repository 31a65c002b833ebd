/**
 * Dahua DHIP discovery ("DHDiscover"; mcw0/DahuaConsole net.py@5f8f35b13437d06e6e9b01f63bc151303939eda2,
 * Haicam/Haicam golang/libs/onvif/haicam_test/discoverytest.go@307e0a3735f0df74237b5e903be7edfe3341c6d1):
 * the read-only `DHDiscover.search`
 * request, sent twice to 239.255.255.251:37810 from every chosen interface; every device running
 * Dahua firmware (Dahua, Amcrest, Intelbras and other relabels) answers with
 * `client.notifyDevInfo`, whatever brand its Vendor field names.
 *
 * Where replies arrive: by unicast to the address and port the request came from, sent from the
 * device's port 37810. mcw0/DahuaConsole `dh_discover` reads them with `recvfrom` on the socket
 * that sent the search (an ephemeral port), as does Haicam `discoverytest.go`, so the
 * per-interface sockets of agent/net/udp.ts receive them (the shape of ./udp-search.ts).
 *
 * Nothing but the search is ever sent (the same port accepts state-changing methods; the codec can
 * build no other request), and only to the multicast group, which is where DahuaConsole sends it by
 * default and UniversalScanner `Dahua2.cs` always. The broadcast copy some tools also send
 * (DahuaConsole's `dh_discover`) is left out (see ./udp-search.ts).
 */
import { buildDhipSearch, DHIP_MULTICAST_ADDRESS, DHIP_NOTIFY_METHOD, DHIP_PORT, parseDhipReply } from '../protocols/dhip.js';
import { udpSearch, type UdpSearchDiscoverer } from './udp-search.js';
import { CLEANED_FIELD } from '../safe-text.js';

/**
 * One observation per sender and serial (or MAC when there is no serial). The codec refuses a
 * datagram with a bad header, lying or mismatched lengths, over the size cap, not JSON, or not a
 * notifyDevInfo.
 */
export const dhip: UdpSearchDiscoverer<'dhip'> = udpSearch({
  name: 'dhip',
  evidence: 'dhip',
  emits: [
    'dhip.method', 'dhip.mac', 'dhip.deviceClass', 'dhip.deviceType', 'dhip.serial', 'dhip.version', 'dhip.vendor', 'dhip.manufacturer',
    'dhip.machineName', 'dhip.deviceId', 'dhip.init', 'dhip.find', 'dhip.findVersion', 'dhip.videoInputChannels', 'dhip.videoOutputChannels',
    'dhip.remoteVideoInputChannels', 'dhip.alarmInputChannels', 'dhip.alarmOutputChannels', 'dhip.unLoginFuncMask', 'dhip.ipv4', 'dhip.ipv4Mask', 'dhip.ipv4Gateway', 'dhip.dhcp',
    'dhip.httpPort', 'dhip.port', CLEANED_FIELD,
  ],
  description: 'Dahua DHIP DHDiscover.search (UDP 37810, multicast 239.255.255.251)',
  protocol: 'DHIP',
  address: DHIP_MULTICAST_ADDRESS,
  port: DHIP_PORT,
  search: buildDhipSearch,
  decode(bytes) {
    const reply = parseDhipReply(bytes);
    if (!reply) return null;
    // dhip.method records that a notifyDevInfo answered: the one field every valid reply has.
    return { mac: reply.mac, identity: reply.serial ?? reply.mac ?? '', fields: { ...reply.fields, 'dhip.method': DHIP_NOTIFY_METHOD } };
  },
});
