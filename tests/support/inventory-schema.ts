import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { repoPath } from '../../agent/paths.js';
import { schemaCheck, withFormats } from './json-schema.js';

/**
 * Validates documents against the contract's JSON Schema (draft 2020-12, shipped in schema/).
 * Test code: the agent builds documents by type and never validates its own output at run time.
 */
/** The contract document's JSON Schema. */
export const INVENTORY_SCHEMA_FILE = repoPath('schema', 'cctv-inventory-v1.schema.json');

/** Problems with `doc` as a cctv-inventory/v1 document; empty when it is valid. */
export const inventoryProblems = schemaCheck(() =>
  withFormats(new Ajv2020({ allErrors: true, strict: true })).compile(JSON.parse(readFileSync(INVENTORY_SCHEMA_FILE, 'utf8')) as object),
);
