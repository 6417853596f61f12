// The Meteor overlay's adapters (e2ee-apps/ports.ts, hooks.ts, host.ts, bridges/e2ee.ts) over
// stand-ins for Rocket.Chat's modules: each port writes what Rocket.Chat's own code writes and
// broadcasts after it, the key events reach only the app they name, the hooks call the service
// with the right arguments (and re-queue what Rocket.Chat dequeued), and AppE2EEBridge hands
// every call to the service for the app the host bound.
const OVERLAY = '../../meteor-patches/overlay/apps/meteor';

// Stand-in documents and the overlay's modules are untyped here (Rocket.Chat's types do not resolve).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const mockState = {
  calls: [] as Array<[string, ...unknown[]]>,
  users: [] as Doc[],
  rooms: [] as Doc[],
  subscriptions: [] as Doc[],
  listeners: new Map<string, string[]>(),
  caps: new Map<string, { read: boolean; write: boolean }>(),
  appCalls: [] as Array<[string, string, unknown]>,
  service: undefined as Doc | undefined,
  opened: [] as unknown[],
  settings: new Map<string, unknown>(),
  /** What the next `Subscriptions.updateOne` reports (a compare-and-set that matched or not). */
  subscriptionUpdate: { modifiedCount: 1, matchedCount: 1 },
  /** Who holds which global permission (`hasPermissionAsync` without a room). */
  permissions: new Map<string, string[]>(),
  routes: new Map<string, Doc>(),
};

function mockRecord(name: string, result?: unknown) {
  return async (...args: unknown[]) => {
    mockState.calls.push([name, ...args]);
    return result;
  };
}

