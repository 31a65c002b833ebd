import { pino, type DestinationStream, type Logger, type Level } from 'pino';
import { displaySafe, jsonSafe } from './safe-text.js';

export type { Logger };
export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** How log lines are written on stderr: `pretty` for a person at a terminal, `json` (pino NDJSON) for everything else. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The part of a stream the choice of format and colour needs (process.stderr in the CLI). */
export interface LogStream {
  isTTY?: boolean;
}

/** Readable lines on a terminal; JSON when stderr is a file, a pipe or a journal. */
export function defaultLogFormat(stream: LogStream = process.stderr): LogFormat {
  return stream.isTTY === true ? 'pretty' : 'json';
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything but '' (https://no-color.org). */
export function colourWanted(stream: LogStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

/** pino's numeric levels (pino docs/api.md "logger.levels"). */
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const WARN_LEVEL = 40;
const ERROR_LEVEL = 50;
/** ECMA-48 SGR: bold red, yellow, dim, reset. */
const SGR = { error: '\x1b[1;31m', warn: '\x1b[33m', dim: '\x1b[2m', reset: '\x1b[0m' } as const;
/** Keys every line carries that the pretty form shows in its own place or leaves out. */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'module', 'name', 'pid', 'hostname']);

function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * One pino JSON line as a person reads it: `11:08:52 WARN  ssdp: malformed SSDP message dropped from=198.18.0.5`.
 * Warnings and errors stand out (their level in colour, the message of an error in bold red);
 * every part is display-safe (agent/safe-text.ts), so a device's string is shown, never interpreted.
 * A line that is not pino JSON is shown as it is, made display-safe.
 */
export function prettyLine(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${displaySafe(line.trimEnd())}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 0;
  const time = typeof entry.time === 'number' ? new Date(entry.time) : new Date();
  const clock = `${twoDigits(time.getHours())}:${twoDigits(time.getMinutes())}:${twoDigits(time.getSeconds())}`;
  const label = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const module = typeof entry.module === 'string' ? `${displaySafe(entry.module)}: ` : '';
  const message = displaySafe(typeof entry.msg === 'string' ? entry.msg : '');
  const details = Object.entries(entry)
    .filter(([key]) => !SHOWN_APART.has(key))
    .map(([key, value]) => `${displaySafe(key)}=${displaySafe(valueText(value))}`)
    .join(' ');
  const paint = (sgr: string, text: string): string => (colour ? `${sgr}${text}${SGR.reset}` : text);
  const shownLabel = level >= ERROR_LEVEL ? paint(SGR.error, label) : level >= WARN_LEVEL ? paint(SGR.warn, label) : label;
  const shownMessage = level >= ERROR_LEVEL ? paint(SGR.error, message) : message;
  return `${paint(SGR.dim, clock)} ${shownLabel} ${module}${shownMessage}${details ? ` ${paint(SGR.dim, details)}` : ''}\n`;
}

/**
 * pino writes each line to fd 2 through sonic-boom, synchronously (nothing is lost when the
 * process exits); in between, a line is made pretty, or its JSON made display-safe. When stderr's
 * reader goes away, pino's destination stops writing (its EPIPE filter, pinojs/pino
 * lib/tools.js buildSafeSonicBoom) and the command carries on with its work, logging nowhere.
 */
function stderrDestination(format: LogFormat): DestinationStream {
  const stderr = pino.destination({ dest: 2, sync: true });
  const colour = colourWanted();
  return { write: (line: string) => stderr.write(format === 'pretty' ? prettyLine(line, colour) : jsonSafe(line)) };
}

/**
 * Logs on stderr (fd 2), so that with --json stdout holds only the document: pino NDJSON, or
 * readable lines on a terminal (defaultLogFormat). Modules take `log.child({ module })`.
 */
export function createLogger(level: Level | 'silent' = 'info', format: LogFormat = defaultLogFormat()): Logger {
  return pino({ level, base: { name: 'cctv-agent' } }, stderrDestination(format));
}
