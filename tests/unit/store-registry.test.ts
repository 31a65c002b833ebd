/**
 * The store registry (agent/store/index.ts) composes what each store file declares: its object-spec
 * schema, its string specs, its label. Checked for every registered store, so a new one is held to
 * the same rules by adding its registry line.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, openStoreForReading, STORE_SPEC_SCHEMA, storeLabel, stores } from '../../agent/store/index.js';
import type { ObjectStoreSpec } from '../../agent/store/types.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('store registry', () => {
  it.each(stores.map((s) => [s.name, s] as const))('%s: its object form is part of STORE_SPEC_SCHEMA, named by its type', (name, store) => {
    expect(STORE_SPEC_SCHEMA.anyOf).toContain(store.specSchema);
    expect(store.specSchema.properties.type.const).toBe(name);
    expect(store.specSchema.required).toContain('type');
  });

  it.each(stores.map((s) => [s.name] as const))('%s: a spec outside its schema is CCTV_ERR_STORE_SPEC, for saving and for reading, and nothing is created', async (name) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'cctv-registry-'));
    dirs.push(stateDir);
    const spec = { type: name, notAKey: true } as ObjectStoreSpec;
    await expect(openStore(spec, { log, stateDir })).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_SPEC' });
    await expect(openStoreForReading(spec, { log })).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_SPEC' });
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('names no store for an unknown type or URL scheme', async () => {
    await expect(openStoreForReading({ type: 'smtp' }, { log })).rejects.toMatchObject({ code: 'CCTV_ERR_STORE_SPEC' });
    await expect(openStoreForReading('ftp://inventory.example.org/x', { log })).rejects.toMatchObject({ code: 'CCTV_ERR_BAD_OPTION' });
  });

  it('labels a store by type and address, never with the credentials a URL carries', () => {
    expect(storeLabel('https://agent:s3cret@soc.example.org/push?token=s3cret#s3cret')).toBe('https://soc.example.org/push');
    expect(storeLabel('couchdb+https://agent:s3cret@couch.example.org:6984/cctv')).toBe('couchdb+https://couch.example.org:6984/cctv');
    expect(storeLabel({ type: 'couchdb', url: 'https://couch.example.org:6984', database: 'cctv' } as ObjectStoreSpec)).toBe('couchdb:https://couch.example.org:6984/cctv');
    expect(storeLabel({ type: 'http', url: 'https://soc.example.org/push?token=s3cret' } as ObjectStoreSpec)).toBe('http:https://soc.example.org/push');
    expect(storeLabel({ type: 'file', dir: '/var/lib/cctv-agent/inventory' } as ObjectStoreSpec)).toBe('file:/var/lib/cctv-agent/inventory');
  });

  it('the --store help of every command names each store by its form; the read commands only those that read back', async () => {
    const { buildProgram } = await import('../../agent/commands/index.js');
    const helpOf = (command: string): string => {
      const found = buildProgram().commands.find((c) => c.name() === command);
      return found?.options.find((o) => o.long === '--store')?.description ?? '';
    };
    for (const store of stores) {
      expect(helpOf('scan')).toContain(store.form);
      for (const reader of ['inventory', 'report', 'diff', 'verify']) {
        if (store.readsBack) expect(helpOf(reader), reader).toContain(store.form);
        else expect(helpOf(reader), reader).not.toContain(store.form);
      }
    }
  });
});