jest.mock(
  '@rocket.chat/models',
  () => {
    const byId = (list: () => Doc[]) => async (id: string) => list().find((doc) => doc._id === id) ?? null;
    return {
      Users: {
        findOneByAppId: async (appId: string) => mockState.users.find((user) => user.appId === appId) ?? null,
        findOneById: byId(() => mockState.users),
        updateOne: async (filter: Doc, update: Doc) => {
          mockState.calls.push(['Users.updateOne', filter, update]);
          const hit = mockState.users.find((user) => user._id === filter._id && user.type === filter.type);
          return { modifiedCount: hit ? 1 : 0 };
        },
      },
      Rooms: {
        findOneById: byId(() => mockState.rooms),
        addUserIdToE2EEQueueByRoomIds: mockRecord('Rooms.addUserIdToE2EEQueueByRoomIds'),
        removeUsersFromE2EEQueueByRoomId: mockRecord('Rooms.removeUsersFromE2EEQueueByRoomId'),
      },
      Subscriptions: {
        findOneByRoomIdAndUserId: async (rid: string, uid: string) =>
          mockState.subscriptions.find((sub) => sub.rid === rid && sub.u._id === uid) ?? null,
        updateOne: async (filter: Doc, update: Doc) => {
          mockState.calls.push(['Subscriptions.updateOne', filter, update]);
          return mockState.subscriptionUpdate;
        },
        find: (query: Doc, options: Doc) => ({
          toArray: async () => {
            mockState.calls.push(['Subscriptions.find', query, options]);
            return mockState.subscriptions.filter(
              (sub) => sub.u._id === query['u._id'] && (sub.E2EKey || sub.oldRoomKeys?.length),
            );
          },
        }),
      },
      Messages: {
        findOneById: async () => null,
        find: (query: Doc, options: Doc) => ({
          toArray: async () => {
            mockState.calls.push(['Messages.find', query, options]);
            return [];
          },
        }),
      },
    };
  },
  { virtual: true },
);
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/app/lib/server/lib/notifyListener',
  () => ({
    notifyOnRoomChangedById: mockRecord('notifyOnRoomChangedById'),
    notifyOnSubscriptionChangedById: mockRecord('notifyOnSubscriptionChangedById'),
    notifyOnUserChange: mockRecord('notifyOnUserChange'),
  }),
  { virtual: true },
);
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/app/settings/server',
  () => ({ settings: { get: (id: string) => mockState.settings.get(id) } }),
  { virtual: true },
);
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/app/api/server/api',
  () => ({
    API: {
      v1: {
        addRoute: (route: string, _options: unknown, operations: Doc) => mockState.routes.set(route, operations),
        success: (body: unknown) => ({ statusCode: 200, body: { success: true, ...(body as Doc) } }),
        failure: (body: unknown) => ({ statusCode: 400, body: { success: false, ...(body as Doc) } }),
      },
    },
  }),
  { virtual: true },
);
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/app/authorization/server/functions/hasPermission',
  () => ({
    hasPermissionAsync: async (userId: string, permission: string) =>
      mockState.permissions.get(userId)?.includes(permission) ?? false,
  }),
  { virtual: true },
);
jest.mock('@rocket.chat/core-services', () => ({ Message: { saveSystemMessage: mockRecord('saveSystemMessage') } }), {
  virtual: true,
});
jest.mock('@rocket.chat/rest-typings', () => ({ ajv: { compile: () => () => true } }), { virtual: true });
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/app/lib/server/methods/sendMessage',
  () => ({ executeSendMessage: mockRecord('executeSendMessage', { _id: 'sent-1' }) }),
  { virtual: true },
);
jest.mock(
  '../../meteor-patches/overlay/apps/meteor/server/lib/logger/system',
  () => ({ SystemLogger: { error: (entry: unknown) => mockState.calls.push(['SystemLogger.error', entry]) } }),
  { virtual: true },
);
jest.mock(
  '@rocket.chat/apps',
  () => ({
    Apps: {
      isLoaded: () => true,
      self: {
        isLoaded: () => true,
        debugLog: () => undefined,
        getConverters: () => ({ get: () => ({ convertById: async (id: string) => ({ id }) }) }),
        getManager: () => ({
          get: () => [...mockState.caps.keys()].map((id) => ({ getID: () => id })),
          getOneById: (id: string) =>
            mockState.caps.has(id) && {
              getID: () => id,
              getName: () => `App ${id}`,
              call: async (method: string, context: unknown) => {
                mockState.appCalls.push([id, method, context]);
                return true;
              },
            },
          getListenerManager: () => ({
            getListeners: (int: string) => (mockState.listeners.get(int) ?? []).map((id) => ({ getID: () => id })),
          }),
        }),
      },
    },
  }),
  { virtual: true },
);
jest.mock(
  '@rocket.chat/apps/dist/server/e2ee/hostView',
  () => ({
    e2eeCapabilities: (id: string) => mockState.caps.get(id) ?? { read: false, write: false },
    e2eeView: (app: unknown) => app,
  }),
  { virtual: true },
);
jest.mock(
  '@rocket.chat/apps/dist/server/e2ee/listenerExecutor',
  () => jest.requireActual('../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/listenerExecutor'),
  { virtual: true },
);
jest.mock('@rocket.chat/apps/dist/server/bridges/E2EEBridge', () => ({ E2EEBridge: class {} }), { virtual: true });
jest.mock(
  '@rocket.chat/apps-engine/definition/metadata',
  () => ({
    AppInterface: {
      IPostE2EERoomKeyReady: 'IPostE2EERoomKeyReady',
      IPostE2EERoomKeyRotated: 'IPostE2EERoomKeyRotated',
      IPostE2EEAccessRevoked: 'IPostE2EEAccessRevoked',
    },
  }),
  { virtual: true },
);
jest.mock(
  'rc-e2ee',
  () => ({
    AppKeyStore: {
      open: async (options: unknown) => {
        mockState.opened.push(options);
        return { listAuthorizations: async () => [] };
      },
    },
    E2EEHostService: class {
      constructor(_store: unknown, ports: unknown) {
        const calls = mockState.calls;
        const method =
          (name: string, result?: unknown) =>
          async (...args: unknown[]) => {
            calls.push([`service.${name}`, ...args]);
            return typeof result === 'function' ? result(...args) : result;
          };
        mockState.service = {
          ports,
          onSuggestedKey: method('onSuggestedKey', (_appId: string, userId: string) => ({
            outcome: userId === 'planted-for' ? 'rejected' : 'verified',
          })),
          onRoomKeyReset: method('onRoomKeyReset', ['app-a']),
          enableApp: method('enableApp', {}),
          onAppUserLeft: method('onAppUserLeft'),
          onRoomKeyIdSet: method('onRoomKeyIdSet', ['app-a']),
          onRoomEncryptionChanged: method('onRoomEncryptionChanged', { encrypted: false, apps: ['app-a'] }),
          onAppUserKeyReset: method('onAppUserKeyReset', { queued: ['r1'] }),
          rotateAppIdentity: method('rotateAppIdentity', { keyVersion: 2 }),
          onMessage: method('onMessage'),
          isAuthorized: method('isAuthorized', true),
          getEncryptedRoomKey: method('getEncryptedRoomKey', {
            roomId: 'r1',
            kid: 'k',
            encryptedKey: 'kXYZ',
            current: true,
          }),
          getKeyHistory: method('getKeyHistory', [{ kid: 'k', current: true }]),
          decryptMessage: method('decryptMessage', { msg: 'hi' }),
          decryptMessages: method('decryptMessages', [
            { msg: 'one' },
            Object.assign(new Error('the message could not be decrypted'), { code: 'E2EE_DECRYPT_FAILED' }),
          ]),
          sendEncryptedMessage: method('sendEncryptedMessage', 'm-1'),
          encryptContent: method('encryptContent', {
            algorithm: 'rc.v2.aes-sha2',
            kid: 'k',
            iv: 'aXY=',
            ciphertext: 'Y3Q=',
          }),
        };
        Object.assign(this, mockState.service);
      }
    },
  }),
  { virtual: true },
);

