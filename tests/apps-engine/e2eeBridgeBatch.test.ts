// The E2EE bridge's batch read (overlay bridges/E2EEBridge.ts, doDecryptMessages): what an app
// hands it is checked message by message, only the well-formed envelopes reach the host, and
// the answer comes back in the app's order with each refused message in its own place. The
// upstream modules the class extends and calls are not in this repository; they stand in here
// at their module boundary (BaseBridge, the permission manager and its error).
// jest.mock calls are hoisted above every declaration: their paths are literals.
const mockGranted = new Set<string>();

jest.mock(
  '../../apps-engine-patches/overlay/packages/apps/src/server/bridges/BaseBridge',
  () => ({ BaseBridge: class {} }),
  { virtual: true },
);
jest.mock(
  '../../apps-engine-patches/overlay/packages/apps/src/server/errors/PermissionDeniedError',
  () => ({
    PermissionDeniedError: class extends Error {
      constructor(readonly detail: unknown) {
        super('permission denied');
      }
    },
  }),
  { virtual: true },
);
jest.mock(
  '../../apps-engine-patches/overlay/packages/apps/src/server/managers/AppPermissionManager',
  () => ({
    AppPermissionManager: {
      hasPermission: (appId: string, permission: { name: string }) => mockGranted.has(`${appId} ${permission.name}`),
      notifyAboutError: () => undefined,
    },
  }),
  { virtual: true },
);
jest.mock(
  '../../apps-engine-patches/overlay/packages/apps/src/server/permissions/AppPermissions',
  () => ({ AppPermissions: { e2ee: { read: { name: 'e2ee.read' }, write: { name: 'e2ee.write' } } } }),
  { virtual: true },
);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks above
const { E2EEBridge } = require('../../apps-engine-patches/overlay/packages/apps/src/server/bridges/E2EEBridge');

const APP = '6f1d3c52-5a8e-4b7e-9a49-2f0b8f0c1e2d';
const ROOM = 'GENERAL';
const envelope = (n: number) => ({
  algorithm: 'rc.v2.aes-sha2',
  kid: 'a1b2c3d4e5f6',
  iv: 'AAAAAAAAAAAAAAAA',
  ciphertext: Buffer.from(`message ${n}`).toString('base64'),
});
const message = (n: number, room = ROOM) => ({ room: { id: room }, encryptedContent: envelope(n) });

/** A host that answers each envelope with its own number, and records what it was given. */
function bridge(answer?: (contents: unknown[]) => unknown[]) {
  const seen: unknown[][] = [];
  const host = new (class extends E2EEBridge {
    async decryptMessages(roomId: string, contents: unknown[], appId: string) {
      expect([roomId, appId]).toEqual([ROOM, APP]);
      seen.push(contents);
      if (answer) return answer(contents);
      return contents.map((content) => ({
        payload: { msg: Buffer.from((content as { ciphertext: string }).ciphertext, 'base64').toString() },
      }));
    }
  })();
  return { host, seen };
}

beforeEach(() => {
  mockGranted.clear();
  mockGranted.add(`${APP} e2ee.read`);
});

describe('E2EEBridge.doDecryptMessages', () => {
  it('answers in the app’s order, each refused message in its own place, only good envelopes sent on', async () => {
    const { host, seen } = bridge();
    const page = [
      message(1),
      'not a message',
      message(2, 'ELSEWHERE'),
      message(3),
      { room: { id: ROOM }, encryptedContent: { ...envelope(4), iv: 'not base64!' } },
      message(5),
    ];
    const results = await host.doDecryptMessages(ROOM, page, APP);
    expect(
      results.map((r: { payload?: { msg: string }; error?: { code: string } }) => r.payload?.msg ?? r.error?.code),
    ).toEqual(['message 1', 'E2EE_BAD_ARGUMENT', 'E2EE_BAD_ARGUMENT', 'message 3', 'E2EE_BAD_ARGUMENT', 'message 5']);
    expect(seen).toEqual([[envelope(1), envelope(3), envelope(5)]]);
  });

  it('a getter that throws refuses that message alone', async () => {
    const { host } = bridge();
    const trap = {
      get encryptedContent() {
        throw new Error('from the app');
      },
    };
    const results = await host.doDecryptMessages(ROOM, [trap, message(2)], APP);
    expect(results[0].error.code).toBe('E2EE_BAD_ARGUMENT');
    expect(results[0].error.message).not.toContain('from the app');
    expect(results[1]).toEqual({ payload: { msg: 'message 2' } });
  });

  it('a page of refused messages never reaches the host', async () => {
    const { host, seen } = bridge();
    const results = await host.doDecryptMessages(ROOM, [null, 42], APP);
    expect(results).toHaveLength(2);
    expect(seen).toEqual([]);
  });

  it('a host that answers a different number of messages is an error, not a shifted page', async () => {
    const { host } = bridge((contents) => contents.slice(1));
    await expect(host.doDecryptMessages(ROOM, [message(1), message(2)], APP)).rejects.toThrow(
      'a different number of messages',
    );
  });

  it('refuses without e2ee.read, a bad room id or a page that is not an array, before the host', async () => {
    const { host, seen } = bridge();
    mockGranted.clear();
    await expect(host.doDecryptMessages(ROOM, [message(1)], APP)).rejects.toThrow('permission denied');
    mockGranted.add(`${APP} e2ee.read`);
    await expect(host.doDecryptMessages({ $ne: '' }, [message(1)], APP)).rejects.toThrow();
    await expect(host.doDecryptMessages(ROOM, { length: 1, 0: message(1) }, APP)).rejects.toThrow();
    await expect(host.doDecryptMessages(ROOM, [message(1)], 'APP_ID')).rejects.toThrow();
    expect(seen).toEqual([]);
  });
});
