import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DHIP_HEADER_LENGTH, DHIP_MAX_PACKET_BYTES, DHIP_SEARCH_METHOD, buildDhipSearch, parseDhipPacket, parseDhipReply } from '../../../agent/protocols/dhip.js';
import { buildDhipReply, parseDhipRequest, type DhipJson } from '../../lab/sim/codecs/dhip-device.js';
import { seededRandom } from '../../seeded-random.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/dhip/${name}`, import.meta.url));
const haicam = fixture('ipc-hdw1431t1-s4.reply.bin');
const intelbras = fixture('intelbras-mhdx-1016.reply.bin');
const spaced = fixture('ipc-hdw5421s.reply.bin');
const REPLIES = [haicam, intelbras, spaced];

/** Frames a body by hand (independently of the codec), with optional overrides of header words. */
function frame(body: Buffer | string, words: Partial<Record<0 | 0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c, number>> = {}): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0x20, 0);
  header.write('DHIP', 4, 'latin1');
  header.writeUInt32LE(b.length, 0x10);
  header.writeUInt32LE(b.length, 0x18);
  for (const [offset, value] of Object.entries(words)) header.writeUInt32LE(value >>> 0, Number(offset));
  return Buffer.concat([header, b]);
}

describe('buildDhipSearch', () => {
  it('builds the 32-byte header + DHDiscover.search JSON, byte for byte', () => {
    const body = '{"method":"DHDiscover.search","params":{"mac":"","uni":1}}\n';
    const expected = Buffer.concat([
      Buffer.from('20000000' + '44484950' + '00000000' + '00000000' + '3b000000' + '00000000' + '3b000000' + '00000000', 'hex'),
      Buffer.from(body, 'utf8'),
    ]);
    expect(buildDhipSearch().equals(expected)).toBe(true);
    expect(buildDhipSearch()).toHaveLength(91);
    // DahuaConsole: p64(0x2000000044484950, endian='big') is the same 8 bytes.
    expect(buildDhipSearch().readBigUInt64BE(0)).toBe(0x2000000044484950n);
  });

  it('is a constant request: no argument can change the method', () => {
    expect(buildDhipSearch.length).toBe(0);
    expect(parseDhipRequest(buildDhipSearch())).toEqual({ method: DHIP_SEARCH_METHOD, params: { mac: '', uni: 1 } });
  });
});

describe('parseDhipRequest', () => {
  it('parses Haicam’s spaced request, and one without params', () => {
    expect(parseDhipRequest(fixture('haicam-search.request.bin'))).toEqual({ method: 'DHDiscover.search', params: { mac: '', uni: 1 } });
    expect(parseDhipRequest(frame('{"method":"DHDiscover.search"}'))).toEqual({ method: 'DHDiscover.search', params: null });
  });

  it('rejects the AMP-Research 62-byte request: its length fields give the datagram size, not the body size', () => {
    const amp = fixture('amp-research-search.request.bin');
    expect(amp).toHaveLength(62);
    expect(amp.readUInt32LE(0x10)).toBe(62); // body is 30 bytes
    expect(parseDhipRequest(amp)).toBeNull();
  });

  it('returns other methods as they are (the simulator ignores them) and null without a method', () => {
    expect(parseDhipRequest(frame('{"method":"DevInit.account","params":{}}'))?.method).toBe('DevInit.account');
    for (const body of ['{}', '{"method":1}', '{"method":""}', '{"method":"x","params":"y"}', '[]', '"DHDiscover.search"']) {
      expect(parseDhipRequest(frame(body)), body).toBeNull();
    }
  });
});

