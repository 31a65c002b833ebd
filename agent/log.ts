import { pino, type Logger, type Level } from 'pino';

export type { Logger };
export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * pino NDJSON on stderr (fd 2), so that with --json stdout holds only the document.
 * Modules take `log.child({ module })`.
 */
export function createLogger(level: Level | 'silent' = 'info'): Logger {
  return pino({ level, base: { name: 'cctv-agent' } }, pino.destination({ dest: 2, sync: true }));
}
