// Both runtime controller layouts, as the series patches them, run their real `bridges:` handler
// against recording bridges: every call reaches a bridge bound to the runtime's own app, or does
// not reach it at all. The unpatched handlers are run too, to show the findings are real there.
// Without the pre-images (CI) the handler is a stand-in: our scaffold around the upstream lines
// the hook patch carries as context, with the real patch applied to it (support/standIns.ts).
import { LAYOUTS, RUNTIME_SOURCE, handlerOf, loadController } from './support/runtimeHandler';

const HOST = '6f1d3c52-5a8e-4b7e-9a49-2f0b8f0c1e2d';
const VICTIM = '11111111-2222-3333-4444-555555555555';
// The loader runs its own copy of the overlay, so errors are matched by name and code.
const REFUSED = { name: 'BridgeCallerError', code: 'APPS_BRIDGE_CALLER_REFUSED' };
const E2EE_REFUSED = { name: 'E2EEArgumentError', code: 'E2EE_BAD_ARGUMENT' };

type Call = [string, ...unknown[]];

/** Bridges that record what reaches them, under the names the runtime looks them up by. */
function recordingBridges() {
  const calls: Call[] = [];
  const bridge = (methods: string[]) =>
    Object.fromEntries(
      methods.map((method) => [method, (...args: unknown[]) => (calls.push([method, ...args]), `${method}:ok`)]),
    );
  const message = bridge(['doGetById', 'doCreate', 'doUpdate', 'doSecret']);
  const e2ee = bridge(['doIsAuthorized', 'doDecryptMessage', 'doSendEncryptedMessage']);
  const http = bridge(['doCall']);
  const internal = bridge(['doGetUsernamesOfRoomById']);
  const activation = bridge(['doAppStatusChanged', 'doActionsChanged']);
  const resource = bridge(['doProvideSlashCommand', 'doGetSettingById']);
  const bridges = {
    getMessageBridge: () => message,
    getE2EEBridge: () => e2ee,
    getHttpBridge: () => http,
    getInternalBridge: () => internal,
    getAppActivationBridge: () => activation,
  };
  return { calls, bridges, resource };
}

describe.each(LAYOUTS)(`the %s, patched, from ${RUNTIME_SOURCE}`, (_layout, path, className) => {
  let Controller: any;

  beforeAll(() => {
    Controller = loadController(path, className);
  });

  let calls: Call[];
  let call: (method: string, params: unknown) => Promise<any>;

  beforeEach(() => {
    const recording = recordingBridges();
    calls = recording.calls;
    call = handlerOf(Controller, HOST, recording.bridges, recording.resource);
  });

  it('runs the honest call as the runtime app, whether it sends the placeholder or its own id', async () => {
    expect(await call('getMessageBridge:doGetById', ['M1', 'APP_ID'])).toMatchObject({
      type: 'success',
      result: 'doGetById:ok',
    });
    await call('getMessageBridge:doGetById', ['M1', HOST]);
    expect(calls).toEqual([
      ['doGetById', 'M1', HOST],
      ['doGetById', 'M1', HOST],
    ]);
  });

  it('finding 4: refuses a call naming another app before it reaches the bridge', async () => {
    await expect(call('getMessageBridge:doGetById', ['M1', VICTIM])).rejects.toMatchObject(REFUSED);
    await expect(call('getMessageBridge:doCreate', [{ type: 'e2e' }, VICTIM])).rejects.toMatchObject(REFUSED);
    await expect(call('getMessageBridge:doUpdate', [{ id: 'M1' }, 'APP_ID', VICTIM])).rejects.toMatchObject(REFUSED);
    await expect(
      call('getHttpBridge:doCall', [{ appId: VICTIM, method: 'get', url: 'https://example.com' }]),
    ).rejects.toMatchObject(REFUSED);
    expect(calls).toEqual([]);
  });

  it('finding 1: refuses the E2EE caller spoofing shapes, and runs the honest E2EE call', async () => {
    const message = { id: 'M1', room: { id: 'R1' } };
    for (const params of [
      [message, VICTIM, 'APP_ID'],
      [message, VICTIM, HOST],
      [message, VICTIM],
      [message, HOST],
      ['APP_ID', 'APP_ID'],
    ]) {
      await expect(call('getE2EEBridge:doDecryptMessage', params)).rejects.toMatchObject(E2EE_REFUSED);
    }
    expect(calls).toEqual([]);
    await call('getE2EEBridge:doDecryptMessage', [message, 'APP_ID']);
    expect(calls).toEqual([['doDecryptMessage', message, HOST]]);
  });

  it('binds the app id inside the HTTP request object', async () => {
    await call('getHttpBridge:doCall', [{ appId: HOST, method: 'get', url: 'https://example.com' }]);
    expect(calls).toEqual([['doCall', { appId: HOST, method: 'get', url: 'https://example.com' }]]);
  });

  it('refuses methods and bridges the table does not know, even when the bridge has them', async () => {
    await expect(call('getMessageBridge:doSecret', ['M1', 'APP_ID'])).rejects.toMatchObject(REFUSED);
    await expect(call('getAppActivationBridge:doAppStatusChanged', [{ id: VICTIM }, 'disabled'])).rejects.toMatchObject(
      REFUSED,
    );
    await expect(call('getAppActivationBridge:doActionsChanged', [])).rejects.toMatchObject(REFUSED);
    expect(calls).toEqual([]);
  });

  it('passes calls that take no app id as upstream does', async () => {
    await call('getInternalBridge:doGetUsernamesOfRoomById', ['R1']);
    expect(calls).toEqual([['doGetUsernamesOfRoomById', 'R1']]);
  });

  if (className === 'BaseRuntimeSubprocessController') {
    it('binds the app resource bridge it resolves itself', async () => {
      await expect(call('getAppResourceBridge:doGetSettingById', ['setting', VICTIM])).rejects.toMatchObject(REFUSED);
      await call('getAppResourceBridge:doGetSettingById', ['setting', 'APP_ID']);
      expect(calls).toEqual([['doGetSettingById', 'setting', HOST]]);
    });
  }
});

describe.each(LAYOUTS)(
  `the %s as upstream has it (why the hook exists), from ${RUNTIME_SOURCE}`,
  (_layout, path, className) => {
    it("finding 4 is real there: another app's id reaches the bridge", async () => {
      const { calls, bridges, resource } = recordingBridges();
      const call = handlerOf(loadController(path, className, { patched: false }), HOST, bridges, resource);
      await call('getMessageBridge:doGetById', ['M1', VICTIM]);
      await call('getE2EEBridge:doDecryptMessage', [{ id: 'M1' }, VICTIM, 'APP_ID']);
      expect(calls).toEqual([
        ['doGetById', 'M1', VICTIM],
        ['doDecryptMessage', { id: 'M1' }, VICTIM, HOST],
      ]);
    });
  },
);
