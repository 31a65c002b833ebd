/**
 * What the commands share: defaults, option helpers and the one way to print a JSON document
 * (stdout carries only the document; logs go to stderr).
 */
import { Option } from 'commander';
import { LOG_LEVELS } from '../log.js';
import { jsonText } from '../report/formats.js';
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

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function printJson(document: unknown): void {
  process.stdout.write(jsonText(document));
}