process.env.RC_E2EE_KEK_FILE = '/run/secrets/rc-e2ee-kek';
process.env.MONGO_URL = 'mongodb://localhost:3001/meteor';

// The overlay's modules, loaded after the mocks; typed loosely (their Rocket.Chat imports do not
// resolve here: scripts/rc-lint type-checks them).
type Loaded = Doc;
type Modules = { ports: Loaded; hooks: Loaded; host: Loaded; bridge: Loaded; settings: Loaded; rest: Loaded };
let m: Modules;

beforeAll(async () => {
  m = {
    ports: await import(`${OVERLAY}/server/services/e2ee-apps/ports`),
    hooks: await import(`${OVERLAY}/server/services/e2ee-apps/hooks`),
    host: await import(`${OVERLAY}/server/services/e2ee-apps/host`),
    bridge: await import(`${OVERLAY}/app/apps/server/bridges/e2ee`),
    settings: await import(`${OVERLAY}/server/services/e2ee-apps/settings`),
    rest: await import(`${OVERLAY}/app/api/server/v1/e2eApps`),
  };
});

beforeEach(() => {
  mockState.calls.length = 0;
  mockState.appCalls.length = 0;
  mockState.users = [
    { _id: 'alice', type: 'user' },
    { _id: 'bot-a', type: 'app', appId: 'app-a' },
    { _id: 'planted-for', type: 'app', appId: 'app-p' },
  ];
  mockState.rooms = [{ _id: 'r1', encrypted: true, e2eKeyId: 'kid-1' }];
  mockState.subscriptions = [
    { _id: 's-bot', rid: 'r1', u: { _id: 'bot-a' }, E2EKey: 'kid-1XYZ' },
    { _id: 's-alice', rid: 'r1', u: { _id: 'alice' }, E2EKey: 'kid-1ABC' },
  ];
  mockState.caps = new Map([
    ['app-a', { read: true, write: true }],
    ['app-p', { read: true, write: false }],
    ['app-plain', { read: false, write: false }],
  ]);
  mockState.listeners = new Map();
  mockState.settings = new Map<string, unknown>([
    ['E2E_Enable', true],
    ['E2E_Enable_Apps', true],
  ]);
  mockState.subscriptionUpdate = { modifiedCount: 1, matchedCount: 1 };
  mockState.permissions = new Map([['admin', ['manage-apps']]]);
});

const named = (name: string) => mockState.calls.filter(([call]) => call === name);

