/**
 * The daemon lab test's collectors, run as a child process INSIDE the scanner namespace (the
 * daemon there cannot reach the test's own namespace): the HTTP push receiver and the
 * CouchDB-protocol server of tests/support, on the namespace's 127.0.0.1. Compiled by the test.
 *
 * Prints one JSON line `{ "http": URL, "couch": URL }` when listening, then answers one JSON line
 * per command line on stdin:
 *   http-down | http-up          take the HTTP receiver down (connections refused) / up on the same port
 *   http-received                { received: [{ key, site, scanId, events }], repeats: [key…], unanswered: [key…] }
 *   couch-docs DB                every document of database DB ({ rows: [...] } of _all_docs)
 *   get URL                      { status, body } of a GET to URL (the daemon's /healthz, /metrics)
 */
import { createInterface } from 'node:readline';
import { startCouchServer } from '../support/couch-server.js';
import { startHttpReceiver } from '../support/http-receiver.js';

const http = await startHttpReceiver();
const couch = await startCouchServer();
const reply = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
reply({ http: http.url, couch: couch.url });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command = '', argument = ''] = line.trim().split(/\s+/, 2);
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
await http.close();
await couch.close();
