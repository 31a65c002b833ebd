/** `cctv-agent daemon`: sweep each configured site on its schedule until stopped. */
import { Option, type Command } from 'commander';
import type { Level } from 'pino';
import { sizeHeapForSweeping } from '../heap-sizing.js';
import { loadKnowledge } from '../knowledge/index.js';
import { createLogger, LOG_LEVELS, type LogFormat } from '../log.js';
import { chooseInterfaces, listScanInterfaces } from '../net/interfaces.js';
import { fingerprintsOption, logFormatOption, type KnowledgeFlags } from './options.js';

interface DaemonFlags extends KnowledgeFlags {
  config: string;
  state?: string;
  logLevel?: Level | 'silent';
  logFormat?: LogFormat;
}

/** A clean stop that leaves a handle open (a keep-alive socket) still ends the process this long after. */
const DAEMON_EXIT_GRACE_MS = 2_000;

async function daemonCommand(flags: DaemonFlags): Promise<void> {
  const { loadDaemonConfig } = await import('../daemon/config.js');
  const config = loadDaemonConfig(flags.config, { availableInterfaces: listScanInterfaces() });
  const log = createLogger(flags.logLevel ?? config.logLevel, flags.logFormat);
  log.debug({ v8Flags: sizeHeapForSweeping() }, 'garbage collector sized for sweeping');
  // A bad knowledge base fails now, not at the first sweep.
  const knowledge = loadKnowledge(flags.fingerprints);
  const { Daemon } = await import('../daemon/daemon.js');
  const { runScan } = await import('../pipeline/scan.js');
  const stateDir = flags.state ?? config.stateDir ?? process.env.STATE_DIRECTORY ?? './cctv-agent-state';
  const daemon = await Daemon.start({
    config,
    stateDir,
    log,
    followConfigLogLevel: flags.logLevel === undefined,
    linkedVendors: knowledge.linkedVendors,
    sweep: (site, { signal, log: siteLog, previousRefusals }) =>
      runScan({
        site: site.name,
        interfaces: chooseInterfaces(site.interfaces),
        targets: site.targets,
        timeoutMs: site.timeoutMs,
        active: site.active,
        ratePerSecond: site.ratePerSecond,
        credentials: site.credentials,
        previousRefusals,
        knowledge,
        log: siteLog,
        signal,
      }),
  });
  await new Promise<void>((resolve) => {
    const onStop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stop requested');
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', () => {
      daemon.reload().catch((error: unknown) => log.error({ err: String(error) }, 'configuration reload failed; the running configuration is kept'));
    });
  });
  process.exitCode = 0;
  setTimeout(() => process.exit(0), DAEMON_EXIT_GRACE_MS).unref();
}

export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('run unattended: sweep each site of the configuration on its schedule, record change events, push to the configured stores, serve /healthz and /metrics')
    .requiredOption('-c, --config <file>', 'YAML or JSON configuration (see examples/daemon.yaml)')
    .option('--state <dir>', 'state folder: local inventories, presence state, push outboxes (default: the configuration\'s stateDir, else $STATE_DIRECTORY, else ./cctv-agent-state)')
    .addOption(new Option('--log-level <level>', "how much to log on stderr (default: the configuration's logLevel)").choices([...LOG_LEVELS, 'silent']))
    .addOption(logFormatOption())
    .addOption(fingerprintsOption())
    .action((flags: DaemonFlags) => daemonCommand(flags));
}
