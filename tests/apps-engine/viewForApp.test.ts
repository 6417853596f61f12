// The per-app view of encrypted messages (overlay e2ee/viewForApp.ts, e2ee/appView.ts) for every
// message event the listener manager dispatches (rc-patch-targets §3), the bridge results, and
// the way back from apps.
import { runInNewContext } from 'node:vm';

import {
  RESULT_RETURNING_METHODS,
  withE2EEView,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/appView';
import type { ICallableApp } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/appView';
import {
  HIDDEN_UNMAPPED_FIELDS,
  findKeys,
  mergeAppResult,
  stripForWrite,
  stripHostOnlyRoomFields,
  viewForApp,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/viewForApp';
import type { IE2EECapabilities } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/viewForApp';

const SECRET_KEYS = new Set(['encryptedContent', ...HIDDEN_UNMAPPED_FIELDS]);
const NONE: IE2EECapabilities = { read: false, write: false };
const READ: IE2EECapabilities = { read: true, write: false };
const BOTH: IE2EECapabilities = { read: true, write: true };

const envelope = { algorithm: 'rc.v2.aes-sha2', kid: 'a1b2c3d4e5f6', iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'c2VjcmV0' };

function room() {
  return {
    id: 'ROOM1',
    type: 'p',
    userIds: ['u1', 'bot'],
    _unmappedProperties_: {
      encrypted: true,
      e2eKeyId: 'a1b2c3d4e5f6',
      usersWaitingForE2EKeys: [{ userId: 'u9', ts: new Date(0) }],
      lastMessage: {
        _id: 'M0',
        t: 'e2e',
        msg: '',
        content: { ...envelope },
        e2e: 'done',
        e2eMentions: { e2eUserMentions: ['@bot'] },
      },
    },
  };
}

function message(extra: Record<string, unknown> = {}) {
  return {
    id: 'M1',
    room: room(),
    sender: { id: 'u1', username: 'alice' },
    text: '',
    type: 'e2e',
    encryptedContent: { ...envelope },
    e2e: 'pending',
    _unmappedProperties_: {
      content: { ...envelope },
      e2e: 'pending',
      e2eMentions: { e2eUserMentions: ['@bot'] },
      md: [],
    },
    ...extra,
  };
}

const user = { id: 'u1', username: 'alice' };

// Every message event of AppListenerManager with the arguments it passes to the app.
const EVENTS: Array<[string, string, () => unknown[]]> = [
  ['IPreMessageSentPrevent', 'executePreMessageSentPrevent', () => [message()]],
  ['IPreMessageSentExtend', 'executePreMessageSentExtend', () => [message()]],
  ['IPreMessageSentModify', 'executePreMessageSentModify', () => [message()]],
  ['IPostMessageSent', 'executePostMessageSent', () => [message()]],
  ['IPostMessageSentToBot', 'executePostMessageSentToBot', () => [message()]],
  [
    'IPostSystemMessageSent',
    'executePostSystemMessageSent',
    () => [message({ type: 'message_pinned_e2e', attachments: [{ text: '' }] })],
  ],
  ['IPreMessageDeletePrevent', 'executePreMessageDeletePrevent', () => [message()]],
  ['IPostMessageDeleted', 'executePostMessageDeleted', () => [message(), { message: message(), user }]],
  ['IPreMessageUpdatedPrevent', 'executePreMessageUpdatedPrevent', () => [message()]],
  ['IPreMessageUpdatedExtend', 'executePreMessageUpdatedExtend', () => [message()]],
  ['IPreMessageUpdatedModify', 'executePreMessageUpdatedModify', () => [message()]],
  ['IPostMessageUpdated', 'executePostMessageUpdated', () => [message()]],
  [
    'IPostMessageReacted',
    'executePostMessageReacted',
    () => [{ message: message(), user, reaction: ':+1:', isReacted: true }],
  ],
  ['IPostMessageFollowed', 'executePostMessageFollowed', () => [{ message: message(), user, isFollowed: true }]],
  ['IPostMessagePinned', 'executePostMessagePinned', () => [{ message: message(), user, isPinned: true }]],
  ['IPostMessageStarred', 'executePostMessageStarred', () => [{ message: message(), user, isStarred: true }]],
  [
    'IPostMessageReported',
    'executePostMessageReported',
    () => [{ message: message(), room: room(), user, reason: 'spam' }],
  ],
  [
    'IUIKitInteractionHandler',
    'executeBlockActionHandler',
    () => [{ appId: 'app', message: message(), room: room(), user }],
  ],
  ['IPostRoomUserJoined', 'executePostRoomUserJoined', () => [{ room: room(), joiningUser: user }]],
  ['IPreRoomCreateModify', 'executePreRoomCreateModify', () => [room()]],
];

class RecordingApp implements ICallableApp {
  public readonly calls: Array<{ method: string; args: unknown[] }> = [];

  constructor(
    private readonly id: string,
    private readonly answer: (method: string, args: unknown[]) => unknown = (_method, args) => args[0],
  ) {}

  getID(): string {
    return this.id;
  }

  async call(method: string, ...args: unknown[]): Promise<unknown> {
    this.calls.push({ method, args });
    return this.answer(method, args);
  }
}

describe('per-app view of every message event', () => {
  it.each(EVENTS)(
    '%s: an app without e2ee.read sees no ciphertext, key id or key queue',
    async (_event, method, args) => {
      const input = args();
      const app = new RecordingApp('plain-app');
      await withE2EEView(app, () => NONE).call(method, ...input);
      expect(app.calls).toHaveLength(1);
      expect(findKeys(app.calls[0].args, SECRET_KEYS)).toEqual([]);
      expect(
        findKeys(app.calls[0].args, new Set(['e2e'])).filter((path) => !path.includes('_unmappedProperties_')),
      ).toEqual([]);
      // The original event data is untouched: other apps and Rocket.Chat still have it.
      expect(findKeys(input, SECRET_KEYS).length).toBeGreaterThan(0);
    },
  );

  it.each(EVENTS)('%s: an app with e2ee.read sees the event as it is', async (_event, method, args) => {
    const input = args();
    const app = new RecordingApp('e2ee-app');
    await withE2EEView(app, () => READ).call(method, ...input);
    expect(app.calls[0].args).toEqual(input);
  });

  it('keeps everything that is not E2EE state', () => {
    const seen = viewForApp(message(), NONE) as ReturnType<typeof message>;
    expect(seen).toMatchObject({ id: 'M1', type: 'e2e', sender: user, text: '' });
    expect(seen._unmappedProperties_).toEqual({ md: [] });
    expect(seen.room._unmappedProperties_).toMatchObject({
      encrypted: true,
      lastMessage: { _id: 'M0', t: 'e2e', msg: '' },
    });
  });

  it('looks the capabilities up on every call', async () => {
    let caps = NONE;
    const view = withE2EEView(new RecordingApp('app'), () => caps);
    expect(findKeys(await view.call('executePostMessageSent', message()), SECRET_KEYS)).toEqual([]);
    caps = READ;
    expect(findKeys(await view.call('executePostMessageSent', message()), SECRET_KEYS).length).toBeGreaterThan(0);
  });

  it('forwards everything else of the app', () => {
    const app = new RecordingApp('the-app');
    expect(withE2EEView(app, () => NONE).getID()).toBe('the-app');
  });
});

describe('messages returned by bridges', () => {
  it('filters a message by id, a room listing and a thread', () => {
    for (const result of [message(), [message(), message({ id: 'M2' })], room(), [room()]]) {
      expect(findKeys(viewForApp(result, NONE), SECRET_KEYS)).toEqual([]);
      expect(viewForApp(result, READ)).toBe(result);
    }
  });

  it('passes undefined and primitives through', () => {
    expect(viewForApp(undefined, NONE)).toBeUndefined();
    expect(viewForApp(3, NONE)).toBe(3);
  });
});

describe('the way back from apps', () => {
  const smuggled = () => ({
    room: { id: 'ROOM1' },
    sender: user,
    text: 'hi',
    type: 'e2e',
    encryptedContent: envelope,
    e2e: 'pending',
    _unmappedProperties_: { t: 'e2e', content: envelope, e2e: 'pending', e2eMentions: {}, e2eKeyId: 'x', other: 1 },
  });

  it('an app without e2ee.write cannot send an encrypted-looking message', () => {
    const out = stripForWrite(smuggled(), NONE);
    expect(findKeys(out, new Set(['encryptedContent', 'e2e', 't', 'content', 'e2eMentions', 'e2eKeyId']))).toEqual([]);
    expect(out).toMatchObject({ text: 'hi', _unmappedProperties_: { other: 1 } });
    expect(out).not.toHaveProperty('type');
  });

  it('an app with e2ee.write keeps what it sends', () => {
    const input = smuggled();
    expect(stripForWrite(input, { write: true })).toBe(input);
  });

  it.each([...RESULT_RETURNING_METHODS])(
    '%s: the next app and the save path get the original ciphertext back',
    async (method) => {
      const original = message();
      // An app without e2ee.read returns what it saw, plus a forged envelope.
      const forging = new RecordingApp('forger', (_m, args) => {
        const seen = args[0] as Record<string, any>;
        return {
          ...seen,
          text: 'edited',
          _unmappedProperties_: {
            ...seen._unmappedProperties_,
            content: { ...envelope, ciphertext: 'Zm9yZ2Vk' },
            t: 'e2e',
          },
        };
      });
      const result = (await withE2EEView(forging, () => NONE).call(method, original)) as ReturnType<typeof message>;
      expect(result.text).toBe('edited');
      expect(result._unmappedProperties_.content).toEqual(original._unmappedProperties_.content);
      expect(result.encryptedContent).toEqual(original.encryptedContent);
      expect(result.type).toBe('e2e');
      const next = new RecordingApp('reader');
      await withE2EEView(next, () => READ).call(method, result);
      expect(findKeys(next.calls[0].args, SECRET_KEYS).length).toBeGreaterThan(0);
    },
  );

  it('an app with both permissions may change the envelope', () => {
    const input = message();
    const changed = {
      ...input,
      _unmappedProperties_: { ...input._unmappedProperties_, content: { ...envelope, ciphertext: 'bmV3' } },
    };
    expect(mergeAppResult(input, changed, BOTH)._unmappedProperties_.content.ciphertext).toBe('bmV3');
  });

  it('no app sets a room key id or key queue', () => {
    const r: Record<string, any> = {
      id: 'R',
      e2eKeyId: 'x',
      _unmappedProperties_: { e2eKeyId: 'x', usersWaitingForE2EKeys: [], encrypted: true },
    };
    stripHostOnlyRoomFields(r);
    expect(r).toEqual({ id: 'R', _unmappedProperties_: { encrypted: true } });
  });
});

describe('the view fails closed on objects that are not plain', () => {
  class ConvertedMessage {
    id = 'm1';
    sender = { id: 'u1' };
    room = { id: 'ROOM1' };
    encryptedContent = envelope;
    createdAt = new Date(0);
    _unmappedProperties_ = { content: envelope, e2e: 'done', msg: '' };
  }
  // What structuredClone or another realm (a vm context, a worker) hands over.
  const foreign = runInNewContext(
    '({ id: "m2", sender: { id: "u1" }, room: { id: "R" }, encryptedContent: { kid: "k" }, _unmappedProperties_: { content: { kid: "k" } } })',
  );

  test.each([
    ['a class instance', new ConvertedMessage()],
    ['an object of another realm', foreign],
    ['a structured clone', structuredClone({ ...new ConvertedMessage() })],
  ])('%s shows no encrypted field to an app without e2ee.read', (_name, value) => {
    const seen = viewForApp(value, NONE);
    expect(findKeys(seen, SECRET_KEYS)).toEqual([]);
    expect(JSON.stringify(seen)).not.toContain('c2VjcmV0');
    expect(findKeys(value, SECRET_KEYS).length).toBeGreaterThan(0);
  });

  test('dates and binary data pass through unchanged', () => {
    const createdAt = new Date(0);
    const bytes = new Uint8Array([1, 2, 3]);
    const seen = viewForApp({ id: 'm', createdAt, bytes }, NONE) as { createdAt: Date; bytes: Uint8Array };
    expect(seen.createdAt).toBe(createdAt);
    expect(seen.bytes).toBe(bytes);
  });
});
