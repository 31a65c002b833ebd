/**
 * The scan pipeline, and nothing else: discover (phase by phase) → merge → fingerprint → classify →
 * the inventory document.
 */
import { randomBytes } from 'node:crypto';
import { discoverers } from '../discovery/index.js';
import { ACTIVE_PHASES, type Discoverer, type DiscoveryPhase, type ScanContext } from '../discovery/types.js';
import { identityFieldsOf, mergeObservations } from './merge.js';
import { signalScope } from '../net/abort.js';
import { buildInventory } from './assess.js';
import { assessHost, probeableObservations } from './misaddressed.js';
import type { Logger } from '../log.js';
import { interfaceOnSubnet, type ScanInterface } from '../net/interfaces.js';
import { parseTargets, probeableTargets, unprobeableReason, type TargetSet } from '../targets.js';
import { ScanBounds } from '../discovery/bounds.js';
import { heardHosts, probeSocketBudget } from '../discovery/probe-hosts.js';
import { softFdLimit } from '../net/fd-limit.js';
import type { Inventory, Observation, SweepSummary } from '../types.js';
import type { Knowledge } from '../knowledge/index.js';
import type { CredentialStore } from '../credentials.js';
import { countOnLink, ipv6OnLinkCidrs, IPV6_GC_THRESH3_PATH, LIVE_HOLD_MS, machineNeighbourEntries, NeighbourBudget, neighbourBudgetSize, neighbourTableLimit, placesHeld, SILENT_HOLD_MS } from '../net/neighbour-budget.js';
import { readNeighbourRows, type NeighbourRow } from '../discovery/neighbours.js';
import { ScanEntryRelease } from '../discovery/entry-release.js';
import { openNeighbourDeleter } from '../net/neighbour-release.js';
import { openNeighbourReader, type NeighbourTableSource } from '../net/neighbour-reader.js';
import { SweepLedger } from '../discovery/sweep-ledger.js';
import { PortSilence, ProbeFeed, ProbeLedger, TlsHandshakes } from '../discovery/probe-passes.js';
import { RateLimiter, Semaphore } from '../net/rate-limiter.js';
import { whenAborted } from '../net/abort.js';
import { RefusalLedger, type CredentialRefusal } from '../credential-refusals.js';

export interface ScanOptions {
  site: string;
  interfaces: readonly ScanInterface[];
  targets: TargetSet;
  /** The discovery window. */
  timeoutMs: number;
  /** The knowledge base, loaded and checked before any packet is sent. */
  knowledge: Knowledge;
  log: Logger;
  /** Aborts the scan early (Ctrl-C); what was seen so far is still reported. */
  signal?: AbortSignal;
  /** Which discoverers to run; all of them by default. */
  discoverers?: readonly Discoverer[];
  /** False skips the active phases (`--no-active`): nothing but discovery and the neighbour table. */
  active: boolean;
  /** New connections per second for active probes (`--rate`). */
  ratePerSecond: number;
  /** Operator-supplied device credentials (`--credentials`); used only by the probes that need them. */
  credentials?: CredentialStore;
  /** The refusals the site's last scan recorded (its `scan.credentialRefusals`): the back-off carries on from them. */
  previousRefusals?: readonly CredentialRefusal[];
  /** Told when a phase starts and on each observation, for a progress display. */
  onProgress?: (progress: ScanProgress) => void;
}

export interface ScanProgress {
  phase: DiscoveryPhase;
  observations: number;
  /** Distinct addresses observed so far. */
  hosts: number;
}

/** Sortable, unique scan id: `20261128T101500Z-1a2b3c`. */
export function newScanId(at: Date): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

const NO_TARGETS = parseTargets([]);
/**
 * Each phase after the window (TCP connects, then HTTP/RTSP/TLS/ONVIF probes) gets this long at
 * most (the probes, which start beside the sweeps: this long after the last sweep ended)…
 */
