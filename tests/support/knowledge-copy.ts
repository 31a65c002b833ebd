/**
 * Copies of the shipped knowledge base (fingerprints/) with chosen files edited, for tests that
 * prove a broken file is refused with its file, line and key. Each copy is removed by `removeAll`.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../../agent/errors.js';
import { defaultFingerprintDir } from '../../agent/fingerprint/index.js';
import { loadKnowledge } from '../../agent/knowledge/index.js';

export interface KnowledgeCopies {
  /** A copy whose files (relative paths) are replaced by what each edit returns from their text. */
  edited(edits: Record<string, (text: string) => string>): string;
  /** The error loadKnowledge throws for `dir`; fails the test when it loads. */
  loadError(dir: string): AgentError;
  removeAll(): void;
}

export function knowledgeCopies(): KnowledgeCopies {
  const dirs: string[] = [];
  return {
    edited(edits) {
      const dir = join(mkdtempSync(join(tmpdir(), 'cctv-knowledge-')), 'fingerprints');
      dirs.push(dir);
      cpSync(defaultFingerprintDir(), dir, { recursive: true });
      for (const [file, edit] of Object.entries(edits)) {
        const path = join(dir, file);
        const before = readFileSync(path, 'utf8');
        const after = edit(before);
        if (after === before) throw new Error(`the edit of ${file} changed nothing`);
        writeFileSync(path, after);
      }
      return dir;
    },
    loadError(dir) {
      try {
        loadKnowledge(dir);
      } catch (error) {
        if (error instanceof AgentError) return error;
        throw error;
      }
      throw new Error(`expected loadKnowledge(${dir}) to fail`);
    },
    removeAll() {
      for (const dir of dirs.splice(0)) rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
}