describe('parseDhipReply: fixtures', () => {
  it('IPC-HDW1431T1-S4 (Haicam capture, "Private") → exact fields', () => {
    const reply = parseDhipReply(haicam);
    expect(reply?.fields).toEqual({
      'dhip.mac': '08:ed:ed:87:42:7a',
      'dhip.deviceClass': 'IPC',
      'dhip.deviceType': 'IPC-HDW1431T1-S4',
      'dhip.serial': '6C01E93PAG69A7D',
      'dhip.version': '2.800.0000000.13.R',
      'dhip.vendor': 'Private',
      'dhip.manufacturer': 'Private',
      'dhip.machineName': '6C01E93PAG69A7D',
      'dhip.init': '2714',
      'dhip.find': 'BC',
      'dhip.findVersion': '1',
      'dhip.videoInputChannels': '1',
      'dhip.videoOutputChannels': '0',
      'dhip.remoteVideoInputChannels': '0',
      'dhip.alarmInputChannels': '0',
      'dhip.alarmOutputChannels': '0',
      'dhip.unLoginFuncMask': '1',
      'dhip.ipv4': '192.168.124.17',
      'dhip.ipv4Mask': '255.255.255.0',
      'dhip.ipv4Gateway': '192.168.124.1',
      'dhip.dhcp': 'true',
      'dhip.httpPort': '80',
      'dhip.port': '37777',
    });
    expect(reply).toMatchObject({
      mac: '08:ed:ed:87:42:7a',
      deviceClass: 'IPC',
      model: 'IPC-HDW1431T1-S4',
      serial: '6C01E93PAG69A7D',
      version: '2.800.0000000.13.R',
      vendor: 'Private',
      manufacturer: 'Private',
      ipv4: '192.168.124.17',
      dhcp: true,
      httpPort: 80,
      port: 37777,
    });
    expect(reply?.deviceInfo['IPv6Address']).toEqual({
      DefaultGateway: null,
      DhcpEnable: false,
      IPAddress: '/0',
      LinkLocalAddress: 'fe80::0aed:edff:fe87:427a/64',
    });
  });

  it('Intelbras MHDX 1016 (AMP-Research) → exact fields', () => {
    expect(parseDhipReply(intelbras)?.fields).toEqual({
      'dhip.mac': '58:10:8c:4d:3b:fa',
      'dhip.deviceClass': 'MHDX',
      'dhip.deviceType': 'MHDX 1016',
      'dhip.serial': 'O9RF220012635',
      'dhip.version': '3.210.IB01.3',
      'dhip.vendor': 'Intelbras',
      'dhip.manufacturer': 'Intelbras',
      'dhip.machineName': 'DVR-01',
      'dhip.videoInputChannels': '16',
      'dhip.videoOutputChannels': '0',
      'dhip.remoteVideoInputChannels': '2',
      'dhip.alarmInputChannels': '0',
      'dhip.alarmOutputChannels': '0',
      'dhip.ipv4': '192.168.15.110',
      'dhip.ipv4Mask': '255.255.255.0',
      'dhip.ipv4Gateway': '192.168.15.1',
      'dhip.dhcp': 'false',
      'dhip.httpPort': '1101',
      'dhip.port': '1102',
    });
  });

  it('IPC-HDW5421S (spaced JSON, no terminator) → exact fields', () => {
    expect(parseDhipReply(spaced)?.fields).toEqual({
      'dhip.mac': '4c:11:bf:c2:0b:9d',
      'dhip.deviceClass': 'IPC',
      'dhip.deviceType': 'IPC-HDW5421S',
      'dhip.serial': '1F006E4PAX00075',
      'dhip.version': '2.400.0.8',
      'dhip.vendor': 'Dahua',
      'dhip.manufacturer': 'Private',
      'dhip.machineName': '1F006E4PAX00075',
      'dhip.videoInputChannels': '1',
      'dhip.videoOutputChannels': '16',
      'dhip.remoteVideoInputChannels': '0',
      'dhip.alarmInputChannels': '0',
      'dhip.alarmOutputChannels': '0',
      'dhip.ipv4': '198.51.100.140',
      'dhip.ipv4Mask': '255.255.255.0',
      'dhip.ipv4Gateway': '198.51.100.1',
      'dhip.dhcp': 'false',
      'dhip.httpPort': '80',
      'dhip.port': '37777',
    });
  });

  it('parseDhipPacket exposes the header fields', () => {
    expect(parseDhipPacket(haicam)).toMatchObject({ sessionId: 0, requestId: 0, bodyLength: haicam.length - 32 });
    const withIds = frame('{"a":1}', { 0x08: 0x11223344, 0x0c: 7 });
    expect(parseDhipPacket(withIds)).toEqual({ sessionId: 0x11223344, requestId: 7, bodyLength: 7, json: { a: 1 } });
  });
});