describe('ports', () => {
  test('the public key goes on an app user only, then the user change is broadcast', async () => {
    await m.ports.usersPort.setPublicKey('bot-a', '{"kty":"RSA"}');
    expect(named('Users.updateOne')).toEqual([
      ['Users.updateOne', { _id: 'bot-a', type: 'app' }, { $set: { 'e2e.public_key': '{"kty":"RSA"}' } }],
    ]);
    expect(named('notifyOnUserChange')).toHaveLength(1);
    mockState.calls.length = 0;
    await m.ports.usersPort.setPublicKey('alice', '{"kty":"RSA"}');
    expect(named('notifyOnUserChange')).toHaveLength(0); // no person's key is touched
  });

  test("an accept writes what a client's accept writes, by the subscription's id, then broadcasts it", async () => {
    const old = [{ e2eKeyId: 'kid-0', ts: new Date(0), E2EKey: 'kid-0OLD' }];
    await m.ports.subscriptionsPort.acceptSuggestedKey('r1', 'bot-a', { E2EKey: 'kid-1NEW', oldRoomKeys: old });
    expect(named('Subscriptions.updateOne')).toEqual([
      [
        'Subscriptions.updateOne',
        { _id: 's-bot' },
        { $set: { E2EKey: 'kid-1NEW', oldRoomKeys: old }, $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 } },
      ],
    ]);
    expect(named('notifyOnSubscriptionChangedById')).toEqual([['notifyOnSubscriptionChangedById', 's-bot']]);
  });

  test('clearing keys and suggestions unsets exactly those fields', async () => {
    await m.ports.subscriptionsPort.clearSuggestedKey('r1', 'bot-a');
    await m.ports.subscriptionsPort.clearRoomKeys('r1', 'bot-a');
    expect(named('Subscriptions.updateOne').map(([, , update]) => update)).toEqual([
      { $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 } },
      { $unset: { E2EKey: 1, oldRoomKeys: 1 } },
    ]);
  });

  test('queue changes broadcast the room', async () => {
    await m.ports.roomsPort.addToWaitingQueue('r1', 'bot-a');
    await m.ports.roomsPort.removeFromWaitingQueue('r1', 'bot-a');
    expect(mockState.calls).toEqual([
      ['Rooms.addUserIdToE2EEQueueByRoomIds', ['r1'], 'bot-a'],
      ['notifyOnRoomChangedById', 'r1'],
      ['Rooms.removeUsersFromE2EEQueueByRoomId', 'r1', ['bot-a']],
      ['notifyOnRoomChangedById', 'r1'],
    ]);
  });

  test('proofs are the newest visible e2e messages under the kid', async () => {
    await m.ports.messagesPort.newestUnderKid('r1', 'kid-1', 8);
    const [[, query, options]] = named('Messages.find') as Array<[string, Doc, Doc]>;
    expect(query).toEqual({ rid: 'r1', t: 'e2e', 'content.kid': 'kid-1', _hidden: { $ne: true } });
    expect(options).toMatchObject({ sort: { ts: -1 }, limit: 8 });
  });

  test("an app's message goes through Rocket.Chat's send path exactly as a client's encrypted message", async () => {
    const content = { algorithm: 'rc.v2.aes-sha2' as const, kid: 'kid-1', iv: 'aXY=', ciphertext: 'Y3Q=' };
    const id = await m.ports.messagesPort.send('bot-a', {
      rid: 'r1',
      t: 'e2e',
      msg: '',
      content,
      parseUrls: false,
      tmid: 'thread-1',
    });
    expect(id).toBe('sent-1');
    expect(named('executeSendMessage')).toEqual([
      ['executeSendMessage', 'bot-a', { rid: 'r1', t: 'e2e', msg: '', content, parseUrls: false, tmid: 'thread-1' }],
    ]);
  });

  test('permissions come from the Apps-Engine check; E2EE apps are the enabled ones with a permission', () => {
    expect(m.ports.appsPort.hasPermission('app-a', 'e2ee.write')).toBe(true);
    expect(m.ports.appsPort.hasPermission('app-p', 'e2ee.write')).toBe(false);
    expect(m.ports.appsPort.e2eeApps()).toEqual(['app-a', 'app-p']);
  });
});

describe('key events', () => {
  test('an event reaches only the app it names, and only when it listens', async () => {
    mockState.listeners.set('IPostE2EERoomKeyReady', ['app-a', 'app-p']);
    await m.ports.eventsPort.emit({ type: 'roomKeyReady', appId: 'app-a', roomId: 'r1', kid: 'kid-1' });
    expect(mockState.appCalls.map(([id, method]) => [id, method])).toEqual([
      ['app-a', 'checkPostE2EERoomKeyReady'],
      ['app-a', 'executePostE2EERoomKeyReady'],
    ]);
    expect(mockState.appCalls[1][2]).toEqual({ room: { id: 'r1' }, kid: 'kid-1' });
    mockState.appCalls.length = 0;
    await m.ports.eventsPort.emit({ type: 'roomKeyRotated', appId: 'app-a', roomId: 'r1', newKid: 'kid-2' });
    expect(mockState.appCalls).toEqual([]); // app-a does not listen to rotations
  });

  test('a revocation carries the room id and the reason', async () => {
    mockState.listeners.set('IPostE2EEAccessRevoked', ['app-p']);
    await m.ports.eventsPort.emit({ type: 'accessRevoked', appId: 'app-p', roomId: 'r1', reason: 'removed-from-room' });
    expect(mockState.appCalls.at(-1)).toEqual([
      'app-p',
      'executePostE2EEAccessRevoked',
      { roomId: 'r1', room: { id: 'r1' }, reason: 'removed-from-room' },
    ]);
  });
});

