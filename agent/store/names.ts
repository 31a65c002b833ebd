import { agentError } from '../errors.js';

/**
 * Site names and scan ids become file names and URL path segments, so they are restricted to a
 * safe alphabet: no separators, no leading dot (so no `.` / `..`), at most 64 characters.
 */
export const STORE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isStoreName(value: string): boolean {
  return STORE_NAME_PATTERN.test(value);
}

/** Throws CCTV_ERR_BAD_NAME unless `value` is a safe name; `kind` is e.g. `site name` or `scan id`. */
export function assertStoreName(kind: 'site name' | 'scan id', value: unknown): asserts value is string {
  if (typeof value !== 'string' || !isStoreName(value)) throw agentError('CCTV_ERR_BAD_NAME', kind, String(value));
}
