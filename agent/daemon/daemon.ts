/**
 * The unattended agent: sweeps each configured site on its schedule (scheduler.ts), computes the
 * sweep's change events with the change engine against the site's presence state
 * (computeSiteChanges, debounced by the site's removeAfterMissedSweeps), files the
 * inventory and events in the site's own file store under the state folder, then hands them to
 * the site's configured stores (push stores queue them in a durable outbox), and answers
 * /healthz and /metrics (health.ts).
 *
 * State folder layout:
 *   STATE/inventory/                 the embedded file store of every site (scans, inventory, changes)
 *   STATE/presence/<site>.json       what computeSiteChanges remembers between sweeps (atomic writes)
 *   STATE/alerts/<site>.json         what the alerts remember between sweeps: each device's CVEs that counted
 *   STATE/alerts/webhook-<id>/       a webhook alert sink's outbox
 *   STATE/sites/<site>/outbox/<type>-<id>  a push store's own folder (its outbox); <id> is a digest of
 *                                    its spec (storeStateDir), so the same store finds its outbox after a restart
 *
 * stop(): aborts the running sweep (its partial inventory is discarded: a half sweep would count
 * every device it did not reach as missed), lets the stores deliver what is pending for at most
 * `shutdownFlushSeconds`, closes them (what is still pending stays in the outbox on disk).
 * reload(): reads the configuration again; a bad one is logged and the running one kept. A good
 * one is applied between sweeps, its sites, stores and alert sinks (not the health endpoint);
 * presence state, alert state, the last sweep of each site and the metrics stay.
 */
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ALERT_STATE_SCHEMA, sweepAlerts, type AlertState } from '../alerts/alerts.js';
import { openAlertSinks, type AlertSink } from '../alerts/sinks.js';
import { computeSiteChanges, SITE_STATE_SCHEMA, type ChangeEvent, type SiteState } from '../pipeline/changes.js';
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import { listScanInterfaces, type ScanInterface } from '../net/interfaces.js';
import { openFileStore } from '../store/file.js';
import { openStore, storeLabel, storeStateDir } from '../store/index.js';
import { ensureDir, isCode, prettyJson, writeFileAtomic } from '../store/fs-durable.js';
import type { InventoryStore, StoreStatus } from '../store/types.js';
import type { Inventory } from '../types.js';
import type { CredentialRefusal } from '../credential-refusals.js';
import { loadDaemonConfig, type DaemonConfig, type SiteConfig } from './config.js';
import { startHealthServer, type HealthServer } from './health.js';
import { MetricsRegistry } from './metrics.js';
import { SweepScheduler } from './scheduler.js';

/** Runs one sweep of a site and returns its inventory; `signal` aborts it. */
/**
 * One sweep of a site. `previousRefusals`: the credential refusals the site's last saved sweep
 * recorded, which the sweep's lockout back-off carries on from (agent/credential-refusals.ts).
 */
export type SweepFunction = (
  site: SiteConfig,
  context: { signal: AbortSignal; log: Logger; previousRefusals: readonly CredentialRefusal[] },
) => Promise<Inventory>;

export interface DaemonOptions {
  config: DaemonConfig;
  stateDir: string;
  log: Logger;
  sweep: SweepFunction;
  /** The knowledge base's linked vendors: the devices metric has one series for each, and `none`. */
  linkedVendors: readonly string[];
  /** Whether a reload applies the configuration's logLevel (false when --log-level chose it). */
  followConfigLogLevel?: boolean;
  /** Interfaces that exist, for validating a reloaded configuration. Default: listScanInterfaces(). */
  availableInterfaces?: () => readonly ScanInterface[];
}

export type SweepResult = 'ok' | 'failed' | 'aborted';

export interface SweepRecord {
  scanId: string | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: SweepResult;
  devices: number | null;
  events: number | null;
  /** Why a sweep failed, in words. */
  error?: string;
}

interface SiteStore {
  /** `http:https://collector.example/inventory` — the spec without credentials, query or fragment. */
  label: string;
  store: InventoryStore;
}

