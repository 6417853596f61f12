// The overlay's pure pieces beside the hooks: the message search filter that leaves encrypted
// messages out (e2ee-apps/search.ts, checked on FerretDB when one runs: `$nin` must still match the
// plain messages that carry no `t` at all) and the client's rendering of the two system messages
// (packages/message-types/src/registrations/e2eeApps.ts).
import { randomUUID } from 'node:crypto';

import { MongoClient } from 'mongodb';

import { mongoUrl } from '../keystore/backends';

const OVERLAY = '../../meteor-patches/overlay';

// The overlay's modules are untyped here (their Rocket.Chat imports do not resolve).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loaded = Record<string, any>;
let search: Loaded;
let messageTypes: Loaded;

beforeAll(async () => {
  search = await import(`${OVERLAY}/apps/meteor/server/services/e2ee-apps/search`);
  messageTypes = await import(`${OVERLAY}/packages/message-types/src/registrations/e2eeApps`);
});

const excluded = (query: Record<string, unknown>) => {
  search.excludeEncryptedMessagesFromSearch(query);
  return query.t;
};

describe('message search leaves encrypted messages out', () => {
  test("a query that asks for t: 'e2e' outright finds nothing", () => {
    expect(excluded({ t: 'e2e' })).toEqual({ $in: [] });
    expect(excluded({ t: { $in: ['e2e', 'uj'] } })).toEqual({ $in: ['e2e', 'uj'], $nin: ['rm', 'e2e'] });
  });

  test("Rocket.Chat's own exclusion of removed messages is kept, and what a query already excludes stays excluded", () => {
    expect(excluded({ t: { $ne: 'rm' } })).toEqual({ $nin: ['rm', 'e2e'] });
    expect(excluded({ t: { $nin: ['uj', 'ul'] } })).toEqual({ $nin: ['rm', 'e2e', 'uj', 'ul'] });
    expect(excluded({})).toEqual({ $nin: ['rm', 'e2e'] });
    expect(excluded({ t: 'uj' })).toBe('uj');
  });

  const url = mongoUrl();
  (url ? test : test.skip)(
    'on a MongoDB-wire database: plain and system messages found, encrypted and removed ones not',
    async () => {
      const mongo = await MongoClient.connect(url!);
      const db = mongo.db(`rc_search_${randomUUID().replace(/-/g, '')}`);
      try {
        const messages = db.collection<{ _id: string; rid: string; msg: string; t?: string }>('rocketchat_message');
        await messages.insertMany([
          { _id: 'plain', rid: 'r1', msg: 'lunch at noon' },
          { _id: 'joined', rid: 'r1', msg: 'lunch', t: 'uj' },
          { _id: 'v1', rid: 'r1', msg: 'lunchXYZciphertext', t: 'e2e' },
          { _id: 'v2', rid: 'r1', msg: '', t: 'e2e' },
          { _id: 'removed', rid: 'r1', msg: 'lunch', t: 'rm' },
        ]);
        const query: Record<string, unknown> = { msg: { $regex: 'lunch' }, t: { $ne: 'rm' }, rid: 'r1' };
        search.excludeEncryptedMessagesFromSearch(query);
        const found = await messages.find(query).toArray();
        expect(found.map((message) => message._id).sort()).toEqual(['joined', 'plain']);
      } finally {
        await db.dropDatabase();
        await mongo.close();
      }
    },
  );
});

describe("clients render the grant's and the revocation's system messages", () => {
  test('both types are registered as system messages, with the app name from msg', () => {
    const registered: Loaded[] = [];
    messageTypes.registerE2EEAppMessageTypes({ registerType: (type: Loaded) => registered.push(type) });
    expect(registered.map(({ id, system }) => [id, system])).toEqual([
      ['e2ee-app-authorized', true],
      ['e2ee-app-revoked', true],
    ]);
    const t = (key: string, options?: Record<string, unknown>) => `${key} ${JSON.stringify(options)}`;
    const message = { msg: 'Archiver', u: { _id: 'admin', username: 'admin' } };
    expect(registered.map((type) => type.text(t, message))).toEqual([
      'E2EE_App_Authorized_In_Room {"app":"Archiver"}',
      'E2EE_App_Revoked_From_Room_Reset_Recommended {"app":"Archiver"}',
    ]);
  });
});
