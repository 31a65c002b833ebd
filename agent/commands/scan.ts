/** `cctv-agent scan`: discover, probe the named targets, assess, and save the inventory to the store. */
import { InvalidArgumentError, type Command } from 'commander';
import { loadCredentials } from '../credentials.js';
import { sizeHeapForSweeping } from '../heap-sizing.js';
import { loadKnowledge, namesOfLinkedVendors } from '../knowledge/index.js';
import { chooseInterfaces } from '../net/interfaces.js';
import { DEFAULT_RATE_PER_SECOND, MAX_RATE_PER_SECOND } from '../net/rate-limiter.js';
import { recordScan } from '../pipeline/changes.js';
import { createProgress } from '../report/progress.js';
import { openStore, storeFormsText, storeStateDir } from '../store/index.js';
import { assertStoreName } from '../store/names.js';
import { parseTargets } from '../targets.js';
import { collect, DEFAULT_SITE, DEFAULT_STORE, fingerprintsOption, logFormatOption, loggerFor, logLevelOption, printJson, printText, type KnowledgeFlags, type LogFlags } from './options.js';

/** Where `scan --store <push URL>` keeps that store's outbox (see storeStateDir). */
const SCAN_STATE_ROOT = './cctv-agent-state';
/** How long `scan` waits for a push store to deliver before leaving the document in its outbox. */
const SCAN_PUSH_WAIT_MS = 30_000;
const MAX_WINDOW_SECONDS = 300;

function windowSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_WINDOW_SECONDS) {
    throw new InvalidArgumentError(`give a number of seconds from 0.1 to ${MAX_WINDOW_SECONDS}`);
  }
  return seconds;
}

function positiveRate(value: string): number {
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate < 1 || rate > MAX_RATE_PER_SECOND) throw new InvalidArgumentError(`give a number from 1 to ${MAX_RATE_PER_SECOND}`);
  return rate;
}

interface ScanFlags extends KnowledgeFlags, LogFlags {
  interface: string[];
  timeout: number;
  active: boolean;
  rate: number;
  credentials?: string;
  site: string;
  store: string;
  json?: boolean;
}

async function scanCommand(targetSpecs: string[], flags: ScanFlags): Promise<void> {
  const log = loggerFor(flags);
  // Everything the operator gave is checked, and the store opened, before a packet is sent.
  assertStoreName('site name', flags.site);
  const targets = parseTargets(targetSpecs);
  const interfaces = chooseInterfaces(flags.interface);
  const credentials = flags.credentials === undefined ? undefined : loadCredentials(flags.credentials);
  log.debug({ v8Flags: sizeHeapForSweeping() }, 'garbage collector sized for sweeping');
  // Every table of the knowledge base is read and checked before the store is opened and the first packet sent.
  const knowledge = loadKnowledge(flags.fingerprints);
  const store = await openStore(flags.store, { log, stateDir: storeStateDir(SCAN_STATE_ROOT, flags.store) });
  // A corrupt store fails now, before the network is touched, not after the scan.
  // It also holds the credential refusals on record, which the scan's back-off carries on from.
  const previous = await store.latest(flags.site);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress(process.stderr, { json: flags.json === true });
  try {
    // Loaded here, not at start-up: the discoverers pull in the SSDP and mDNS libraries, which
    // `--help` and the reading commands do not need.
    const { runScanThen } = await import('../pipeline/scan.js');
    const inventory = await runScanThen(
      {
        site: flags.site,
        interfaces,
        targets,
        timeoutMs: flags.timeout * 1000,
        active: flags.active,
        ratePerSecond: flags.rate,
        credentials,
        previousRefusals: previous?.scan.credentialRefusals,
        knowledge,
        log,
        signal: abort.signal,
        onProgress: (p) => progress.update(`${p.phase}: ${p.hosts} host(s), ${p.observations} observation(s)`),
      },
      // Saved while the scan's end steps (neighbour entries given back, `ip` readers ended) run.
      async (scanned) => {
        progress.update('saving the inventory');
        const saved = await recordScan(store, scanned);
        progress.done();
        log.info({ location: saved.location, changes: saved.events.length }, 'inventory saved');
        return scanned;
      },
    );
    if (!(await store.flush(SCAN_PUSH_WAIT_MS))) {
      log.warn({ store: store.name, ...store.status() }, 'the inventory is not delivered yet; it stays in the outbox for the next run');
    }
    if (flags.json) printJson(inventory);
    else {
      // The table renderer (cli-table3) is loaded only for a table: `scan --json` prints none.
      const { inventoryTable } = await import('../report/table.js');
      printText(inventoryTable(inventory, namesOfLinkedVendors(knowledge.vendors)));
    }
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
  }
}

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('discover devices on the chosen interfaces (and probe the named TARGETs), then save the inventory to the store')
    .argument('[target...]', 'IPv4 address, CIDR block or range that active probes may touch (unicast WS-Discovery, TCP, HTTP, RTSP, TLS, ONVIF)')
    .option('-i, --interface <name>', 'interface to discover on (repeatable; default: every up, non-loopback IPv4 interface)', collect, [])
    .option('-t, --timeout <seconds>', 'discovery window in seconds', windowSeconds, 5)
    .option('-s, --site <name>', 'site name the inventory is filed under', DEFAULT_SITE)
    .option(
      '--store <dir|url>',
      `where the inventory goes: ${storeFormsText()} (push stores queue in ${SCAN_STATE_ROOT}/outbox)`,
      DEFAULT_STORE,
    )
    .option('--no-active', 'send nothing but discovery multicast: no TCP, HTTP, RTSP, TLS or ONVIF probes')
    .option(
      '--rate <per-second>',
      'most new connections per second for active probes, all hosts together (each device also gets at most 3 connections at once and 40 new ones a second)',
      positiveRate,
      DEFAULT_RATE_PER_SECOND,
    )
    .option('--credentials <file>', 'JSON file of device credentials you supply (private: chmod 600); used only to read identity (ONVIF, Hikvision ISAPI, Dahua HTTP API), once per device, never guessed')
    .option('--json', 'print the inventory document (cctv-inventory/v1) on stdout instead of a table')
    .addOption(fingerprintsOption())
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action((targets: string[], flags: ScanFlags) => scanCommand(targets, flags));
}