describe('hooks', () => {
  test('one key store per process, on the server database with the KEK file', async () => {
    await m.host.getE2EEAppsHost();
    await m.host.getE2EEAppsHost();
    expect(mockState.opened).toEqual([{ url: 'mongodb://localhost:3001/meteor', kekFile: '/run/secrets/rc-e2ee-kek' }]);
    expect(m.host.e2eeAppsConfig({})).toBeUndefined();
  });

  test('the custody comes from the environment: a KEK file by default, or a PKCS#11 token', () => {
    const url = 'mongodb://db/rc';
    const token = {
      RC_E2EE_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      RC_E2EE_PKCS11_TOKEN_LABEL: 'rc-e2ee',
      RC_E2EE_PKCS11_PIN_FILE: '/run/secrets/pin',
    };
    expect(m.host.e2eeAppsConfig({ MONGO_URL: url })).toBeUndefined();
    expect(m.host.e2eeAppsConfig({ MONGO_URL: url, RC_E2EE_KEK_FILE: '/k' })).toEqual({ url, kekFile: '/k' });
    expect(m.host.e2eeAppsConfig({ MONGO_URL: url, RC_E2EE_CUSTODY: 'pkcs11-rsa', ...token })).toEqual({
      url,
      custody: {
        kind: 'pkcs11',
        mode: 'rsa',
        module: token.RC_E2EE_PKCS11_MODULE,
        tokenLabel: 'rc-e2ee',
        pinFile: '/run/secrets/pin',
      },
    });
    expect(
      m.host.e2eeAppsConfig({
        MONGO_URL: url,
        RC_E2EE_CUSTODY: 'pkcs11-kek',
        RC_E2EE_PKCS11_KEY_LABEL: 'kek-1',
        ...token,
      })?.custody,
    ).toMatchObject({ mode: 'kek', keyLabel: 'kek-1' });
    // Named but incomplete or unknown: an error the open logs (fails closed), never "off".
    expect(() => m.host.e2eeAppsConfig({ MONGO_URL: url, RC_E2EE_CUSTODY: 'pkcs11-rsa' })).toThrow(
      /RC_E2EE_PKCS11_MODULE/,
    );
    expect(() => m.host.e2eeAppsConfig({ MONGO_URL: url, RC_E2EE_CUSTODY: 'vault', ...token })).toThrow(
      /RC_E2EE_CUSTODY/,
    );
    // The PIN itself is never in the options, only the file that holds it.
    const config = m.host.e2eeAppsConfig({ MONGO_URL: url, RC_E2EE_CUSTODY: 'pkcs11-kek', ...token });
    expect(JSON.stringify(config)).not.toMatch(/"pin"/i);
  });

  test("suggested keys: app users only; a refused key queues the app user again, as Rocket.Chat's reject does", async () => {
    await m.hooks.onE2EESuggestedKeysStored('r1', ['alice', 'bot-a', 'planted-for'], 'alice');
    expect(named('service.onSuggestedKey')).toEqual([
      ['service.onSuggestedKey', 'app-a', 'bot-a', 'r1', 'alice'],
      ['service.onSuggestedKey', 'app-p', 'planted-for', 'r1', 'alice'],
    ]);
    expect(named('Rooms.addUserIdToE2EEQueueByRoomIds')).toEqual([
      ['Rooms.addUserIdToE2EEQueueByRoomIds', ['r1'], 'planted-for'],
    ]);
  });

  test('a room key reset tells the service the old and new kids and queues the member app users told', async () => {
    await m.host.withAppHost('app-a', async () => undefined); // app-a's user is known
    await m.hooks.onE2EERoomKeyReset('r1', 'kid-1', 'kid-2');
    expect(named('service.onRoomKeyReset')).toEqual([['service.onRoomKeyReset', 'r1', 'kid-1', 'kid-2']]);
    expect(named('Rooms.addUserIdToE2EEQueueByRoomIds')).toEqual([
      ['Rooms.addUserIdToE2EEQueueByRoomIds', ['r1'], 'bot-a'],
    ]);
  });

  test('enabling: only enabled statuses of apps with an E2EE permission', async () => {
    await m.hooks.onE2EEAppStatusChanged('app-a', 'manually_disabled');
    await m.hooks.onE2EEAppStatusChanged('app-plain', 'auto_enabled');
    await m.hooks.onE2EEAppStatusChanged('app-a', 'auto_enabled');
    expect(named('service.enableApp')).toEqual([['service.enableApp', 'app-a']]);
  });

  test('an app user leaving ends its access; people leaving are ignored; encrypted messages settle keys', async () => {
    await m.hooks.onE2EEMemberLeft({ _id: 'alice', type: 'user' }, { _id: 'r1' });
    await m.hooks.onE2EEMemberLeft({ _id: 'bot-a', type: 'app', appId: 'app-a' }, { _id: 'r1' });
    expect(named('service.onAppUserLeft')).toEqual([['service.onAppUserLeft', 'app-a', 'r1']]);
    await m.hooks.onE2EEMessageSaved({ _id: 'x', rid: 'r1', msg: 'hello', u: { _id: 'alice' } } as never);
    await m.hooks.onE2EEMessageSaved({
      _id: 'y',
      rid: 'r1',
      t: 'e2e',
      msg: '',
      content: { algorithm: 'rc.v2.aes-sha2', kid: 'kid-1', iv: 'aXY=', ciphertext: 'Y3Q=' },
      u: { _id: 'alice' },
    } as never);
    expect(named('service.onMessage').map(([, message]) => (message as Doc)._id)).toEqual(['y']);
  });

  test('a failing service call is logged, never thrown into Rocket.Chat', async () => {
    const { service } = await m.host.getE2EEAppsHost();
    const { onAppUserLeft } = service;
    service.onAppUserLeft = async () => {
      throw new Error('storage down');
    };
    try {
      await expect(
        m.hooks.onE2EEMemberLeft({ _id: 'bot-a', type: 'app', appId: 'app-a' }, { _id: 'r1' }),
      ).resolves.toBeUndefined();
      expect(named('SystemLogger.error')).toHaveLength(1);
    } finally {
      service.onAppUserLeft = onAppUserLeft;
    }
  });
});