describe('parseDhipReply: leniency and shape', () => {
  const reply = (json: unknown, tail = ''): ReturnType<typeof parseDhipReply> => parseDhipReply(frame(JSON.stringify(json) + tail));
  const notify = (deviceInfo: unknown, extra: Record<string, unknown> = {}): unknown => ({ mac: '08:ed:ed:87:42:7a', method: 'client.notifyDevInfo', params: { deviceInfo }, ...extra });

  it('accepts JSON ending in NUL, newline, CRLF or several of them, and NUL padding after the body', () => {
    for (const tail of ['', '\n', '\0', '\n\0', '\r\n', '\0\0\0', ' \n']) {
      expect(reply(notify({ DeviceType: 'X' }), tail)?.model, JSON.stringify(tail)).toBe('X');
    }
    const padded = Buffer.concat([frame(JSON.stringify(notify({ DeviceType: 'X' }))), Buffer.alloc(5)]);
    expect(parseDhipReply(padded)?.model).toBe('X');
  });

  it('skips members of the wrong type instead of failing', () => {
    const r = reply(
      notify({
        DeviceType: { nested: true },
        SerialNo: 12345,
        Vendor: '  ',
        Version: null,
        HttpPort: 70000,
        Port: '37777',
        Init: 1e400,
        IPv4Address: 'x',
        MachineName: ['a'],
      }),
    );
    expect(r?.fields).toEqual({ 'dhip.mac': '08:ed:ed:87:42:7a', 'dhip.serial': '12345', 'dhip.port': '37777' });
    expect(r).toMatchObject({ model: null, vendor: null, httpPort: null, port: 37777, ipv4: null, dhcp: null });
  });

  it('accepts a reply without a mac, and drops a mac that is not one', () => {
    expect(reply({ method: 'client.notifyDevInfo', params: { deviceInfo: { DeviceType: 'X' } } })?.mac).toBeNull();
    expect(reply(notify({ DeviceType: 'X' }, { mac: 'nonsense' }))?.fields['dhip.mac']).toBeUndefined();
  });

  it('does not read inherited properties', () => {
    const r = parseDhipReply(frame('{"method":"client.notifyDevInfo","params":{"deviceInfo":{"__proto__":{"DeviceType":"evil"}}}}'));
    expect(r?.model).toBeNull();
    expect(({} as Record<string, unknown>)['DeviceType']).toBeUndefined();
  });

  it('valid JSON of the wrong shape → null', () => {
    const wrong: unknown[] = [
      [],
      'client.notifyDevInfo',
      null,
      42,
      {},
      { method: 'client.notifyDevInfo' },
      { method: 'client.notifyDevInfo', params: 'x' },
      { method: 'client.notifyDevInfo', params: {} },
      { method: 'client.notifyDevInfo', params: { deviceInfo: [] } },
      { method: 'client.notifyDevInfo', params: { deviceInfo: 'x' } },
      { method: 'client.notifyDevInfo', params: { deviceInfo: null } },
      { method: 'DHDiscover.search', params: { deviceInfo: {} } },
      { method: 'client.notifydevinfo', params: { deviceInfo: {} } },
      { params: { deviceInfo: { DeviceType: 'X' } } },
    ];
    for (const json of wrong) expect(reply(json), JSON.stringify(json)).toBeNull();
  });

  it('a search request is not a reply', () => {
    expect(parseDhipReply(buildDhipSearch())).toBeNull();
  });
});

describe('buildDhipReply', () => {
  const haicamInfo = (): Record<string, DhipJson> => {
    const json = parseDhipPacket(haicam)!.json;
    return (json['params'] as { deviceInfo: Record<string, DhipJson> }).deviceInfo;
  };

  it('round-trips: build → parse gives the fixture’s fields', () => {
    const built = buildDhipReply(haicamInfo(), '08-ED-ED-87-42-7A');
    expect(parseDhipReply(built)?.fields).toEqual(parseDhipReply(haicam)?.fields);
    expect(parseDhipReply(built)?.deviceInfo).toEqual(haicamInfo());
  });

  it('shapes the packet like the capture: key order, `\\n\\0` tail counted in both lengths', () => {
    const built = buildDhipReply({ DeviceClass: 'IPC', DeviceType: 'IPC-X' }, '08:ed:ed:87:42:7a');
    const body = '{"mac":"08:ed:ed:87:42:7a","method":"client.notifyDevInfo","params":{"deviceInfo":{"DeviceClass":"IPC","DeviceType":"IPC-X"}}}\n\0';
    expect(built.subarray(32).toString('utf8')).toBe(body);
    expect(built.readUInt32LE(0x10)).toBe(Buffer.byteLength(body));
    expect(built.readUInt32LE(0x18)).toBe(Buffer.byteLength(body));
    expect(built.subarray(0, 8).toString('latin1')).toBe(' \0\0\0DHIP');
    // Same framing as the fixture reconstructed independently from the capture (the lengths differ:
    // JSON.stringify does not escape '/' as the device's `\/` does).
    const rebuilt = buildDhipReply(haicamInfo(), '08:ed:ed:87:42:7a');
    expect(rebuilt.subarray(0, 0x10).equals(haicam.subarray(0, 0x10))).toBe(true);
    expect(rebuilt.subarray(32).toString('utf8').endsWith('}}}\n\0')).toBe(true);
  });

  it('throws on a bad MAC or an oversized reply (programming errors)', () => {
    expect(() => buildDhipReply({}, 'nope')).toThrow(RangeError);
    expect(() => buildDhipReply({ Big: 'x'.repeat(DHIP_MAX_PACKET_BYTES) }, '08:ed:ed:87:42:7a')).toThrow(RangeError);
  });
});

