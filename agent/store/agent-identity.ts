/**
 * Who wrote a fleet document: a random id the store keeps in its own state folder (so it survives
 * restarts and tells two agents on one machine apart) and the machine's host name (for people).
 * Two agents sweeping one site are told apart by it (couchdb-views.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, isCode, writeFileAtomic } from './fs-durable.js';

export interface AgentIdentity {
  id: string;
  host: string;
}

const IDENTITY_FILE = 'agent-id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The identity kept in `stateDir` (made on first use); a file that holds no id is replaced. */
export async function agentIdentity(stateDir: string): Promise<AgentIdentity> {
  const file = join(stateDir, IDENTITY_FILE);
  await ensureDir(stateDir);
  let id: string | undefined;
  try {
    id = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
  if (id === undefined || !UUID.test(id)) {
    id = randomUUID();
    await writeFileAtomic(file, `${id}\n`);
  }
  return { id, host: hostname() };
}
