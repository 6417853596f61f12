/**
 * The key store's two backends for the Jest suites: the embedded file always, and MongoDB over
 * the real wire protocol at MONGO_URL (scripts/test starts FerretDB for it; without it the suites
 * fail unless RC_E2EE_SKIP_MONGO=1 says to skip knowingly).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MongoClient } from 'mongodb';

import { E2EEError } from '../../native';

export interface Backend {
  name: string;
  /** Options for AppKeyStore.open (without the KEK). */
  location(): { url: string; database?: string };
  /** Every stored byte as text: the file, or every document of every collection. */
  dump(): Promise<string>;
  cleanup(): Promise<void>;
}

export function fileBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-keystore-'));
  const path = join(dir, 'keystore.json');
  return {
    name: 'file',
    location: () => ({ url: `file://${path}` }),
    dump: async () => readFileSync(path, 'utf8'),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function mongoBackend(url: string): Backend {
  const database = `rc_e2ee_jest_${randomUUID().replace(/-/g, '')}`;
  return {
    name: 'mongodb',
    location: () => ({ url, database }),
    dump: async () => {
      const client = await MongoClient.connect(url);
      try {
        const db = client.db(database);
        const parts: string[] = [];
        for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
          parts.push(JSON.stringify(await db.collection(name).find({}).toArray()));
        }
        return parts.join('\n');
      } finally {
        await client.close();
      }
    },
    cleanup: async () => {
      const client = await MongoClient.connect(url);
      try {
        await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

/**
 * MONGO_URL, or `undefined` when RC_E2EE_SKIP_MONGO=1 says to skip knowingly; otherwise it
 * throws: a suite that passes because its database was missing would check nothing.
 */
export function mongoUrl(): string | undefined {
  const url = process.env.MONGO_URL;
  if (url) return url;
  if (process.env.RC_E2EE_SKIP_MONGO === '1') {
    console.warn('RC_E2EE_SKIP_MONGO=1: the MongoDB suites are skipped');
    return undefined;
  }
  throw new Error(
    'MONGO_URL is not set: start FerretDB with eval "$(scripts/test-db/start)", or set RC_E2EE_SKIP_MONGO=1 to skip knowingly',
  );
}

/** The backends to run: the file always, MongoDB when MONGO_URL is set. */
export function backendFactories(): Array<[string, () => Backend]> {
  const url = mongoUrl();
  const list: Array<[string, () => Backend]> = [['file', fileBackend]];
  if (url) list.push(['mongodb', () => mongoBackend(url)]);
  return list;
}

/** The `E2EEError` code `promise` rejects with, or `ok`; anything else than an `E2EEError` fails the test. */
export async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    return (error as E2EEError).code;
  }
  return 'ok';
}

export const newKek = (): string => randomBytes(32).toString('base64');
