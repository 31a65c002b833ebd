/**
 * Holds a discoverer, in its unit tests, to the observations it declares (agent/discovery/types.ts
 * `name` and `emits`): every observation carries its name as `source`, and every field is one it
 * declares. tests/unit/discovery-registry.test.ts checks the declarations against fields.yaml.
 */
import { expect } from 'vitest';
import type { Discoverer } from '../../agent/discovery/types.js';
import type { Observation } from '../../agent/types.js';

/** True when `field` is in `emits`, exactly or under a `prefix.*` entry. */
export function declaresField(emits: readonly string[], field: string): boolean {
  return emits.some((e) => (e.endsWith('.*') ? field.startsWith(e.slice(0, -1)) && field.length > e.length - 1 : e === field));
}

/** An emit callback that checks each observation against `discoverer`'s declarations, then keeps it in `into`. */
export function checkedEmit(discoverer: Pick<Discoverer, 'name' | 'emits'>, into: Observation[]): (o: Observation) => void {
  return (o) => {
    expect(o.source, 'the observation source is the discoverer name').toBe(discoverer.name);
    const undeclared = Object.keys(o.fields).filter((field) => !declaresField(discoverer.emits, field));
    expect(undeclared, `fields ${discoverer.name} emits without declaring them`).toEqual([]);
    into.push(o);
  };
}
