/** JSON as every command prints it, apart from the renderers so that `scan --json` loads none of them. */
import { jsonSafe } from '../safe-text.js';

/**
 * JSON as every command prints it: two-space indent, one trailing newline; strings keep their raw
 * value, with control and bidirectional characters written as JSON escapes (agent/safe-text.ts).
 */
export function jsonText(value: unknown): string {
  return `${jsonSafe(JSON.stringify(value, null, 2))}\n`;
}
