/**
 * The daemon lab test's collectors, run as a child process INSIDE the scanner namespace (the
 * daemon there cannot reach the test's own namespace): the HTTP push receiver, the
 * CouchDB-protocol server, a webhook receiver and a UDP syslog receiver of tests/support, on the
 * namespace's 127.0.0.1. Compiled by the test.
 *
 * Prints one JSON line `{ "http": URL, "couch": URL, "webhook": URL, "syslogPort": N }` when
 * listening, then answers one JSON line per command line on stdin:
 *   http-down | http-up          take the HTTP receiver down (connections refused) / up on the same port
 *   http-received                { received: [{ key, site, scanId, events }], repeats: [key…], unanswered: [key…] }
 *   couch-docs DB                every document of database DB ({ rows: [...] } of _all_docs)
 *   couch METHOD PATH [JSON]     { status, json } of that request to the CouchDB server (couchFetch)
 *   alerts-received              { webhook: [posted bodies], syslog: [messages as received] }
 *   get URL                      { status, body } of a GET to URL (the daemon's /healthz, /metrics)
 */
import { createInterface } from 'node:readline';
import { couchFetch, startCouchServer } from '../support/couch-server.js';
import { startHttpReceiver } from '../support/http-receiver.js';
import { startSyslogReceiver } from '../support/syslog-receiver.js';

const http = await startHttpReceiver();
const couch = await startCouchServer();
const webhook = await startHttpReceiver();
const syslog = await startSyslogReceiver('udp');
const reply = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
reply({ http: http.url, couch: couch.url, webhook: webhook.url, syslogPort: syslog.port });

/** The first word of a line and the rest of it. */
function split(text: string): [string, string] {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  return space < 0 ? [trimmed, ''] : [trimmed.slice(0, space), trimmed.slice(space + 1).trim()];
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, argument] = split(line);
  try {
    if (command === 'http-down') {
      await http.down();
      reply({ ok: true });
    } else if (command === 'http-up') {
      await http.up();
      reply({ ok: true });
    } else if (command === 'http-received') {
      reply({
        received: http.received.map((r) => ({ key: r.key, site: r.body.inventory.scan.site, scanId: r.body.inventory.scan.id, events: r.body.events })),
        repeats: http.repeats,
        unanswered: http.unanswered,
      });
    } else if (command === 'couch-docs') {
      const res = await fetch(`${couch.url}/${encodeURIComponent(argument)}/_all_docs?include_docs=true`);
      reply({ status: res.status, ...((await res.json()) as object) });
    } else if (command === 'couch') {
      const [method, rest] = split(argument);
      const [path, body] = split(rest);
      reply(await couchFetch(couch, method, path, body === '' ? undefined : JSON.parse(body)));
    } else if (command === 'alerts-received') {
      reply({ webhook: webhook.received.map((r) => r.body), syslog: syslog.messages });
    } else if (command === 'get') {
      const res = await fetch(argument);
      reply({ status: res.status, body: await res.text() });
    } else {
      reply({ error: `unknown command ${command}` });
    }
  } catch (error) {
    reply({ error: String(error) });
  }
}
await Promise.all([http.close(), couch.close(), webhook.close(), syslog.close()]);
// A `_replicator` document's replication keeps retrying (timers) after the server is closed.
process.exit(0);
