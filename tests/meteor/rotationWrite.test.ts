// The Meteor ports' compare-and-set for an identity rotation (e2ee-apps/ports.ts `sameRoomKeys`
// and `roomKeysUpdate`) run as MongoDB queries on FerretDB: a write matches only a subscription
// that still holds exactly the keys the rotation read, so a room-key reset, an accept or another
// instance's write in between is never overwritten. Rocket.Chat's modules are stand-ins; only the
// two pure helpers are used.
import { randomUUID } from 'node:crypto';

import { MongoClient, type Collection } from 'mongodb';

import { mongoUrl } from '../keystore/backends';

const OVERLAY = '../../meteor-patches/overlay/apps/meteor';

jest.mock('@rocket.chat/apps', () => ({ Apps: {} }), { virtual: true });
jest.mock('@rocket.chat/apps/dist/server/e2ee/hostView', () => ({}), { virtual: true });
jest.mock('@rocket.chat/apps/dist/server/e2ee/listenerExecutor', () => ({}), { virtual: true });
jest.mock('@rocket.chat/apps-engine/definition/metadata', () => ({ AppInterface: {} }), { virtual: true });
jest.mock('@rocket.chat/models', () => ({}), { virtual: true });
jest.mock('../../meteor-patches/overlay/apps/meteor/app/lib/server/lib/notifyListener', () => ({}), {
  virtual: true,
});
jest.mock('../../meteor-patches/overlay/apps/meteor/app/lib/server/methods/sendMessage', () => ({}), {
  virtual: true,
});

// The overlay's module is untyped here (its Rocket.Chat imports do not resolve).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loaded = Record<string, any>;
type Sub = { _id: string; rid: string; u: { _id: string }; E2EKey?: string; oldRoomKeys?: Loaded[] };

const url = mongoUrl();
const describeOnMongo = url ? describe : describe.skip;

describeOnMongo("the rotation's compare-and-set on a MongoDB-wire database", () => {
  let ports: Loaded;
  let mongo: MongoClient;
  let subscriptions: Collection<Sub>;
  let database: string;
  const old = (kid: string, wrapped: string) => ({ e2eKeyId: kid, ts: new Date(1_700_000_000_000), E2EKey: wrapped });

  beforeAll(async () => {
    ports = await import(`${OVERLAY}/server/services/e2ee-apps/ports`);
    mongo = await MongoClient.connect(url!);
  });

  afterAll(async () => {
    await mongo.close();
  });

  beforeEach(async () => {
    database = `rc_cas_${randomUUID().replace(/-/g, '')}`;
    subscriptions = mongo.db(database).collection<Sub>('rocketchat_subscription');
  });

  afterEach(async () => {
    await mongo.db(database).dropDatabase();
  });

  /** What `replaceRoomKeys` sends: its filter and update, against the collection. */
  async function write(previous: Loaded, keys: Loaded): Promise<boolean> {
    const filter = { rid: 'r1', 'u._id': 'bot', ...ports.sameRoomKeys(previous) };
    const { matchedCount } = await subscriptions.updateOne(filter, ports.roomKeysUpdate(keys));
    return matchedCount > 0;
  }

  test('stale: a changed E2EKey, a changed, added or dropped old key each make the write match nothing', async () => {
    await subscriptions.insertOne({
      _id: 's1',
      rid: 'r1',
      u: { _id: 'bot' },
      E2EKey: 'kid-2AAA',
      oldRoomKeys: [old('kid-1', 'kid-1AAA'), old('kid-0', 'kid-0AAA')],
    });
    const stored = await subscriptions.findOne({ _id: 's1' });
    const next = { E2EKey: 'kid-2NEW', oldRoomKeys: [old('kid-1', 'kid-1NEW')] };
    for (const previous of [
      { E2EKey: 'kid-2OLD', oldRoomKeys: stored!.oldRoomKeys },
      { E2EKey: 'kid-2AAA', oldRoomKeys: [old('kid-1', 'kid-1AAA'), old('kid-0', 'kid-0XXX')] },
      { E2EKey: 'kid-2AAA', oldRoomKeys: [old('kid-1', 'kid-1AAA')] },
      { E2EKey: 'kid-2AAA', oldRoomKeys: [...stored!.oldRoomKeys!, old('kid-9', 'kid-9AAA')] },
      { E2EKey: 'kid-2AAA', oldRoomKeys: [old('kid-0', 'kid-0AAA'), old('kid-1', 'kid-1AAA')] },
      { E2EKey: null, oldRoomKeys: stored!.oldRoomKeys },
      { E2EKey: 'kid-2AAA', oldRoomKeys: null },
    ]) {
      expect(await write(previous, next)).toBe(false);
    }
    expect(await subscriptions.findOne({ _id: 's1' })).toEqual(stored);
  });

  test('current: the keys the rotation read are replaced, the ts of old keys as given', async () => {
    await subscriptions.insertOne({
      _id: 's1',
      rid: 'r1',
      u: { _id: 'bot' },
      E2EKey: 'kid-2AAA',
      oldRoomKeys: [old('kid-1', 'kid-1AAA')],
    });
    const stored = await subscriptions.findOne({ _id: 's1' });
    const next = { E2EKey: 'kid-2NEW', oldRoomKeys: [old('kid-1', 'kid-1NEW')] };
    expect(await write({ E2EKey: stored!.E2EKey, oldRoomKeys: stored!.oldRoomKeys }, next)).toBe(true);
    expect(await subscriptions.findOne({ _id: 's1' })).toEqual({ ...stored, ...next });
  });

  test('old keys only, and no keys at all: compared on the absent fields, written and unset', async () => {
    await subscriptions.insertMany([
      { _id: 's1', rid: 'r1', u: { _id: 'bot' }, oldRoomKeys: [old('kid-1', 'kid-1AAA')] },
      { _id: 's2', rid: 'r2', u: { _id: 'bot' }, E2EKey: 'kid-5AAA', oldRoomKeys: [] },
    ]);
    expect(
      await write(
        { E2EKey: null, oldRoomKeys: [old('kid-1', 'kid-1AAA')] },
        { oldRoomKeys: [old('kid-1', 'kid-1NEW')] },
      ),
    ).toBe(true);
    expect(await subscriptions.findOne({ _id: 's1' })).toEqual({
      _id: 's1',
      rid: 'r1',
      u: { _id: 'bot' },
      oldRoomKeys: [old('kid-1', 'kid-1NEW')],
    });
    // An empty oldRoomKeys counts as none, and the write unsets it.
    const filter = { rid: 'r2', 'u._id': 'bot', ...ports.sameRoomKeys({ E2EKey: 'kid-5AAA', oldRoomKeys: null }) };
    const { matchedCount } = await subscriptions.updateOne(filter, ports.roomKeysUpdate({ E2EKey: 'kid-5NEW' }));
    expect(matchedCount).toBe(1);
    expect(await subscriptions.findOne({ _id: 's2' })).toEqual({
      _id: 's2',
      rid: 'r2',
      u: { _id: 'bot' },
      E2EKey: 'kid-5NEW',
    });
  });
});