const PROBE_PHASE_LIMIT_MS = 60_000;
/**
 * …and the connect sweep this much more per named address: at the default `--rate` a dead routed
 * address costs two connects and one initial timeout shared with a thousand others, about 2 ms, so
 * a routed /16 fits with room to spare (about 5 minutes at most) while a wedged sweep still ends.
 */
const CONNECT_PHASE_MS_PER_ROUTED_TARGET = 4;
/**
 * The probes get a new view of the observations at most this often while the sweeps run
 * (discovery/probe-passes.ts): each view copies the observations so far (about 10,000 on a
 * 1,000-device /22) and each probe kind reads all of it, so fewer views cost less CPU; a swept host
 * waits at most this long for its probes to learn of it, little against the seconds its probes take.
 */
const PROBE_VIEW_INTERVAL_MS = 250;
/**
 * Probe items (a host's pages, a port's certificate, a description…) at work at once while the
 * answers to the window's searches come in (SEARCH_ANSWERS_MS); all of the probe socket budget
 * after. Waiting for the window's close cost the lab /24 the whole exchange timeout of its slow or
 * silent services after it (hostmc's dripping description, the tarpit's, hosttcp's silent ports:
 * 3 s each, side by side). Four places let the /24's waits run out inside the window (its scan went
 * from 9.0–10.0 s to 6.0–7.6 s; eight were no faster: BENCHMARKS.md "The /24 under 8 s"), while
 * holding the probing beside the searches' answers to a sixteenth of the 64 places the pools hold
 * together: on a machine short of CPU, probes at full width from the start cost the crowd /22 the
 * answers of 37 of its 602 models (BENCHMARKS.md "Fewer exchanges per device").
 */
const EARLY_PROBE_SOCKETS = 4;
/**
 * How long into the window the probes keep to EARLY_PROBE_SOCKETS: the searches go out twice
 * within REPEAT_DELAY_MS.max (250 ms, net/udp.ts) and a WS-Discovery device waits up to
 * APP_MAX_DELAY (500 ms, WS-Discovery 1.1 Appendix I,
 * http://docs.oasis-open.org/ws-dd/discovery/1.1/os/wsdd-discovery-1.1-spec-os.html) before it
 * answers; SADP and DHIP devices answer at once. After that, the window's sockets get the odd late
 * answer, not a burst of a thousand, and the probes take the CPU the sweep's waits leave idle: on
 * the crowd /22, the probes then ended 0.5–0.9 s after the window instead of 1.1–1.3 s
 * (BENCHMARKS.md "Fewer exchanges per device").
 */
const SEARCH_ANSWERS_MS = 1000;

/**
 * The connect phase's limit. An on-link address holds one of `neighbourBudget` places while it is
 * resolved: about 3 s when nobody answers (SILENT_HOLD_MS allowed), up to LIVE_HOLD_MS when someone
 * does; the limit allows the first for every one and the second for two budgets' worth of live
 * hosts, so that only a wedged sweep is cut short.
 */
function connectPhaseLimitMs(onLink: number, routed: number, neighbourBudget: number): number {
  return PROBE_PHASE_LIMIT_MS + routed * CONNECT_PHASE_MS_PER_ROUTED_TARGET + Math.ceil((onLink * SILENT_HOLD_MS) / neighbourBudget) + 2 * LIVE_HOLD_MS;
}

/** The process's memory in MB (process.memoryUsage): where a scan's resident memory goes. */
function memoryMb(): Record<string, number> {
  const usage = process.memoryUsage();
  const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
  return { rss: mb(usage.rss), heapTotal: mb(usage.heapTotal), heapUsed: mb(usage.heapUsed), external: mb(usage.external), arrayBuffers: mb(usage.arrayBuffers) };
}

/**
 * The IPv4 neighbour entries held against gc_thresh3 when the scan starts (`inUse`): this
 * namespace's entries the collector cannot free (placesHeld: a full table frees the others on
 * demand), plus every other entry of the machine where the kernel gives its count (the first
 * namespace; PERMANENT ones included, so it can only overstate). Other namespaces' entries are
 * invisible from a namespace of its own: a nudge the kernel then has no room for is retried
 * (discovery/link-hosts.ts). `ownHeld`: this namespace's held entries, which the budget's table count
 * starts from; null when the table cannot be read (then its non-PERMANENT entries are unknown too).
 */
