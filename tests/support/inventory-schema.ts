import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { repoPath } from '../../agent/paths.js';

/**
 * Validates documents against the contract's JSON Schema (draft 2020-12, shipped in schema/).
 * Test code: the agent builds documents by type and never validates its own output at run time.
 */
/** The contract document's JSON Schema. */
export const INVENTORY_SCHEMA_FILE = repoPath('schema', 'cctv-inventory-v1.schema.json');

type Validator = ((doc: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
let validator: Validator | undefined;

/** Problems with `doc` as a cctv-inventory/v1 document; empty when it is valid. */
export function inventoryProblems(doc: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    // ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
    type AddFormats = (target: Ajv2020) => unknown;
    const wrapped = addFormatsModule as unknown as AddFormats & { default?: AddFormats };
    (wrapped.default ?? wrapped)(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(INVENTORY_SCHEMA_FILE, 'utf8'))) as Validator;
  }
  return validator(doc) ? [] : (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
