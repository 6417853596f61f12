// The messages converter's E2EE hooks (meteor overlay converters/e2eContent.ts) with the per-app
// view and write strip of the Apps-Engine series: what apps see of an encrypted message, what comes
// back, and that an update from an app can never drop the stored `content` (data loss).
import {
  e2eStateToApp,
  e2eeFieldsFromApp,
  encryptedContentToApp,
  isV2EncryptedContent,
} from '../../meteor-patches/overlay/apps/meteor/app/apps/server/converters/e2eeContent';
import {
  mergeAppResult,
  stripForWrite,
  viewForApp,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/viewForApp';
import type { IE2EECapabilities } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/viewForApp';

type Doc = Record<string, unknown>;

const CONTENT = {
  algorithm: 'rc.v2.aes-sha2',
  kid: 'kid123456789',
  iv: 'AAECAwQFBgcICQoL',
  ciphertext: 'c2VjcmV0IGJ5dGVz',
};
const STORED: Doc = {
  _id: 'm1',
  rid: 'r1',
  t: 'e2e',
  msg: '',
  e2e: 'done',
  content: CONTENT,
  u: { _id: 'alice' },
  ts: new Date(0),
};
const CAPS: Record<string, IE2EECapabilities> = {
  none: { read: false, write: false },
  read: { read: true, write: false },
  write: { read: false, write: true },
  both: { read: true, write: true },
};

/**
 * A deep clone in this realm, as lodash.clonedeep is in Rocket.Chat's (Jest's structuredClone
 * builds objects of the outer realm, which the view's plain-object check does not recognise).
 */
function cloneDeep<T>(value: T): T {
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map(cloneDeep) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, cloneDeep(field)])) as T;
  }
  return value;
}

/** transformMappedData as Rocket.Chat's (a clone; string entries move and delete, functions derive). */
async function transformMappedData(data: Doc, map: Record<string, string | ((d: Doc) => Promise<unknown>)>) {
  const original: Doc = cloneDeep(data);
  const out: Doc = {};
  for (const [to, from] of Object.entries(map)) {
    if (typeof from === 'function') {
      const result = await from(original);
      if (result !== undefined) out[to] = result;
    } else {
      if (original[from] !== undefined) out[to] = original[from];
      delete original[from];
    }
  }
  return { ...out, _unmappedProperties_: original };
}

/** convertMessage's map with the hook lines (the fields the hooks touch and their neighbours). */
function toApp(message: Doc) {
  return transformMappedData(message, {
    id: '_id',
    text: 'msg',
    type: 't',
    encryptedContent: encryptedContentToApp,
    e2e: e2eStateToApp,
    room: async (m) => {
      const room = { id: m.rid };
      delete m.rid;
      return room;
    },
    sender: async (m) => {
      const sender = { id: (m.u as { _id: string })._id };
      delete m.u;
      return sender;
    },
  });
}

/** convertAppMessage as patched: the `'x' in message` fields, the partial clean-up, the unmapped merge, the hook. */
function fromApp(message: Doc, isPartial: boolean): Doc {
  const out: Doc = {
    _id: message.id,
    rid: (message.room as { id?: string } | undefined)?.id,
    msg: message.text,
    ...('customFields' in message && { customFields: message.customFields }),
  };
  if (isPartial) {
    for (const [key, value] of Object.entries(out)) if (value === undefined) delete out[key];
  } else {
    Object.assign(out, message._unmappedProperties_);
  }
  Object.assign(out, e2eeFieldsFromApp(message));
  return out;
}

/** updateMessage: the original under the partial message, then `$set` of every field. */
function update(stored: Doc, partial: Doc): Doc {
  return { ...stored, ...Object.assign({}, stored, partial) };
}

describe('core to app', () => {
  test('a v2 content becomes encryptedContent and e2e its state, out of the unmapped bucket', async () => {
    const app = (await toApp(STORED)) as Doc & { _unmappedProperties_: Doc };
    expect(app.encryptedContent).toEqual(CONTENT);
    expect(app.e2e).toBe('done');
    expect(app.type).toBe('e2e');
    expect(app._unmappedProperties_).not.toHaveProperty('content');
    expect(app._unmappedProperties_).not.toHaveProperty('e2e');
    expect(STORED.content).toEqual(CONTENT); // the source is never changed
  });

  test('legacy v1 and federation contents stay unmapped, and the view hides them from apps without e2ee.read', async () => {
    for (const content of [
      { algorithm: 'rc.v1.aes-sha2', ciphertext: 'a2lkMTIzNDU2Nzg5MGFi' },
      { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'Zm9v' },
    ]) {
      const app = (await toApp({ ...STORED, content })) as Doc & { _unmappedProperties_: Doc };
      expect(app).not.toHaveProperty('encryptedContent');
      expect(app._unmappedProperties_.content).toEqual(content);
      const seen = viewForApp(app, CAPS.none) as Doc & { _unmappedProperties_: Doc };
      expect(seen._unmappedProperties_).not.toHaveProperty('content');
    }
  });

  test('apps without e2ee.read see neither encryptedContent nor e2e; apps with it see both', async () => {
    const app = await toApp(STORED);
    for (const caps of [CAPS.none, CAPS.write]) {
      const seen = viewForApp(app, caps) as Doc;
      expect(seen).not.toHaveProperty('encryptedContent');
      expect(seen).not.toHaveProperty('e2e');
      expect(JSON.stringify(seen)).not.toContain(CONTENT.ciphertext);
    }
    expect((viewForApp(app, CAPS.read) as Doc).encryptedContent).toEqual(CONTENT);
  });

  test('malformed envelopes are never mapped', () => {
    for (const bad of [
      null,
      'x',
      [],
      { ...CONTENT, algorithm: 'rc.v1.aes-sha2' },
      { ...CONTENT, iv: 'not base64!' },
      { ...CONTENT, kid: '$where' },
      { ...CONTENT, ciphertext: 3 },
    ]) {
      expect(isV2EncryptedContent(bad)).toBe(false);
    }
  });
});

