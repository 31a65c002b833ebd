/**
 * Validates BOMs against the CycloneDX 1.6 JSON Schema as the official @cyclonedx/cyclonedx-library
 * package ships it (res/schema/bom-1.6.SNAPSHOT.schema.json, draft-07, with the SPDX licence and
 * JSF signature schemas it references).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { schemaCheck, withFormats } from './json-schema.js';

const require = createRequire(import.meta.url);
const SCHEMAS = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');

/** Problems with `doc` as a CycloneDX 1.6 BOM; empty when it is valid. */
export const cyclonedxProblems = schemaCheck(() => {
  const ajv = withFormats(new Ajv({ allErrors: true, strict: false }));
  // ajv-formats has no IRI or internationalised e-mail formats; the agent's BOMs hold neither (no URL, no e-mail).
  for (const format of ['iri-reference', 'idn-email']) ajv.addFormat(format, true);
  const load = (file: string): object => JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as object;
  // The BOM schema refers to them by file name, relative to its own $id.
  for (const file of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) {
    const { $id: _own, ...schema } = load(file) as { $id?: string };
    ajv.addSchema(schema, `http://cyclonedx.org/schema/${file}`);
  }
  return ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
});