async function neighbourEntriesHeld(tables: NeighbourTableSource): Promise<{ inUse: number; ownHeld: number | null; inTable: Set<string> | null }> {
  const rows = await readNeighbourRows(undefined, '-4', tables).catch(() => null);
  const ownHeld = rows && placesHeld(rows);
  const othersOnMachine = Math.max(0, (machineNeighbourEntries() ?? 0) - (rows?.length ?? 0));
  return { inUse: (ownHeld ?? 0) + othersOnMachine, ownHeld, inTable: rows && new Set(rows.map((row) => row.ip)) };
}

/**
 * Gives the scan's own neighbour entries back as soon as nothing uses them (discovery/entry-release.ts),
 * when the table can be read at the start (so the entries already there are known and left alone)
 * and the agent holds CAP_NET_ADMIN; null otherwise: the kernel frees them in its own time.
 */
function entryReleaseFor(inTable: Set<string> | null, interfaces: readonly ScanInterface[], tables: NeighbourTableSource, startedAtMs: number, log: Logger): ScanEntryRelease | null {
  const deleter = inTable && openNeighbourDeleter(log);
  if (!inTable || !deleter) return null;
  return new ScanEntryRelease({
    deleter,
    inTableAtStart: inTable,
    isOnLink: (ip) => interfaceOnSubnet(interfaces, ip) !== undefined,
    readTable: () => readNeighbourRows(undefined, '-4', tables),
    interfaceOf: (ip) => interfaceOnSubnet(interfaces, ip)?.name ?? '',
    scanStartedAtMs: startedAtMs,
    log,
  });
}

/** The named targets by how the sweep reached them (the inventory's `scan.sweep`). */
function sweepSummary(reach: { onLink: number; routed: number }, neighbourBudget: number, ledger: SweepLedger): SweepSummary {
  const methods = ledger.summary();
  return { onLinkTargets: reach.onLink, routedTargets: reach.routed, neighbourBudget, ...(methods.length > 0 ? { methods } : {}) };
}

export async function runScan(options: ScanOptions): Promise<Inventory> {
  return runScanThen(options, async (inventory) => inventory);
}

/**
 * Runs the scan and hands its inventory to `use` (the scan command's save) as soon as it is built,
 * while the scan's end steps run beside it: giving back the neighbour entries and ending the `ip`
 * readers wait on child processes, which the save's work need not wait for (issue 10, the scan's
 * exit). Resolves with what `use` gave once both are done; rejects with the scan's failure (after the
 * end steps), else `use`'s, else the end steps'.
 */
export async function runScanThen<T>(options: ScanOptions, use: (inventory: Inventory) => Promise<T>): Promise<T> {
  const atEnd: Array<() => Promise<void>> = [];
  // Every read of the neighbour tables goes to one `ip` per family, ended after what runs at the end (which may read).
  const neighbourTables = openNeighbourReader();
  const endSteps = async (): Promise<void> => {
    try {
      for (const end of atEnd) await end();
    } finally {
      await neighbourTables.close();
      options.log.debug({ module: 'scan', reads: neighbourTables.reads, ipProcesses: neighbourTables.processesStarted }, 'neighbour table reads done');
    }
  };
  let inventory: Inventory;
  try {
    inventory = await scan(options, atEnd, neighbourTables);
  } catch (error) {
    await endSteps();
    throw error;
  }
  // `use` starts at once; the async wrapper turns a throw into a rejection, so the end steps still run.
  const using = (async () => use(inventory))();
  const [used, ended] = await Promise.allSettled([using, endSteps()]);
  if (used.status === 'rejected') throw used.reason;
  if (ended.status === 'rejected') throw ended.reason;
  return used.value;
}

/**
 * The scan itself; `atEnd` takes what must be done once it is over, whether it ended or failed;
 * `neighbourTables` answers every read of the neighbour tables.
 */
