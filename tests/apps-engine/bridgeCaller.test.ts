// The bridge caller rule (overlay e2ee/bridgeCaller.ts): what the runtime's `bridges:` handler lets
// through, tried the way an app's sandbox can call it: any bridge, any method, any arguments.
import {
  APP_ID_PLACEHOLDER,
  BridgeCallerError,
  callerPosition,
  guardBridgeParams,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/bridgeCaller';
import {
  BRIDGE_METHODS,
  E2EE_BRIDGE_NAME,
  HOST_ONLY_BRIDGES,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/bridgeCallerTable';
import { E2EEArgumentError } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/bridgeGuard';

const HOST = '6f1d3c52-5a8e-4b7e-9a49-2f0b8f0c1e2d';
const VICTIM = '11111111-2222-3333-4444-555555555555';
const P = APP_ID_PLACEHOLDER;

/** Ordinary arguments for a method's other positions (never an app id, never the placeholder). */
function filler(length: number): unknown[] {
  return Array.from({ length }, (_, i) => ({ arg: i }));
}

/** The call an honest sandbox sends: ordinary arguments, the placeholder at the app-id index. */
function honest(arity: number, index: number, appId: unknown = P): unknown[] {
  const params = filler(arity);
  params[index] = appId;
  return params;
}

function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call was let through');
}

const E2EE_METHODS: Array<[string, number, number]> = Object.entries(BRIDGE_METHODS[E2EE_BRIDGE_NAME]).map(
  ([method, signature]) => [method, signature.length, signature.indexOf('appId')],
);

describe('finding 1: caller spoofing on the E2EE bridge', () => {
  it('covers the seven do* methods of E2EEBridge, each with its app id last', () => {
    expect(E2EE_METHODS.map(([method, arity, index]) => [method, arity, index])).toEqual([
      ['doIsAuthorized', 2, 1],
      ['doGetEncryptedRoomKey', 3, 2],
      ['doGetKeyHistory', 2, 1],
      ['doDecryptMessage', 2, 1],
      ['doDecryptMessages', 3, 2],
      ['doSendEncryptedMessage', 4, 3],
      ['doEncryptContent', 3, 2],
    ]);
  });

  describe.each(E2EE_METHODS)('%s', (method, arity, index) => {
    const guard = (params: unknown) => guardBridgeParams(E2EE_BRIDGE_NAME, method, params as unknown[], HOST);

    it('the honest call runs as the host app', () => {
      const params = honest(arity, index);
      const out = guard(params);
      expect(out).toEqual(honest(arity, index, HOST));
      expect(params[index]).toBe(P); // the request is not modified in place
    });

    it('an undefined optional argument keeps its position', () => {
      const params = honest(arity, index);
      params[0] = undefined;
      expect(guard(params)).toHaveLength(arity);
    });

    const attacks: Array<[string, () => unknown[]]> = [
      ['the victim at the app-id index', () => honest(arity, index, VICTIM)],
      ['its own real id instead of the placeholder', () => honest(arity, index, HOST)],
      ['a victim id before the placeholder', () => [...filler(index), VICTIM, P]],
      ['a victim id with the host id after it', () => [...filler(index), VICTIM, HOST]],
      ['an extra trailing argument', () => [...honest(arity, index), 'x']],
      ['an extra trailing victim id', () => [...honest(arity, index), VICTIM]],
      ['an extra trailing placeholder', () => [...honest(arity, index), P]],
      ['two placeholders', () => Object.assign(honest(arity, index), { 0: P })],
      ['the placeholder twice at the end', () => [...filler(index - 1), P, P]],
      ['a missing argument', () => honest(arity, index).slice(1)],
      ['only the placeholder', () => [P]],
      ['no arguments', () => []],
      ['the placeholder at the wrong index', () => Object.assign(filler(arity), { 0: P, [index]: 'ROOM1' })],
      ['a number at the app-id index', () => honest(arity, index, 42)],
      ['an operator object at the app-id index', () => honest(arity, index, { $ne: null })],
      ['null at the app-id index', () => honest(arity, index, null)],
      ['the placeholder wrapped in an array', () => honest(arity, index, [P])],
      ['a String object placeholder', () => honest(arity, index, new String(P))],
      ['the placeholder with a trailing space', () => honest(arity, index, `${P} `)],
    ];

    it.each(attacks)('refuses %s, with a typed error that quotes nothing', (_case, params) => {
      const error = refusal(() => guard(params()));
      expect(error).toBeInstanceOf(E2EEArgumentError);
      expect((error as E2EEArgumentError).code).toBe('E2EE_BAD_ARGUMENT');
      expect(error.message).not.toContain(VICTIM);
      expect(error.message).not.toContain(HOST);
      expect(error.message).not.toContain('$ne');
    });
  });

  it('refuses a request whose params are not an array', () => {
    for (const params of [undefined, null, 'APP_ID', { 0: 'ROOM1', 1: P, length: 2 }]) {
      expect(() => guardBridgeParams(E2EE_BRIDGE_NAME, 'doIsAuthorized', params as unknown as unknown[], HOST)).toThrow(
        E2EEArgumentError,
      );
    }
  });

  it('refuses unknown E2EE methods', () => {
    for (const method of [
      'doDecrypt',
      'doGetRoomKeys',
      'isAuthorized',
      'decryptMessage',
      'constructor',
      '__proto__',
      'toString',
    ]) {
      const error = refusal(() => guardBridgeParams(E2EE_BRIDGE_NAME, method, ['ROOM1', P], HOST));
      expect(error).toBeInstanceOf(E2EEArgumentError);
      expect(error.message).not.toContain(method);
    }
  });

  it('needs a real host app id', () => {
    expect(() => guardBridgeParams(E2EE_BRIDGE_NAME, 'doIsAuthorized', ['ROOM1', P], '')).toThrow(E2EEArgumentError);
    expect(() => guardBridgeParams(E2EE_BRIDGE_NAME, 'doIsAuthorized', ['ROOM1', P], P)).toThrow(E2EEArgumentError);
  });
});

// Every method of every upstream bridge that takes an app id, with the shape the table gives it.
const WITH_APP_ID: Array<[string, string, number, number, boolean, string | undefined]> = [];
const WITHOUT_APP_ID: Array<[string, string, number]> = [];
for (const [bridge, methods] of Object.entries(BRIDGE_METHODS)) {
  if (bridge === E2EE_BRIDGE_NAME) continue;
  for (const [method, signature] of Object.entries(methods)) {
    const position = callerPosition(bridge, method);
    if (position)
      WITH_APP_ID.push([bridge, method, signature.length, position.index, position.optional, position.field]);
    else WITHOUT_APP_ID.push([bridge, method, signature.length]);
  }
}

describe('finding 4: an app naming another app on any other bridge', () => {
  const positional = WITH_APP_ID.filter(([, , , , , field]) => field === undefined);
  const required = positional.filter(([, , , , optional]) => !optional);

  it('knows the app-id position of the methods the findings name', () => {
    const at = (bridge: string, method: string) => callerPosition(bridge, method);
    expect(at('getMessageBridge', 'doGetById')).toEqual({ index: 1, optional: false });
    expect(at('getMessageBridge', 'doCreate')).toEqual({ index: 1, optional: false });
    expect(at('getMessageBridge', 'doUpdate')).toEqual({ index: 1, optional: false });
    expect(at('getRoomBridge', 'doGetById')).toEqual({ index: 1, optional: false });
    expect(at('getRoomBridge', 'doGetMessages')).toEqual({ index: 2, optional: false });
    expect(at('getRoomBridge', 'doGetUnreadByUser')).toEqual({ index: 3, optional: false });
    expect(at('getThreadBridge', 'doGetById')).toEqual({ index: 1, optional: false });
    // not always last: upstream puts the app id before optional arguments, or first
    expect(at('getUserBridge', 'doCreate')).toEqual({ index: 1, optional: false });
    expect(at('getLivechatBridge', 'doCreateRoom')).toEqual({ index: 2, optional: false });
    expect(at('getLivechatBridge', 'do_fetchLivechatRoomMessages')).toEqual({ index: 0, optional: false });
    expect(at('getUserBridge', 'doDeleteUsersCreatedByApp')).toEqual({ index: 0, optional: false });
    expect(at('getUserBridge', 'doGetAppUser')).toEqual({ index: 0, optional: true });
    expect(at('getHttpBridge', 'doCall')).toEqual({ index: 0, optional: false, field: 'appId' });
  });

  it.each([
    ['getMessageBridge', 'doGetById', ['M1', VICTIM]],
    ['getMessageBridge', 'doCreate', [{ room: { id: 'R1' }, type: 'e2e' }, VICTIM]],
    ['getMessageBridge', 'doUpdate', [{ id: 'M1', type: 'e2e' }, VICTIM]],
    ['getRoomBridge', 'doGetById', ['R1', VICTIM]],
    ['getRoomBridge', 'doGetMessages', ['R1', { limit: 10 }, VICTIM]],
    ['getRoomBridge', 'doGetUnreadByUser', ['R1', 'u1', { limit: 10 }, VICTIM]],
    ['getThreadBridge', 'doGetById', ['M1', VICTIM]],
    ['getPersistenceBridge', 'doReadById', ['record', VICTIM]],
    ['getUserBridge', 'doCreate', [{ username: 'x' }, VICTIM, {}]],
    ['getHttpBridge', 'doCall', [{ appId: VICTIM, method: 'get', url: 'https://example.com', request: {} }]],
  ])('refuses %s:%s naming the victim', (bridge, method, params) => {
    const error = refusal(() => guardBridgeParams(bridge, method, params, HOST));
    expect(error).toBeInstanceOf(BridgeCallerError);
    expect((error as BridgeCallerError).code).toBe('APPS_BRIDGE_CALLER_REFUSED');
    expect(error.message).not.toContain(VICTIM);
  });

  describe.each(positional)('%s:%s', (bridge, method, arity, index, optional) => {
    const guard = (params: unknown[]) => guardBridgeParams(bridge, method, params, HOST);

    it('binds the placeholder to the host app', () => {
      expect(guard(honest(arity, index))[index]).toBe(HOST);
    });

    it("binds the runtime's own id (upstream's Deno accessors send it) to the host app", () => {
      expect(guard(honest(arity, index, HOST))).toEqual(honest(arity, index, HOST));
    });

    it('accepts trailing optional arguments left out', () => {
      expect(guard(honest(arity, index).slice(0, index + 1))[index]).toBe(HOST);
    });

    it.each([
      ['the victim', VICTIM],
      ['an operator object', { $ne: null }],
      ['a number', 7],
      ['an array', [HOST]],
      ['an empty string', ''],
    ])('refuses %s at the app-id index', (_case, value) => {
      const error = refusal(() => guard(honest(arity, index, value)));
      expect(error).toBeInstanceOf(BridgeCallerError);
      expect(error.message).not.toContain(VICTIM);
    });

    it('refuses more arguments than the method takes', () => {
      expect(() => guard([...honest(arity, index), VICTIM])).toThrow(BridgeCallerError);
    });

    if (optional) {
      it('binds an absent optional app id to the host app', () => {
        expect(guard(filler(index))[index]).toBe(HOST);
        expect(guard(honest(arity, index, null))[index]).toBe(HOST);
      });
    } else {
      it('refuses a call without the app id', () => {
        expect(() => guard(filler(index))).toThrow(BridgeCallerError);
      });
    }
  });

  it('has a positional app id on nearly every method', () => {
    expect(required.length).toBeGreaterThan(100);
  });

  describe.each(WITH_APP_ID.filter(([, , , , , field]) => field !== undefined))(
    '%s:%s (app id inside its argument)',
    (bridge, method, arity, index, _optional, field) => {
      const request = (appId: unknown) => {
        const params = filler(arity);
        params[index] = { [field as string]: appId, url: 'https://example.com' };
        return params;
      };

      it('binds the field to the host app without touching the request', () => {
        for (const appId of [HOST, P]) {
          const params = request(appId);
          const out = guardBridgeParams(bridge, method, params, HOST);
          expect(out[index]).toEqual({ [field as string]: HOST, url: 'https://example.com' });
          expect((params[index] as Record<string, unknown>)[field as string]).toBe(appId);
        }
      });

      it('refuses the victim, a missing field or a non-object', () => {
        for (const params of [
          request(VICTIM),
          request(undefined),
          request({ $ne: null }),
          [null],
          ['x'],
          [[{ appId: HOST }]],
        ]) {
          expect(() => guardBridgeParams(bridge, method, params, HOST)).toThrow(BridgeCallerError);
        }
      });
    },
  );

  describe.each(WITHOUT_APP_ID)('%s:%s (takes no app id)', (bridge, method, arity) => {
    it('passes its arguments on as upstream does', () => {
      const params = filler(arity);
      expect(guardBridgeParams(bridge, method, params, HOST)).toEqual(params);
    });

    it('refuses more arguments than the method takes', () => {
      expect(() => guardBridgeParams(bridge, method, [...filler(arity), VICTIM], HOST)).toThrow(BridgeCallerError);
    });
  });

  it('fails closed for methods and bridges it does not know', () => {
    const unknown: Array<[string, string]> = [
      ['getMessageBridge', 'doGetByIdAs'],
      ['getMessageBridge', 'doSomethingNew'],
      ['getRoomBridge', 'constructor'],
      ['getRoomBridge', '__proto__'],
      ['getRoomBridge', 'hasOwnProperty'],
      ['getSomeFutureBridge', 'doGetById'],
      ['constructor', 'doGetById'],
      ['__proto__', 'doGetById'],
      ['toString', 'doCall'],
    ];
    for (const [bridge, method] of unknown) {
      const error = refusal(() => guardBridgeParams(bridge, method, ['M1', P], HOST));
      expect(error).toBeInstanceOf(BridgeCallerError);
      expect(error.message).not.toContain(method);
    }
  });

  it.each(Object.entries(HOST_ONLY_BRIDGES))('refuses the host-only %s from a runtime', (bridge) => {
    expect(() => guardBridgeParams(bridge, 'doAppStatusChanged', [{ getID: VICTIM }, 'enabled'], HOST)).toThrow(
      BridgeCallerError,
    );
    expect(() => guardBridgeParams(bridge, 'doActionsChanged', [], HOST)).toThrow(BridgeCallerError);
  });

  it('refuses a request whose params are not an array', () => {
    expect(() => guardBridgeParams('getMessageBridge', 'doGetById', 'M1' as unknown as unknown[], HOST)).toThrow(
      BridgeCallerError,
    );
  });

  it('needs a real host app id', () => {
    for (const host of ['', P, undefined, 42]) {
      expect(() => guardBridgeParams('getMessageBridge', 'doGetById', ['M1', P], host as string)).toThrow(
        BridgeCallerError,
      );
    }
  });
});