describe('the setting and room-state hooks', () => {
  test('with E2E_Enable_Apps off, or E2E_Enable off, no hook reaches the service and the endpoints refuse', async () => {
    for (const [id, value] of [
      ['E2E_Enable_Apps', false],
      ['E2E_Enable', false],
    ] as const) {
      mockState.settings.set(id, value);
      await m.hooks.onE2EERoomKeyIdSet('r1', 'kid-1');
      await m.hooks.onE2EERoomEncryptionSaved('r1');
      await m.hooks.onE2EEUserKeyReset('bot-a');
      await m.hooks.onE2EERoomKeyReset('r1', 'kid-1', 'kid-2');
      await m.hooks.onE2EESuggestedKeysStored('r1', ['bot-a'], 'alice');
      await expect(m.host.requireE2EEHostService()).rejects.toMatchObject({ code: 'HOST_E2EE_DISABLED' });
      mockState.settings.set(id, true);
    }
    expect(mockState.calls.filter(([name]) => name.startsWith('service.'))).toEqual([]);
    expect(mockState.calls.filter(([name]) => name.startsWith('Rooms.'))).toEqual([]);
  });

  test("a person's key reset is left alone; an app user's goes to the service for its app", async () => {
    await m.hooks.onE2EEUserKeyReset('alice');
    await m.hooks.onE2EEUserKeyReset('nobody');
    expect(named('service.onAppUserKeyReset')).toEqual([]);
    await m.hooks.onE2EEUserKeyReset('bot-a', ['r1', 'r2']);
    expect(named('service.onAppUserKeyReset')).toEqual([['service.onAppUserKeyReset', 'app-a', ['r1', 'r2']]]);
  });

  test("the room's first key id and an encryption switch: every E2EE app's user resolved, then the room handed over", async () => {
    await m.hooks.onE2EERoomKeyIdSet('r1', 'kid-1');
    await m.hooks.onE2EERoomEncryptionSaved('r1');
    expect(mockState.calls.filter(([name]) => name.startsWith('service.'))).toEqual([
      ['service.onRoomKeyIdSet', 'r1', 'kid-1'],
      ['service.onRoomEncryptionChanged', 'r1'],
    ]);
    // The service's synchronous appUserId now knows both E2EE apps' users.
    expect(m.ports.appsPort.appUserId('app-a')).toBe('bot-a');
    expect(m.ports.appsPort.appUserId('app-p')).toBe('planted-for');
  });

  test('a failing room-state flow is logged, never thrown into Rocket.Chat', async () => {
    const { service } = await m.host.getE2EEAppsHost();
    const { onRoomEncryptionChanged, onAppUserKeyReset } = service;
    service.onRoomEncryptionChanged = async () => {
      throw new Error('storage down');
    };
    service.onAppUserKeyReset = async () => {
      throw new Error('storage down');
    };
    try {
      await expect(m.hooks.onE2EERoomEncryptionSaved('r1')).resolves.toBeUndefined();
      await expect(m.hooks.onE2EEUserKeyReset('bot-a')).resolves.toBeUndefined();
      expect(named('SystemLogger.error')).toHaveLength(2);
    } finally {
      service.onRoomEncryptionChanged = onRoomEncryptionChanged;
      service.onAppUserKeyReset = onAppUserKeyReset;
    }
  });

  test('the setting is off by default, server-only, and usable only with E2E_Enable', async () => {
    const added: unknown[] = [];
    await m.settings.addE2EEAppsSettings({
      add: async (...args: unknown[]) => {
        added.push(args);
      },
    });
    expect(added).toEqual([
      [
        'E2E_Enable_Apps',
        false,
        expect.objectContaining({
          type: 'boolean',
          public: false,
          enableQuery: { _id: 'E2E_Enable', value: true },
        }),
      ],
    ]);
    expect(m.settings.isE2EEAppsEnabled()).toBe(true);
    mockState.settings.set('E2E_Enable_Apps', 'true'); // only the boolean counts
    expect(m.settings.isE2EEAppsEnabled()).toBe(false);
    mockState.settings.delete('E2E_Enable_Apps');
    expect(m.settings.isE2EEAppsEnabled()).toBe(false);
  });
});