interface SiteRuntime {
  config: SiteConfig;
  stores: SiteStore[];
  lastSweep: SweepRecord | null;
  skippedSweeps: number;
  /** The credential refusals the site's last saved sweep recorded: read from the local store when the site opens, then kept. */
  credentialRefusals: readonly CredentialRefusal[];
}

const METRIC = {
  sweepDuration: 'cctv_agent_sweep_duration_seconds',
  sweeps: 'cctv_agent_sweeps_total',
  skipped: 'cctv_agent_sweeps_skipped_total',
  lastSweep: 'cctv_agent_last_sweep_timestamp_seconds',
  devices: 'cctv_agent_devices',
  events: 'cctv_agent_change_events_total',
  pushes: 'cctv_agent_pushes_total',
  outbox: 'cctv_agent_outbox_depth',
  reachable: 'cctv_agent_store_reachable',
  alerts: 'cctv_agent_alerts_total',
} as const;

export class Daemon {
  private readonly log: Logger;
  private readonly metrics = new MetricsRegistry();
  private readonly scheduler: SweepScheduler;
  private readonly sites = new Map<string, SiteRuntime>();
  private local: InventoryStore | undefined;
  private alertSinks: AlertSink[] = [];
  private health: HealthServer | undefined;
  private config: DaemonConfig;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = new Date().toISOString();

  private constructor(private readonly options: DaemonOptions) {
    this.log = options.log.child({ module: 'daemon' });
    this.config = options.config;
    this.scheduler = new SweepScheduler({
      sweep: (site, signal) => this.sweepSite(site, signal),
      onSkipped: (site, state) => {
        const runtime = this.sites.get(site);
        if (runtime) runtime.skippedSweeps += 1;
        this.metrics.inc(METRIC.skipped, { site });
        this.log.warn({ site, previous: state }, 'sweep skipped: the previous sweep of this site is still running (consider a longer schedule)');
      },
    });
    this.metrics.define(METRIC.sweepDuration, 'gauge', 'How long the last completed sweep of the site took.');
    this.metrics.define(METRIC.sweeps, 'counter', 'Sweeps by result: ok (saved), failed (error, nothing saved), aborted (shutdown, discarded).');
    this.metrics.define(METRIC.skipped, 'counter', 'Scheduled sweeps skipped because the previous sweep of the site was still queued or running.');
    this.metrics.define(METRIC.lastSweep, 'gauge', 'When the last sweep of the site finished (Unix time), whatever its result.');
    this.metrics.define(METRIC.devices, 'gauge', `Devices in the last inventory of the site, by linked vendor (${options.linkedVendors.join(', ')}; none = not linked to any).`);
    this.metrics.define(METRIC.events, 'counter', 'Change events recorded, by kind.');
    this.metrics.define(METRIC.pushes, 'counter', 'Documents handed to a configured store: ok = durably accepted (push stores deliver from their outbox), failed = refused.');
    this.metrics.define(METRIC.outbox, 'gauge', 'Documents waiting in the store outbox for delivery.');
    this.metrics.define(METRIC.reachable, 'gauge', 'Whether the store answered its last delivery attempt (1 yes, 0 no); absent before the first attempt.');
    this.metrics.define(METRIC.alerts, 'counter', 'Alerts raised, by kind, handed to every configured alert sink.');
  }