describe('app to core', () => {
  test('an envelope comes back as a client stores one: t e2e, empty msg, content, e2e pending', () => {
    const core = fromApp(
      { id: 'n', room: { id: 'r1' }, text: 'plaintext the app also typed', encryptedContent: CONTENT },
      false,
    );
    expect(core).toMatchObject({ t: 'e2e', msg: '', content: CONTENT, e2e: 'pending' });
  });

  test('no plaintext msg rides beside an envelope, even through _unmappedProperties_', () => {
    const core = fromApp(
      {
        id: 'n',
        room: { id: 'r1' },
        text: '',
        encryptedContent: CONTENT,
        _unmappedProperties_: { msg: 'smuggled plaintext', t: 'uj' },
      },
      false,
    );
    expect(core.msg).toBe('');
    expect(core.t).toBe('e2e');
  });

  test('the helper never yields an undefined or null field, whatever the app sends', () => {
    const inputs: unknown[] = [
      undefined,
      null,
      0,
      '',
      'x',
      {},
      [],
      { algorithm: null },
      CONTENT,
      { ...CONTENT, kid: undefined },
    ];
    for (const encryptedContent of inputs) {
      for (const e2e of [undefined, null, 'done', 'pending', 'bogus']) {
        for (const value of Object.values(e2eeFieldsFromApp({ encryptedContent, e2e }))) {
          expect(value).not.toBeUndefined();
          expect(value).not.toBeNull();
        }
      }
    }
  });
});

describe('updateMessage from an app never drops content', () => {
  // What an app can send back on an update: the message it was shown, edited in every way that
  // could erase a field, after the bridge's write strip (apps without e2ee.write).
  const edits: Array<(m: Doc) => Doc> = [
    (m) => ({ ...m, text: 'edited' }),
    (m) => ({ ...m, customFields: { a: 1 } }),
    (m) => ({ ...m, encryptedContent: undefined, e2e: undefined }),
    (m) => ({ ...m, encryptedContent: null, e2e: null }),
    (m) => ({ ...m, encryptedContent: { algorithm: 'rc.v2.aes-sha2' } }),
    (m) => ({ ...m, _unmappedProperties_: { content: null, e2e: null, t: null } }),
    (m) => {
      const rest = { ...m };
      delete rest.encryptedContent;
      return rest;
    },
  ];

  test.each(Object.entries(CAPS))('an app with %s', async (_name, caps) => {
    for (const edit of edits) {
      const shown = viewForApp(await toApp(STORED), caps) as Doc;
      const sent = stripForWrite(edit(shown), caps) as Doc;
      const stored = update(STORED, fromApp(sent, true));
      expect(stored.content).toEqual(CONTENT);
      expect(stored.t).toBe('e2e');
    }
  });

  test('a Pre*Modify result of an app without e2ee.read keeps the ciphertext (mergeAppResult)', async () => {
    const input = await toApp(STORED);
    const shown = viewForApp(input, CAPS.none) as Doc;
    const merged = mergeAppResult(input, { ...shown, text: 'modified' }, CAPS.none) as Doc;
    expect(merged.encryptedContent).toEqual(CONTENT);
    const stored = update(STORED, fromApp(merged, true));
    expect(stored.content).toEqual(CONTENT);
  });

  test('only an app with e2ee.write can replace the envelope, and only with a well-formed one', async () => {
    const next = { ...CONTENT, ciphertext: 'bmV3IGJ5dGVz' };
    for (const [name, caps] of Object.entries(CAPS)) {
      const shown = viewForApp(await toApp(STORED), caps) as Doc;
      const sent = stripForWrite({ ...shown, encryptedContent: next }, caps) as Doc;
      const stored = update(STORED, fromApp(sent, true));
      expect([name, stored.content]).toEqual([name, caps.write ? next : CONTENT]);
    }
  });
});
