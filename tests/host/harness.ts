/**
 * The set-up the host service's scenario suites share: every test gets a database of its own on
 * FerretDB, with Rocket.Chat's collections and the key store's side by side as a deployment has
 * them, a key store and a host service over it, wired into the Rocket.Chat stand-in the way the
 * Meteor series wires them. After every test, before its database is dropped, no collection may
 * hold the text of a payload the test made with `secret()`: the server stores ciphertext only.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { AppKeyStore, E2EEHostService } from '../../native';
import { mongoUrl } from '../keystore/backends';
import { RocketChat, type Browser, type InstalledApp } from './rocketchat';

const url = mongoUrl();

/** `describe` when FerretDB runs (MONGO_URL set), `describe.skip` when RC_E2EE_SKIP_MONGO=1 says to skip. */
export const describeOnMongo = url ? describe : describe.skip;

/** One server instance: a key store and the host service over it. */
export interface HostInstance {
  store: AppKeyStore;
  service: E2EEHostService;
}

/** An encrypted room that Alice owns, with Bob in it. */
export interface AliceAndBobRoom {
  alice: Browser;
  bob: Browser;
  roomId: string;
}

/** The current test's Rocket.Chat, key store and service, and the steps many scenarios start with. */
export class HostScenario implements HostInstance {
  /** Rocket.Chat's side, its hooks calling `service`. */
  rc!: RocketChat;
  store!: AppKeyStore;
  service!: E2EEHostService;
  private database = '';
  private kek = '';
  private readonly secrets: string[] = [];

  constructor(private readonly databasePrefix: string) {}

  /** A payload whose text must never appear in storage. */
  readonly secret = (label: string): { msg: string } => {
    const text = `${label} ${randomUUID()}`;
    this.secrets.push(text);
    return { msg: text };
  };

  /**
   * Another server instance on the same database and KEK, not wired into `rc`: the caller says
   * which instance Rocket.Chat's hooks reach, and closes its store.
   */
  readonly openService = async (): Promise<HostInstance> => {
    // 1000 ms is the default, pinned: scenarios wait 1100 ms for another instance's cached
    // authorization to run out.
    const store = await AppKeyStore.open({
      url: url!,
      database: this.database,
      kek: this.kek,
      authorizationTtlMs: 1000,
    });
    return { store, service: new E2EEHostService(store, this.rc.ports()) };
  };

  /** The server restarts: the store closed, a new instance opened and wired into `rc`. */
  readonly restart = async (): Promise<void> => {
    await this.store.close();
    ({ store: this.store, service: this.service } = await this.openService());
    this.rc.service = this.service;
  };

  /** Alice owns an encrypted room with Bob, and both browsers hold its key. */
  readonly roomOfAliceAndBob = async (): Promise<AliceAndBobRoom> => {
    const alice = await this.rc.browser('alice');
    const bob = await this.rc.browser('bob');
    const roomId = await this.rc.encryptedRoom(alice, [bob.userId]);
    await this.rc.provideKeys(alice, roomId);
    await this.rc.acceptAsBrowser(bob, roomId);
    return { alice, bob, roomId };
  };

  /**
   * The app enabled, authorized for the room by `grantedBy`, and its user a member: queued for
   * the room key, which no browser has wrapped to it yet.
   */
  readonly admitApp = async (app: InstalledApp, roomId: string, grantedBy: Browser): Promise<void> => {
    await this.service.enableApp(app.appId);
    await this.service.authorizeRoom(app.appId, roomId, grantedBy.userId);
    await this.rc.join(roomId, app.appUserId);
  };

  /** Alice owns an encrypted room with Bob, Bob holds the key, and the app is enabled, authorized and a member. */
  readonly roomWithApp = async (app: InstalledApp): Promise<AliceAndBobRoom> => {
    const room = await this.roomOfAliceAndBob();
    await this.admitApp(app, room.roomId, room.alice);
    return room;
  };

  /** As `roomWithApp`, and Alice's browser has wrapped the key to the app, which holds it. */
  readonly roomWithAppHoldingKey = async (app: InstalledApp): Promise<AliceAndBobRoom> => {
    const room = await this.roomWithApp(app);
    await this.rc.provideKeys(room.alice, room.roomId);
    expect((await this.rc.subscription(room.roomId, app.appUserId))?.E2EKey).toBeDefined();
    return room;
  };

  /** Before each test: a fresh database, Rocket.Chat connected, one instance wired into it. */
  async open(): Promise<void> {
    this.database = `${this.databasePrefix}_${randomUUID().replace(/-/g, '')}`;
    this.kek = randomBytes(32).toString('base64');
    this.rc = await RocketChat.connect(url!, this.database);
    ({ store: this.store, service: this.service } = await this.openService());
    this.rc.service = this.service;
    this.secrets.length = 0;
  }

  /** After each test: the plaintext scan over every collection, then the database dropped. */
  async close(): Promise<void> {
    // Closing flushes the store's audit, so the scan reads that too; a close that fails (closing
    // twice is fine) must not skip the scan.
    await this.store.close().catch(() => undefined);
    try {
      const dump = await this.rc.dump();
      for (const text of this.secrets) expect(dump).not.toContain(text);
    } finally {
      // A scan that finds plaintext fails the test; the database and its client must go anyway,
      // or Jest waits on the open connection instead of reporting the failure.
      await this.rc.db.dropDatabase();
      await this.rc.close();
    }
  }
}

/**
 * Registers, in the enclosing `describe`, the hooks that open a fresh scenario before each test
 * and check and drop it after; the returned object holds the current test's instances.
 * `databasePrefix` names the suite's databases, so a database left behind says whose it is.
 */
export function hostScenario(databasePrefix: string): HostScenario {
  const scenario = new HostScenario(databasePrefix);
  beforeEach(() => scenario.open());
  afterEach(() => scenario.close());
  return scenario;
}