describe("the identity rotation's compare-and-set", () => {
  const old = [{ e2eKeyId: 'kid-0', ts: new Date(0), E2EKey: 'kid-0OLD' }];

  test('a write whose subscription changed meanwhile matches nothing, broadcasts nothing, and says so', async () => {
    mockState.subscriptionUpdate = { modifiedCount: 0, matchedCount: 0 };
    const written = await m.ports.subscriptionsPort.replaceRoomKeys(
      'r1',
      'bot-a',
      { E2EKey: 'kid-1XYZ', oldRoomKeys: old },
      { E2EKey: 'kid-1NEW', oldRoomKeys: [{ ...old[0], E2EKey: 'kid-0NEW' }] },
    );
    expect(written).toBe(false);
    expect(named('Subscriptions.updateOne')).toEqual([
      [
        'Subscriptions.updateOne',
        {
          rid: 'r1',
          'u._id': 'bot-a',
          E2EKey: 'kid-1XYZ',
          oldRoomKeys: { $size: 1 },
          'oldRoomKeys.0.E2EKey': 'kid-0OLD',
        },
        { $set: { E2EKey: 'kid-1NEW', oldRoomKeys: [{ ...old[0], E2EKey: 'kid-0NEW' }] } },
      ],
    ]);
    expect(named('notifyOnSubscriptionChangedById')).toEqual([]);
  });

  test('a subscription with old keys only is compared on the absent E2EKey, written, and broadcast', async () => {
    const written = await m.ports.subscriptionsPort.replaceRoomKeys(
      'r1',
      'bot-a',
      { E2EKey: null, oldRoomKeys: old },
      { E2EKey: null, oldRoomKeys: [{ ...old[0], E2EKey: 'kid-0NEW' }] },
    );
    expect(written).toBe(true);
    const [[, filter, update]] = named('Subscriptions.updateOne') as Array<[string, Doc, Doc]>;
    expect(filter).toMatchObject({ E2EKey: { $exists: false }, oldRoomKeys: { $size: 1 } });
    expect(update).toEqual({ $set: { oldRoomKeys: [{ ...old[0], E2EKey: 'kid-0NEW' }] }, $unset: { E2EKey: 1 } });
    expect(named('notifyOnSubscriptionChangedById')).toEqual([['notifyOnSubscriptionChangedById', 's-bot']]);
  });

  test('no old keys: the filter accepts none or an empty list, and the write unsets them', async () => {
    await m.ports.subscriptionsPort.replaceRoomKeys('r1', 'bot-a', { E2EKey: 'kid-1XYZ' }, { E2EKey: 'kid-1NEW' });
    const [[, filter, update]] = named('Subscriptions.updateOne') as Array<[string, Doc, Doc]>;
    expect(filter).toEqual({
      rid: 'r1',
      'u._id': 'bot-a',
      E2EKey: 'kid-1XYZ',
      $or: [{ oldRoomKeys: { $exists: false } }, { oldRoomKeys: { $size: 0 } }],
    });
    expect(update).toEqual({ $set: { E2EKey: 'kid-1NEW' }, $unset: { oldRoomKeys: 1 } });
  });

  test('the rotation lists subscriptions that hold old keys only, not just those with an E2EKey', async () => {
    mockState.subscriptions.push({ _id: 's-old', rid: 'r2', u: { _id: 'bot-a' }, oldRoomKeys: old });
    const listed = await m.ports.subscriptionsPort.listWithKeys('bot-a');
    expect(listed.map((sub: Doc) => sub.rid)).toEqual(['r1', 'r2']);
    const [[, query]] = named('Subscriptions.find') as Array<[string, Doc]>;
    expect(query).toEqual({
      'u._id': 'bot-a',
      $or: [{ E2EKey: { $exists: true } }, { 'oldRoomKeys.0': { $exists: true } }],
    });
  });
});