  /** Opens the stores and the health endpoint, then starts the schedules (runAtStart sites sweep at once). */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    try {
      await ensureDir(options.stateDir, STATE_DIR_MODE);
      await warnIfShared(options.stateDir, daemon.log);
      daemon.local = await openFileStore(join(options.stateDir, 'inventory'), options.log);
      daemon.alertSinks = await openAlertSinks(options.config.alerts, { log: options.log, stateDir: options.stateDir });
      for (const site of options.config.sites) daemon.sites.set(site.name, await daemon.openSite(site));
      const health = options.config.health;
      if (health) {
        daemon.health = await startHealthServer({
          ...health,
          healthz: () => daemon.healthz(),
          metrics: () => daemon.metricsText(),
          log: options.log,
        });
      }
    } catch (error) {
      await daemon.closeStores();
      throw error;
    }
    daemon.scheduler.schedule(options.config.sites, { atStart: true });
    daemon.log.info({ sites: options.config.sites.map((s) => s.name), stateDir: options.stateDir }, 'daemon started');
    return daemon;
  }

  /** Where the health endpoint listens, or null when it is off. */
  get healthAddress(): { host: string; port: number } | null {
    return this.health ? { host: this.health.host, port: this.health.port } : null;
  }

  /** Reads the configuration file again. Returns false (and keeps the running configuration) when it is not valid. */
  async reload(): Promise<boolean> {
    if (this.stopping) return false;
    let next: DaemonConfig;
    try {
      next = loadDaemonConfig(this.config.file, { availableInterfaces: (this.options.availableInterfaces ?? listScanInterfaces)() });
    } catch (error) {
      this.log.error({ file: this.config.file, err: error instanceof AgentError ? error.message : String(error) }, 'configuration reload rejected; the running configuration is kept');
      return false;
    }
    if (JSON.stringify(next.health) !== JSON.stringify(this.config.health)) {
      this.log.warn('health endpoint settings changed: they apply at the next restart');
    }
    return this.scheduler.exclusive(async () => {
      if (this.stopping) return false;
      const previous = [...this.sites.values()];
      await Promise.all(previous.flatMap((s) => s.stores.map((st) => st.store.close())));
      const opened = new Map<string, SiteRuntime>();
      try {
        for (const site of next.sites) {
          const runtime = await this.openSite(site);
          const old = this.sites.get(site.name);
          opened.set(site.name, { ...runtime, lastSweep: old?.lastSweep ?? null, skippedSweeps: old?.skippedSweeps ?? 0 });
        }
      } catch (error) {
        await Promise.all([...opened.values()].flatMap((s) => s.stores.map((st) => st.store.close())));
        this.log.error({ err: String(error instanceof AgentError ? error.message : error) }, 'configuration reload rejected: a store cannot be opened; the running configuration is kept');
        for (const runtime of previous) {
          try {
            runtime.stores = (await this.openSite(runtime.config)).stores;
          } catch (reopen) {
            runtime.stores = [];
            this.log.error(
              { site: runtime.config.name, err: String(reopen instanceof AgentError ? reopen.message : reopen) },
              'a store of the running configuration cannot be reopened: this site is kept in the local store only until the next reload or restart',
            );
          }
        }
        return false;
      }
      this.sites.clear();
      for (const [name, runtime] of opened) this.sites.set(name, runtime);
      const alertsChanged = JSON.stringify(next.alerts) !== JSON.stringify(this.config.alerts);
      const alerts = alertsChanged && (await this.replaceAlertSinks(next.alerts)) ? next.alerts : this.config.alerts;
      this.config = { ...next, health: this.config.health, alerts };
      if (this.options.followConfigLogLevel) this.options.log.level = next.logLevel;
      this.scheduler.schedule(next.sites, { atStart: false });
      this.log.info({ sites: next.sites.map((s) => s.name) }, 'configuration reloaded');
      return true;
    });
  }

  /**
   * Swaps the alert sinks for those of a reloaded configuration, between sweeps: the running ones
   * deliver what is pending for at most `shutdownFlushSeconds` (what a webhook still holds stays in
   * its outbox on disk, and the same webhook entry finds it again), then close. When a new sink
   * cannot be opened the previous ones are opened again and kept. Returns whether the new ones apply.
   */
  private async replaceAlertSinks(next: DaemonConfig['alerts']): Promise<boolean> {
    const previous = this.alertSinks;
    await Promise.all(previous.map((sink) => sink.flush(this.config.shutdownFlushMs).catch(() => false)));
    await Promise.all(previous.map((sink) => sink.close().catch((error: unknown) => this.log.error({ sink: sink.label, err: String(error) }, 'alert sink close failed'))));
    const context = { log: this.options.log, stateDir: this.options.stateDir };
    try {
      this.alertSinks = await openAlertSinks(next, context);
      this.log.info({ sinks: this.alertSinks.map((sink) => sink.label) }, 'alert sinks reloaded');
      return true;
    } catch (error) {
      this.log.error({ err: error instanceof AgentError ? error.message : String(error) }, 'alert sinks of the new configuration cannot be opened; the previous ones are kept');
      try {
        this.alertSinks = await openAlertSinks(this.config.alerts, context);
      } catch (reopen) {
        this.alertSinks = [];
        this.log.error({ err: reopen instanceof AgentError ? reopen.message : String(reopen) }, 'the previous alert sinks cannot be opened again: no alerts are sent until the next reload or restart');
      }
      return false;
    }
  }

  /** Aborts the running sweep, flushes pending pushes (bounded), closes everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping: aborting the running sweep');
      await this.scheduler.stop();
      const stores = [...[...this.sites.values()].flatMap((s) => s.stores), ...this.alertSinks.map((sink) => ({ label: sink.label, store: sink }))];
      const flushed = await Promise.all(
        stores.map((s) =>
          s.store.flush(this.config.shutdownFlushMs).catch((error: unknown) => {
            this.log.error({ store: s.label, err: String(error) }, 'store flush failed');
            return false;
          }),
        ),
      );
      stores.forEach((s, i) => {
        if (!flushed[i]) this.log.warn({ store: s.label }, 'documents still pending stay in the outbox for the next start');
      });
      await this.closeStores();
      await this.health?.close();
      this.log.info('daemon stopped');
    })();
    return this.stopping;
  }

  healthz(): unknown {
    const sites = [...this.sites.values()].map((s) => ({
      name: s.config.name,
      schedule: s.config.schedule,
      sweep: this.scheduler.sweepState(s.config.name),
      nextSweepAt: this.scheduler.nextRun(s.config.name)?.toISOString() ?? null,
      lastSweep: s.lastSweep,
      skippedSweeps: s.skippedSweeps,
      stores: s.stores.map((st) => ({ name: st.label, ...st.store.status() })),
    }));
    const healthy = sites.every((s) => s.lastSweep?.result !== 'failed' && s.stores.every((st) => st.reachable !== false));
    return { status: healthy ? 'ok' : 'degraded', startedAt: this.startedAt, sites };
  }

  metricsText(): string {
    for (const site of this.sites.values()) {
      for (const { label, store } of site.stores) {
        const labels = { site: site.config.name, store: label };
        const status: StoreStatus = store.status();
        this.metrics.set(METRIC.outbox, labels, status.outboxDepth);
        if (status.reachable === null) this.metrics.clear(METRIC.reachable, labels);
        else this.metrics.set(METRIC.reachable, labels, status.reachable ? 1 : 0);
      }
    }
    return this.metrics.render();
  }

  private async openSite(config: SiteConfig): Promise<SiteRuntime> {
    const stores: SiteStore[] = [];
    try {
      for (const spec of config.stores) {
        const stateDir = storeStateDir(join(this.options.stateDir, 'sites', config.name), spec);
        await ensureDir(stateDir);
        stores.push({ label: storeLabel(spec), store: await openStore(spec, { log: this.options.log, stateDir }) });
      }
    } catch (error) {
      await Promise.all(stores.map((s) => s.store.close()));
      throw error;
    }
    return { config, stores, lastSweep: null, skippedSweeps: 0, credentialRefusals: await this.lastRefusals(config.name) };
  }

  /**
   * The credential refusals the site's last saved sweep recorded. Read when the site opens, not when
   * a sweep starts (a sweep waits for nothing but its schedule). An unreadable local inventory is
   * logged and counts as none: the save of the next sweep reports the store's problem.
   */
  private async lastRefusals(site: string): Promise<readonly CredentialRefusal[]> {
    try {
      return (await this.local?.latest(site))?.scan.credentialRefusals ?? [];
    } catch (error) {
      this.log.error({ site, err: error instanceof AgentError ? error.message : String(error) }, 'the last inventory of the site cannot be read; no credential refusal is carried into its next sweep');
      return [];
    }
  }

  private async closeStores(): Promise<void> {
    const all = [
      ...[...this.sites.values()].flatMap((s) => s.stores.map((st) => ({ name: st.label, close: () => st.store.close() }))),
      ...(this.local ? [{ name: this.local.name, close: () => (this.local as InventoryStore).close() }] : []),
      ...this.alertSinks.map((sink) => ({ name: sink.label, close: () => sink.close() })),
    ];
    await Promise.all(all.map((s) => s.close().catch((error: unknown) => this.log.error({ store: s.name, err: String(error) }, 'store close failed'))));
  }

  /**
   * The sweep's alerts (agent/alerts/alerts.ts) to every sink, once the sweep is saved. Without
   * sinks nothing is computed or kept. A sink that fails is logged; the sweep stays saved.
   */
  private async raiseAlerts(inventory: Inventory, events: readonly ChangeEvent[], presenceBefore: SiteState | null, log: Logger): Promise<void> {
    if (this.alertSinks.length === 0) return;
    const site = inventory.scan.site;
    const file = join(this.options.stateDir, 'alerts', `${site}.json`);
    const { alerts, state } = sweepAlerts(inventory, events, presenceBefore, await readAlertState(file, site, log));
    await ensureDir(join(this.options.stateDir, 'alerts'));
    await writeFileAtomic(file, prettyJson(state));
    for (const a of alerts) this.metrics.inc(METRIC.alerts, { site, type: a.type });
    for (const sink of this.alertSinks) {
      try {
        await sink.send(inventory, alerts);
      } catch (error) {
        log.error({ sink: sink.label, alerts: alerts.length, err: error instanceof AgentError ? error.message : String(error) }, 'alert sink refused the alerts');
      }
    }
    if (alerts.length > 0) log.info({ scanId: inventory.scan.id, alerts: alerts.length }, 'alerts raised');
  }

  private async sweepSite(name: string, signal: AbortSignal): Promise<void> {
    const runtime = this.sites.get(name);
    if (!runtime || !this.local) return; // removed by a reload while queued
    const site = runtime.config;
    const log = this.options.log.child({ site: name });
    const started = new Date();
    const finish = (result: SweepResult, detail: Partial<SweepRecord>): void => {
      const finished = new Date();
      runtime.lastSweep = {
        scanId: null,
        devices: null,
        events: null,
        ...detail,
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        durationMs: finished.getTime() - started.getTime(),
        result,
      };
      this.metrics.inc(METRIC.sweeps, { site: name, result });
      this.metrics.set(METRIC.lastSweep, { site: name }, finished.getTime() / 1000);
      if (result === 'ok') this.metrics.set(METRIC.sweepDuration, { site: name }, runtime.lastSweep.durationMs / 1000);
    };

    let inventory: Inventory;
    try {
      inventory = await this.options.sweep(site, { signal, log, previousRefusals: runtime.credentialRefusals });
    } catch (error) {
      const why = error instanceof AgentError ? error.message : String(error);
      log.error({ err: why }, 'sweep failed; the next one runs on schedule');
      finish(signal.aborted ? 'aborted' : 'failed', { error: why });
      return;
    }
    inventory.scan.schedule = site.timezone === undefined ? { cron: site.schedule } : { cron: site.schedule, timezone: site.timezone };
    if (signal.aborted) {
      log.warn({ scanId: inventory.scan.id }, 'sweep aborted by shutdown: its partial inventory is discarded');
      finish('aborted', { scanId: inventory.scan.id });
      return;
    }

    try {
      const presenceFile = join(this.options.stateDir, 'presence', `${name}.json`);
      const previous = await readSiteState(presenceFile, name, log);
      const { events, state } = computeSiteChanges(previous, inventory, { removeAfterMissedSweeps: site.removeAfterMissedSweeps });
      // The local store first: it is the record of what was seen, and the base of the next sweep's events.
      await this.local.save(inventory, events);
      runtime.credentialRefusals = inventory.scan.credentialRefusals ?? [];
      await ensureDir(join(this.options.stateDir, 'presence'));
      await writeFileAtomic(presenceFile, prettyJson(state));
      await this.raiseAlerts(inventory, events, previous, log);
      for (const e of events) this.metrics.inc(METRIC.events, { site: name, type: e.type });
      this.metrics.clear(METRIC.devices, { site: name });
      for (const vendor of [...this.options.linkedVendors, 'none']) this.metrics.set(METRIC.devices, { site: name, linked_vendor: vendor }, 0);
      for (const d of inventory.devices) this.metrics.inc(METRIC.devices, { site: name, linked_vendor: d.classification.linkedVendor ?? 'none' });

      for (const { label, store } of runtime.stores) {
        try {
          await store.save(inventory, events);
          this.metrics.inc(METRIC.pushes, { site: name, store: label, result: 'ok' });
        } catch (error) {
          this.metrics.inc(METRIC.pushes, { site: name, store: label, result: 'failed' });
          log.error({ store: label, scanId: inventory.scan.id, err: error instanceof AgentError ? error.message : String(error) }, 'store refused the inventory');
        }
      }
      log.info({ scanId: inventory.scan.id, devices: inventory.devices.length, events: events.length }, 'sweep saved');
      finish('ok', { scanId: inventory.scan.id, devices: inventory.devices.length, events: events.length });
    } catch (error) {
      const why = error instanceof AgentError ? error.message : String(error);
      log.error({ scanId: inventory.scan.id, err: why }, 'sweep could not be saved');
      finish('failed', { scanId: inventory.scan.id, error: why });
    }
  }
}

