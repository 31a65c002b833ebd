/**
 * Raw protocol client for the lab tests (independent of the simulator's code: own dgram/http
 * calls, own parsing). Run inside cctvlab-scan; prints one JSON document on stdout.
 *
 *   node raw-client.js probe [--types "p:T ..."] [--scopes "uri ..."] [--to IP] [--timeout MS] [--garbage]
 *       Sends one WS-Discovery 2005/04 Probe (multicast 239.255.255.250:3702 unless --to) from
 *       198.18.0.1, after a burst of malformed datagrams when --garbage, and lists the replies.
 *   node raw-client.js soap URL OPERATION      POSTs an empty ONVIF device operation (SOAP 1.2)
 *   node raw-client.js post URL BODY           POSTs BODY (a string) as application/soap+xml
 */
import { createSocket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { XMLParser } from 'fast-xml-parser';

const SCANNER_IP = '198.18.0.1';
const GROUP = '239.255.255.250';
const PORT = 3702;

const parser = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, parseTagValue: false, attributeNamePrefix: '@_' });

function textOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && '#text' in (v as object)) return String((v as Record<string, unknown>)['#text']);
  if (typeof v === 'object') return '';
  return String(v);
}

function probeXml(messageId: string, types: string, scopes: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' +
    ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"' +
    ' xmlns:wprt="http://schemas.microsoft.com/windows/2006/08/wdp/print" xmlns:x="urn:lab:other">' +
    '<s:Header>' +
    `<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '</s:Header>' +
    `<s:Body><d:Probe><d:Types>${types}</d:Types>${scopes ? `<d:Scopes>${scopes}</d:Scopes>` : ''}</d:Probe></s:Body>` +
    '</s:Envelope>'
  );
}

/** Datagrams a faulty or hostile peer might send; none may crash or silence a device. */
const GARBAGE: Buffer[] = [
  Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x81]),
  Buffer.from('<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><d:Probe'),
  Buffer.from('not xml at all'),
  Buffer.from('<Envelope><Header/><Body><Probe><Types>dn:NetworkVideoTransmitter</Types></Probe></Body></Envelope>'),
  Buffer.from('<Envelope><Body></Body></Envelope>'),
  Buffer.from('<a><b>' + 'x'.repeat(8000) + '</b></a>'),
  Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><Envelope><Body><Probe><Types>&b;</Types></Probe></Body></Envelope>'),
  Buffer.alloc(0),
];

export interface Reply {
  from: string;
  port: number;
  relatesTo?: string;
  messageId?: string;
  action?: string;
  to?: string;
  address?: string;
  types?: string;
  scopes?: string;
  xaddrs?: string;
  metadataVersion?: string;
  parseError?: string;
  raw: string;
}

async function probe(args: string[]): Promise<unknown> {
  let types = 'dn:NetworkVideoTransmitter';
  let scopes = '';
  let to = GROUP;
  let timeout = 1500;
  let garbage = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--types') types = args[++i] ?? '';
    else if (a === '--scopes') scopes = args[++i] ?? '';
    else if (a === '--to') to = args[++i] ?? GROUP;
    else if (a === '--timeout') timeout = Number(args[++i]);
    else if (a === '--garbage') garbage = true;
    else throw new Error(`unknown argument ${a}`);
  }
  const socket = createSocket({ type: 'udp4' });
  const replies: Reply[] = [];
  socket.on('message', (msg, rinfo) => {
    const raw = msg.toString('utf8');
    const r: Reply = { from: rinfo.address, port: rinfo.port, raw };
    try {
      const doc = parser.parse(raw, true) as Record<string, any>;
      const h = doc.Envelope?.Header ?? {};
      const m = doc.Envelope?.Body?.ProbeMatches?.ProbeMatch ?? {};
      r.relatesTo = textOf(h.RelatesTo);
      r.messageId = textOf(h.MessageID);
      r.action = textOf(h.Action);
      r.to = textOf(h.To);
      r.address = textOf(m.EndpointReference?.Address);
      r.types = textOf(m.Types);
      r.scopes = textOf(m.Scopes);
      r.xaddrs = textOf(m.XAddrs);
      r.metadataVersion = textOf(m.MetadataVersion);
    } catch (e) {
      r.parseError = (e as Error).message;
    }
    replies.push(r);
  });
  await new Promise<void>((resolve) => socket.bind(0, SCANNER_IP, () => resolve()));
  socket.setMulticastInterface(SCANNER_IP);
  const send = (b: Buffer): Promise<void> =>
    new Promise((resolve, reject) => socket.send(b, PORT, to, (e) => (e ? reject(e) : resolve())));
  if (garbage) for (const g of GARBAGE) await send(g);
  const messageId = `urn:uuid:${randomUUID()}`;
  await send(Buffer.from(probeXml(messageId, types, scopes)));
  await new Promise((r) => setTimeout(r, timeout));
  socket.close();
  return { messageId, sentTo: to, replies };
}

function post(url: string, body: string, action?: string): Promise<unknown> {
  return new Promise((resolve) => {
    const ct = `application/soap+xml; charset=utf-8${action ? `; action="${action}"` : ''}`;
    const req = request(url, { method: 'POST', headers: { 'Content-Type': ct, 'Content-Length': Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(body);
  });
}

function soapOp(op: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>' +
    `<${op} xmlns="http://www.onvif.org/ver10/device/wsdl"/>` +
    '</s:Body></s:Envelope>'
  );
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  let out: unknown;
  if (cmd === 'probe') out = await probe(rest);
  else if (cmd === 'soap' && rest[0] && rest[1]) out = await post(rest[0], soapOp(rest[1]), `http://www.onvif.org/ver10/device/wsdl/${rest[1]}`);
  else if (cmd === 'post' && rest[0] && rest[1] !== undefined) out = await post(rest[0], rest[1]);
  else {
    process.stderr.write('usage: raw-client.js probe [...] | soap URL OPERATION | post URL BODY\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
