/**
 * What the commands share: defaults, option helpers and the one way to print a JSON document
 * (stdout carries only the document; logs go to stderr).
 */
import { Option } from 'commander';
import type { Level } from 'pino';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger } from '../log.js';
import { jsonText } from '../report/json-text.js';
import { displaySafeLines } from '../safe-text.js';
import { storeFormsText } from '../store/index.js';

export const DEFAULT_STORE = './cctv-inventory';
export const DEFAULT_SITE = 'default';
/** `--store` help of the read commands: the stores that can read back what they saved. */
export function readStoreHelp(): string {
  return `the store to read, as scan takes it: ${storeFormsText('readable')} (a push-only store cannot be read back)`;
}

/** `--fingerprints DIR`: another knowledge base folder than the one shipped beside the program. */
export interface KnowledgeFlags {
  fingerprints?: string;
}

export function fingerprintsOption(): Option {
  return new Option('--fingerprints <dir>', 'knowledge base folder (default: the fingerprints/ shipped with the program)');
}

export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'how much to log on stderr').choices([...LOG_LEVELS, 'silent']).default('info');
}

/** `--log-format`: no default, so that a terminal gets readable lines and anything else JSON (agent/log.ts). */
export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines on stderr: pretty (readable; the default on a terminal) or json (pino NDJSON; the default otherwise)').choices([
    ...LOG_FORMATS,
  ]);
}

/** The log options every command that logs takes. */
export interface LogFlags {
  logLevel: Level | 'silent';
  logFormat?: LogFormat;
}

export function loggerFor(flags: LogFlags): Logger {
  return createLogger(flags.logLevel, flags.logFormat);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function printJson(document: unknown): void {
  process.stdout.write(jsonText(document));
}

/** Text for a person on stdout: whatever control or bidirectional character is left is shown as its escape, never interpreted. */
export function printText(text: string): void {
  process.stdout.write(displaySafeLines(text));
}
