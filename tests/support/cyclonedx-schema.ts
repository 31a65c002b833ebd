/**
 * Validates BOMs against the CycloneDX 1.6 JSON Schema as the official @cyclonedx/cyclonedx-library
 * package ships it (res/schema/bom-1.6.SNAPSHOT.schema.json, draft-07, with the SPDX licence and
 * JSF signature schemas it references).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);
const SCHEMAS = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');

type Validator = ((doc: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
let validator: Validator | undefined;

/** Problems with `doc` as a CycloneDX 1.6 BOM; empty when it is valid. */
export function cyclonedxProblems(doc: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    type AddFormats = (target: Ajv) => unknown;
    const wrapped = addFormatsModule as unknown as AddFormats & { default?: AddFormats };
    (wrapped.default ?? wrapped)(ajv);
    // ajv-formats has no IRI or internationalised e-mail formats; the agent's BOMs hold neither (no URL, no e-mail).
    for (const format of ['iri-reference', 'idn-email']) ajv.addFormat(format, true);
    const load = (file: string): object => JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as object;
    // The BOM schema refers to them by file name, relative to its own $id.
    for (const file of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) {
      const { $id: _own, ...schema } = load(file) as { $id?: string };
      ajv.addSchema(schema, `http://cyclonedx.org/schema/${file}`);
    }
    validator = ajv.compile(load('bom-1.6.SNAPSHOT.schema.json')) as Validator;
  }
  return validator(doc) ? [] : (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