describe('e2e.apps.rotateIdentity', () => {
  const rotate = (userId: string, appId: string) =>
    mockState.routes.get('e2e.apps.rotateIdentity')!.post.call({
      userId,
      user: { _id: userId, username: userId },
      bodyParams: { appId },
      queryParams: {},
    });

  test('refused without manage-apps, for an unknown app, and with the feature off; the service is never called', async () => {
    expect((await rotate('alice', 'app-a')).body).toMatchObject({ success: false, errorType: 'error-not-allowed' });
    expect((await rotate('admin', 'app-unknown')).body).toMatchObject({
      success: false,
      errorType: 'error-app-not-found',
    });
    mockState.settings.set('E2E_Enable_Apps', false);
    expect((await rotate('admin', 'app-a')).body).toMatchObject({
      success: false,
      errorType: 'error-e2ee-apps-disabled',
    });
    expect(named('service.rotateAppIdentity')).toEqual([]);
  });

  test("the service's refusal keeps its stable code; its other errors are not turned into answers", async () => {
    const { service } = await m.host.getE2EEAppsHost();
    const { rotateAppIdentity } = service;
    try {
      service.rotateAppIdentity = async () => {
        throw Object.assign(new Error('the identity was revoked'), { code: 'KEYSTORE_REVOKED' });
      };
      expect((await rotate('admin', 'app-a')).body).toEqual({
        success: false,
        errorType: 'KEYSTORE_REVOKED',
        error: 'KEYSTORE_REVOKED',
      });
      service.rotateAppIdentity = async () => {
        throw new Error('unexpected');
      };
      await expect(rotate('admin', 'app-a')).rejects.toThrow('unexpected');
    } finally {
      service.rotateAppIdentity = rotateAppIdentity;
    }
  });

  test('an app admin rotates: the answer carries the key version and counts, never a key', async () => {
    const answer = await rotate('admin', 'app-a');
    expect(named('service.rotateAppIdentity')).toEqual([['service.rotateAppIdentity', 'app-a']]);
    expect(answer.body).toEqual({
      success: true,
      appId: 'app-a',
      keyVersion: 2,
      resumed: undefined,
      keysRewrapped: undefined,
      keysUnreadable: undefined,
    });
  });
});

describe('AppE2EEBridge', () => {
  test('every method hands over to the service with the app id the host bound, in its place', async () => {
    const bridge = new m.bridge.AppE2EEBridge({ debugLog: () => undefined } as never) as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    await bridge.isAuthorized('r1', 'app-a');
    await bridge.getEncryptedRoomKey('r1', 'kid-1', 'app-a');
    await bridge.getKeyHistory('r1', 'app-a');
    await bridge.decryptMessage({ roomId: 'r1', messageId: 'm1' }, 'app-a');
    await bridge.sendEncryptedMessage('r1', { msg: 'hi' }, { threadId: 't1' }, 'app-a');
    await bridge.encryptContent('r1', { msg: 'hi' }, 'app-a');
    expect(mockState.calls.filter(([name]) => name.startsWith('service.'))).toEqual([
      ['service.isAuthorized', 'app-a', 'r1'],
      ['service.getEncryptedRoomKey', 'app-a', 'r1', 'kid-1'],
      ['service.getKeyHistory', 'app-a', 'r1'],
      ['service.decryptMessage', 'app-a', { roomId: 'r1', messageId: 'm1' }],
      ['service.sendEncryptedMessage', 'app-a', 'r1', { msg: 'hi' }, { threadId: 't1' }],
      ['service.encryptContent', 'app-a', 'r1', { msg: 'hi' }],
    ]);
  });

  test('a page of history crosses as data: each payload, or an error as its code and fixed text', async () => {
    const bridge = new m.bridge.AppE2EEBridge({ debugLog: () => undefined } as never) as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    const envelope = { algorithm: 'rc.v2.aes-sha2', kid: 'k', iv: 'aXY=', ciphertext: 'Y3Q=' };
    const results = await bridge.decryptMessages('r1', [envelope, { ...envelope, ciphertext: 'Y3R4' }], 'app-a');
    expect(results).toEqual([
      { payload: { msg: 'one' } },
      { error: { code: 'E2EE_DECRYPT_FAILED', message: 'the message could not be decrypted' } },
    ]);
    expect(mockState.calls.filter(([name]) => name === 'service.decryptMessages').at(-1)).toEqual([
      'service.decryptMessages',
      'app-a',
      'r1',
      [envelope, { ...envelope, ciphertext: 'Y3R4' }],
    ]);
  });
});
