// The host service's read path for the benchmark (scripts/bench.mjs): an app's decrypt as the
// E2EE bridge runs it (permission, membership and authorization from memory, the key store's
// synchronous decrypt, the payload parsed), set up on the embedded key store with the demo's
// in-memory stand-in for Rocket.Chat's collections.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MemoryRocketChat } from './demo-rocketchat.mjs';

const require = createRequire(import.meta.url);
const e2ee = require('../native');

/**
 * A room under `roomKey` where an authorized app holds the key and a member wrote `text`.
 * Returns the bridge call to bench, the stored message and a cleanup.
 */
export async function hostReadPath(roomKey, text) {
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-bench-host-'));
  const store = await e2ee.AppKeyStore.open({
    url: `file://${join(dir, 'keystore.json')}`,
    kek: randomBytes(32).toString('base64'),
  });
  const rc = new MemoryRocketChat();
  const service = new e2ee.E2EEHostService(store, rc.ports());
  rc.service = service;
  const alice = await rc.person('Alice');
  const bob = await rc.person('Bob');
  rc.encryptedRoom('bench', alice, [bob], roomKey);
  await rc.provideKeys(alice, 'bench');
  await rc.accept(bob, 'bench');
  const app = rc.installApp('bench-bot', ['e2ee.read']);
  await service.enableApp(app.appId);
  await service.authorizeRoom(app.appId, 'bench', alice.userId);
  rc.join('bench', app.appUserId);
  const message = await rc.send(bob, 'bench', text);
  await rc.provideKeys(alice, 'bench');
  const request = { roomId: 'bench', content: message.content };
  const read = () => service.decryptMessage(app.appId, request);
  if ((await read()).msg !== text) throw new Error('the host read path does not read the message');
  return {
    read,
    /** The app's read of an envelope it holds, encrypted under `roomKey`. */
    readContent: (content) => service.decryptMessage(app.appId, { roomId: 'bench', content }),
    /** The app's read of a page of envelopes it holds. */
    readContents: (contents) => service.decryptMessages(app.appId, 'bench', contents),
    message,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