describe('garbage in → null, never a throw', () => {
  it('every truncation of every fixture → null', () => {
    for (const packet of REPLIES) {
      for (let len = 0; len < packet.length; len++) {
        expect(parseDhipReply(packet.subarray(0, len)), `length ${len}`).toBeNull();
        expect(parseDhipPacket(packet.subarray(0, len))).toBeNull();
      }
    }
  });

  it('lying or malformed header fields → null', () => {
    const body = haicam.subarray(32);
    const n = body.length;
    const lies: Array<[string, Buffer]> = [
      ['length + 1', frame(body, { 0x10: n + 1, 0x18: n + 1 })],
      ['length - 3 (JSON bytes left after the declared body)', frame(body, { 0x10: n - 3, 0x18: n - 3 })],
      ['length 0', frame(body, { 0x10: 0, 0x18: 0 })],
      ['length 0xffffffff', frame(body, { 0x10: 0xffffffff, 0x18: 0xffffffff })],
      ['lengths disagree', frame(body, { 0x18: n + 10 })],
      ['first length disagrees', frame(body, { 0x10: n - 1 })],
      ['high half of length 1 set', frame(body, { 0x14: 1 })],
      ['high half of length 2 set', frame(body, { 0x1c: 1 })],
      ['header length 0x21', frame(body, { 0: 0x21 })],
      ['header length big-endian', frame(body, { 0: 0x20000000 })],
      ['magic DHIQ', Buffer.concat([haicam.subarray(0, 4), Buffer.from('DHIQ'), haicam.subarray(8)])],
      ['magic lower case', Buffer.concat([haicam.subarray(0, 4), Buffer.from('dhip'), haicam.subarray(8)])],
      ['trailing garbage', Buffer.concat([haicam, Buffer.from('x')])],
      ['second packet appended', Buffer.concat([haicam, haicam])],
      ['body not JSON', frame('not json\n\0')],
      ['body truncated JSON', frame('{"method":"client.notifyDevInfo"')],
      ['body only terminators', frame('\n\0')],
      ['header only', haicam.subarray(0, 32)],
    ];
    for (const [why, packet] of lies) {
      expect(parseDhipPacket(packet), why).toBeNull();
      expect(parseDhipReply(packet), why).toBeNull();
      expect(parseDhipRequest(packet), why).toBeNull();
    }
    // Only NUL bytes may follow the declared body (the fixture ends in `\n\0`).
    expect(parseDhipReply(frame(body, { 0x10: n - 1, 0x18: n - 1 }))?.fields).toEqual(parseDhipReply(haicam)?.fields);
  });

  it('huge input → null, quickly', () => {
    const huge = Buffer.alloc(20 * 1024 * 1024);
    haicam.copy(huge, 0, 0, 32);
    huge.writeUInt32LE(huge.length - 32, 0x10);
    huge.writeUInt32LE(huge.length - 32, 0x18);
    const justOver = frame(Buffer.alloc(DHIP_MAX_PACKET_BYTES - DHIP_HEADER_LENGTH + 1, 0x20));
    const start = performance.now();
    expect(parseDhipReply(huge)).toBeNull();
    expect(parseDhipPacket(justOver)).toBeNull();
    // The cap is the property (null); the bound only catches a hang, with room for a loaded machine.
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('deeply nested JSON → null or a value, never a throw', () => {
    expect(parseDhipPacket(frame('['.repeat(30_000) + ']'.repeat(30_000)))).toBeNull();
    expect(parseDhipPacket(frame('['.repeat(60_000)))).toBeNull();
    const deepMember = frame('{"method":"client.notifyDevInfo","params":{"deviceInfo":{"x":' + '['.repeat(30_000) + ']'.repeat(30_000) + '}}}');
    expect(() => parseDhipReply(deepMember)).not.toThrow();
  });

  it('random buffers (seeded) → null', () => {
    const rand = seededRandom(0xd41f);
    for (let i = 0; i < 3000; i++) {
      const buf = randomBuffer(rand, Math.floor(rand() * 1200));
      expect(parseDhipPacket(buf)).toBeNull();
      expect(parseDhipReply(buf)).toBeNull();
      expect(parseDhipRequest(buf)).toBeNull();
    }
  });

  it('random bodies behind a valid header, and random mutations of the fixtures, never throw', () => {
    const rand = seededRandom(0xb0d7);
    for (let i = 0; i < 3000; i++) {
      const packet = frame(randomBuffer(rand, 1 + Math.floor(rand() * 600)));
      expect(parseDhipReply(packet)).toBeNull();
      const mutated = Buffer.from(REPLIES[i % REPLIES.length]!);
      const flips = 1 + Math.floor(rand() * 6);
      for (let f = 0; f < flips; f++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      expect(() => parseDhipReply(mutated)).not.toThrow();
      expect(() => parseDhipRequest(mutated)).not.toThrow();
    }
  });
});

function randomBuffer(rand: () => number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}