async function scan(options: ScanOptions, atEnd: Array<() => Promise<void>>, neighbourTables: NeighbourTableSource): Promise<Inventory> {
  const started = new Date();
  const log = options.log.child({ module: 'scan' });
  const chosen = (options.discoverers ?? discoverers).filter((d) => options.active || !ACTIVE_PHASES.has(d.phase));
  const observations: Observation[] = [];
  const hostsSeen = new Set<string>();
  const report = (phase: DiscoveryPhase): void => options.onProgress?.({ phase, observations: observations.length, hosts: hostsSeen.size });
  const subnets = options.interfaces.map((i) => i.cidr);
  // IPv4 subnets and IPv6 on-link blocks: what first contacts fill the neighbour tables with.
  const onLink = [...subnets, ...ipv6OnLinkCidrs(options.interfaces)];
  const neighbourTable = neighbourTableLimit();
  const ipv6NeighbourTable = neighbourTableLimit(undefined, IPV6_GC_THRESH3_PATH);
  const neighbourEntries = options.active ? await neighbourEntriesHeld(neighbourTables) : { inUse: 0, ownHeld: null, inTable: null };
  const entryRelease = entryReleaseFor(neighbourEntries.inTable, options.interfaces, neighbourTables, started.getTime(), log);
  // Every read of the table the scan makes is handed to the release too: entries go back at host discovery's pace.
  const readNeighbourTable = async (): Promise<NeighbourRow[]> => {
    const readStartedAt = Date.now();
    const rows = await readNeighbourRows(undefined, '-4', neighbourTables);
    entryRelease?.tableRead(rows, readStartedAt);
    return rows;
  };
  const neighbours = new NeighbourBudget(neighbourBudgetSize(neighbourTable.limit, neighbourEntries.inUse), onLink, {
    ipv6Size: neighbourBudgetSize(ipv6NeighbourTable.limit),
    // Counted from the table when it could be read at the start; modelled holds otherwise.
    ...(neighbourEntries.ownHeld === null ? {} : { readTable: readNeighbourTable, heldAtStart: neighbourEntries.ownHeld }),
    ...(entryRelease ? { release: entryRelease } : {}),
  });
  // The entries the scan made and still holds go back to the kernel: the table is left as found.
  atEnd.push(async () => {
    await neighbours.close();
    if (entryRelease) log.info({ ...entryRelease.tally, refused: entryRelease.refused }, 'neighbour entries given back');
  });
  log.info(
    {
      site: options.site,
      interfaces: options.interfaces.map((i) => i.name),
      targets: options.targets.specs,
      windowMs: options.timeoutMs,
      neighbourTable: { limit: neighbourTable.limit, from: neighbourTable.from, held: neighbourEntries.inUse, budget: neighbours.size, count: neighbours.count, givesBack: entryRelease !== null },
      ipv6NeighbourTable: { limit: ipv6NeighbourTable.limit, from: ipv6NeighbourTable.from, budget: neighbours.ipv6Size },
    },
    'scan started',
  );
  const bounds = new ScanBounds(log);
  const refusals = new RefusalLedger(options.previousRefusals ?? [], options.knowledge.lockout);
  const { targets, skipped } = probeableTargets(options.targets, subnets);
  const reach = countOnLink(targets.addresses(), onLink);
  const sweep = new SweepLedger();
  for (const { addresses, reason } of skipped) log.warn({ addresses, reason }, 'named target skipped: it is not the address of one device, so it is never probed');

  // One `--rate` for everything active: the sweep and the probes that run beside it share it.
  const rateLimiter = new RateLimiter(options.ratePerSecond);

  // Probes start as soon as they can (discovery/probe-passes.ts): the incremental ones read views of
  // the observations, each saying which hosts are wholly swept and whether the window has closed;
  // they end after the view that follows every sweep. While the searches' answers come in
  // (SEARCH_ANSWERS_MS) only EARLY_PROBE_SOCKETS of them work at once; before the window closes a
  // view holds what the window's discoverers passed on early (heardEarly: SSDP's LOCATIONs,
  // WS-Discovery's XAddrs) besides the sweep's. A host heard from outside every chosen subnet (a
  // misaddressed device) is never probed unless named.
  const heardSoFar: Observation[] = [];
  const probeable = (): Observation[] => probeableObservations(windowClosed ? observations : [...observations, ...heardSoFar], subnets, targets);
  const swept = new Set<string>();
  let windowClosed = false;
  const ledger = new ProbeLedger();
  const portSilence = new PortSilence();
  // One handshake per HTTPS port, not two, when both the page probe and the certificate probe run.
  const tlsHandshakes = chosen.some((d) => d.name === 'http-pages') && chosen.some((d) => d.name === 'tls-certificate') ? new TlsHandshakes() : null;
  const probeSocketLimit = probeSocketBudget(softFdLimit().limit);
  const probeSockets = new Semaphore(Math.min(EARLY_PROBE_SOCKETS, probeSocketLimit));
  const feed = new ProbeFeed(() => {
    const whole = new Set(swept);
    return { seen: probeable(), pass: { portsSwept: (ip: string) => whole.has(ip), ledger, announcementsWhole: windowClosed } };
  }, PROBE_VIEW_INTERVAL_MS);
  const onHostSwept = (ip: string): void => {
    swept.add(ip);
    feed.changed();
  };
  const heardEarly = (o: Observation): void => {
    if (windowClosed || unprobeableReason(o.ip, subnets) !== null) return;
    heardSoFar.push(o);
    feed.changed();
  };

  /**
   * Runs one phase's discoverers together (or `run.only` of them, then logging nothing: the caller
   * does), over the given targets and earlier observations; probes run under the probes' own
   * deadline (`run.signal`), incremental ones over the feed.
   */
  const runPhase = async (
    phase: DiscoveryPhase,
    scope: { targets: TargetSet; seen: readonly Observation[] },
    run: { only?: readonly Discoverer[]; signal?: AbortSignal; feed?: ProbeFeed } = {},
  ): Promise<void> => {
    const inPhase = run.only ?? chosen.filter((d) => d.phase === phase);
    if (inPhase.length === 0) return;
    if (!run.feed) report(phase);
    const limitMs =
      phase === 'listen'
        ? options.timeoutMs
        : phase === 'connect' && scope.targets === targets
          ? connectPhaseLimitMs(reach.onLink, reach.routed, neighbours.size)
          : run.signal
            ? undefined
            : PROBE_PHASE_LIMIT_MS;
    const phaseDeadline = signalScope(run.signal ?? options.signal, limitMs);
    const ctx: ScanContext = {
      interfaces: options.interfaces,
      targets: scope.targets,
      timeoutMs: options.timeoutMs,
      startedAtMs: started.getTime(),
      signal: phaseDeadline.signal,
      log: options.log,
      seen: [...scope.seen],
      active: options.active,
      ratePerSecond: options.ratePerSecond,
      credentials: options.credentials,
      refusals,
      knowledge: options.knowledge,
      bounds,
      neighbours,
      readNeighbourTable,
      neighbourTables,
      sweep,
      ...(ACTIVE_PHASES.has(phase) ? { rateLimiter } : {}),
      ...(phase === 'connect' ? { onHostSwept } : {}),
      ...(phase === 'listen' ? { heardEarly } : {}),
      ...(phase === 'probe' ? { probeSockets, portSilence, ...(tlsHandshakes ? { tlsHandshakes } : {}) } : {}),
      ...(run.feed ? { probeFeed: run.feed } : {}),
    };
    const record = (o: Observation): void => {
      observations.push(o);
      hostsSeen.add(o.ip);
      feed.changed();
      report(phase);
    };
    const kept = phase === 'listen' ? bounds.keeping(record) : record;
    const emit = (o: Observation): void => {
      // No device holds a broadcast, multicast or loopback address: such a sender is forged, and
      // what it claims must not become a host that active probes touch.
      const reason = unprobeableReason(o.ip, subnets);
      if (reason !== null) return void bounds.dropped(`${o.source}.unprobeable-source`, 1, { ip: o.ip, reason });
      kept(o);
    };
    const phaseStarted = Date.now();
    const results = await Promise.allSettled(inPhase.map((d) => d.run(ctx, emit)));
    phaseDeadline.dispose();
    const finished = { phase, ms: Date.now() - phaseStarted, observations: observations.length };
    if (run.only) log.debug({ ...finished, discoverers: inPhase.map((d) => d.name) }, 'discoverers finished');
    else log.info({ ...finished, memoryMb: memoryMb() }, 'phase finished');
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.error({ discoverer: inPhase[i]?.name, phase, err: String(r.reason) }, 'discoverer failed; the scan goes on without it');
    });
  };

  const probers = chosen.filter((d) => d.phase === 'probe');
  let windowClosedAt = Date.now();
  const probesEnd = new AbortController();
  const detachProbes = options.signal ? whenAborted(options.signal, () => probesEnd.abort()) : (): void => undefined;
  const incrementalProbes = runPhase('probe', { targets, seen: [] }, { only: probers.filter((d) => d.incremental === true), signal: probesEnd.signal, feed });

  // The TCP sweep of the named TARGETs needs nothing from discovery, so it runs during the listen
  // window; hosts that announced themselves there but were not named are swept right after it.
  const searchesAnswered = setTimeout(() => probeSockets.widen(probeSocketLimit), SEARCH_ANSWERS_MS);
  await Promise.all([
    runPhase('listen', { targets, seen: [] }).then(() => {
      clearTimeout(searchesAnswered);
      windowClosed = true;
      windowClosedAt = Date.now();
      heardSoFar.length = 0;
      probeSockets.widen(probeSocketLimit);
      // What waited for the window (ONVIF at announced XAddrs, guesses at web ports) starts now.
      feed.now();
    }),
    runPhase('connect', { targets, seen: [] }),
  ]);
  // Judged on every observation, so a dual-stack device named by its IPv4 address is not swept
  // again at its IPv6 addresses (heardHosts leaves out IPv6 addresses announcing an IPv4 one's identity).
  const heardNow = probeable();
  const announced = heardHosts(heardNow);
  const unnamed = heardNow.filter((o) => announced.has(o.ip) && !targets.has(o.ip));
  await runPhase('connect', { targets: NO_TARGETS, seen: unnamed });
  const connectsEnded = Date.now();
  feed.close();
  const probeLimit = setTimeout(() => probesEnd.abort(), PROBE_PHASE_LIMIT_MS);
  await Promise.all([
    incrementalProbes,
    runPhase('probe', { targets, seen: probeable() }, { only: probers.filter((d) => d.incremental !== true), signal: probesEnd.signal }),
  ]);
  clearTimeout(probeLimit);
  detachProbes();
  if (probers.length > 0) {
    const ended = Date.now();
    // From the window's close, when the probes start, and from the last sweep's end.
    log.info({ phase: 'probe', ms: ended - windowClosedAt, afterConnectMs: ended - connectsEnded, probeSockets: probeSockets.size, observations: observations.length, memoryMb: memoryMb() }, 'phase finished');
  }
  await runPhase('collect', { targets, seen: observations });

  const hosts = mergeObservations(observations, identityFieldsOf(options.knowledge.fields, options.knowledge.comparison));
  const devices = hosts.map((host) => assessHost(options.knowledge, host, subnets));
  const inventory = buildInventory(
    {
      id: newScanId(started),
      site: options.site,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      targets: [...options.targets.specs],
      methods: chosen.map((d) => d.name),
      skippedTargets: skipped,
      dropped: bounds.counters(),
      ...(refusals.entries().length > 0 ? { credentialRefusals: refusals.entries() } : {}),
      ...(options.active ? { sweep: sweepSummary(reach, neighbours.size, sweep) } : {}),
    },
    devices,
  );
  log.info({ observations: observations.length, devices: devices.length, dropped: inventory.scan.dropped, memoryMb: memoryMb() }, 'scan finished');
  return inventory;
}