/** The site's alert state, or null for its first sweep with alerts (a baseline); an unreadable one is logged and counts as none. */
async function readAlertState(file: string, site: string, log: Logger): Promise<AlertState | null> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as Partial<AlertState>;
    if (state.schema === ALERT_STATE_SCHEMA && state.site === site && typeof state.flagged === 'object' && state.flagged !== null) return state as AlertState;
    log.error({ file }, 'alert state unreadable: this sweep takes a new baseline (one baseline-taken alert, no alert per CVE)');
  } catch (error) {
    if (!isCode(error, 'ENOENT')) log.error({ file, err: String(error) }, 'alert state unreadable: this sweep takes a new baseline (one baseline-taken alert, no alert per CVE)');
  }
  return null;
}

/** The site's presence state, or null for its first sweep. A corrupt file is moved aside (and logged) so sweeps go on. */
async function readSiteState(file: string, site: string, log: Logger): Promise<SiteState | null> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null;
    throw error;
  }
  try {
    const state = JSON.parse(raw) as Partial<SiteState>;
    if (state.schema === SITE_STATE_SCHEMA && state.site === site && typeof state.devices === 'object' && state.devices !== null) {
      return state as SiteState;
    }
  } catch {
    // handled below, as any other unreadable state
  }
  const aside = `${file}.corrupt-${Date.now()}`;
  await rename(file, aside);
  log.error({ file, movedTo: aside }, 'presence state unreadable: moved aside; every device of this sweep is reported as added');
  return null;
}

/**
 * The state folder holds every site's inventory, change log and push outbox (devices, addresses,
 * serials): the daemon creates it readable by its own user only.
 */
const STATE_DIR_MODE = 0o700;

/** Warns when an existing state folder can be read or entered by other users. */
async function warnIfShared(stateDir: string, log: Logger): Promise<void> {
  const mode = (await stat(stateDir)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn(
      { stateDir, mode: mode.toString(8) },
      `the state folder can be read by other users: make it private with "chmod 700 ${stateDir}"`,
    );
  }
}
