/**
 * What the tests' JSON Schema checks share: ajv-formats added to an Ajv instance, a validator
 * compiled once on first use, and its errors as one readable line each.
 */
import type { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Validator = ((doc: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };

/** Adds ajv-formats' formats to `ajv` (CommonJS; under NodeNext its default export arrives wrapped). */
export function withFormats<A extends Ajv>(ajv: A): A {
  type AddFormats = (target: Ajv) => unknown;
  const wrapped = addFormatsModule as unknown as AddFormats & { default?: AddFormats };
  (wrapped.default ?? wrapped)(ajv);
  return ajv;
}

/** A check of documents against the schema `compile` builds (once, on first use): its problems, empty when valid. */
export function schemaCheck(compile: () => (doc: unknown) => boolean): (doc: unknown) => string[] {
  let validator: Validator | undefined;
  return (doc) => {
    validator ??= compile() as Validator;
    return validator(doc) ? [] : (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  };
}
