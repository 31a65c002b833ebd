#!/usr/bin/env node
/**
 * Build step (`npm run build`, after tsc): loads the package's fingerprints/ the full way (YAML
 * parsed, every file checked against its schema in schema/knowledge/, then the meaning checks) and
 * writes dist/knowledge-checked.json, the digest and value of every file that passed its schema
 * check, the digest of the whole base, and the tables it prepared (dist/knowledge-prepared/;
 * agent/knowledge/checked-files.ts). At run time those files are taken as they are, which
 * keeps the YAML parser and Ajv out of the agent's start-up memory; any other file is checked in full.
 *
 * A knowledge base that fails to load writes no record (the agent then checks every file, and says
 * what is wrong when it loads); the build itself does not fail on it: `cctv-agent fingerprints verify`
 * is the data's test.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { loadKnowledge } = await import(join(root, 'dist', 'agent', 'knowledge', 'index.js'));
const { checkingWith, CHECKED_FILES_PATH, removeCheckedKnowledge, writeCheckedKnowledge } = await import(join(root, 'dist', 'agent', 'knowledge', 'checked-files.js'));
const out = join(root, ...CHECKED_FILES_PATH);
try {
  const checked = checkingWith(null, () => loadKnowledge());
  writeCheckedKnowledge(root, checked);
  console.error(`check-knowledge: ${Object.keys(checked.record.files).length} knowledge files checked, recorded in ${out} with ${checked.preparedFiles.size} prepared table(s)`);
} catch (error) {
  removeCheckedKnowledge(root);
  console.error(`check-knowledge: the knowledge base did not load, so nothing is recorded and the agent checks every file at start-up: ${error.message}`);
}
