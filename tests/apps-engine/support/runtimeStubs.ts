/**
 * The upstream modules the runtime controllers and bridges import but the series does not record,
 * reduced to what the code under test touches. Everything else in those files runs for real.
 */

export class JsonRpcError {
  constructor(
    public readonly message: string,
    public readonly code: number,
    public readonly data?: unknown,
  ) {}
}

export const jsonrpc = {
  JsonRpcError,
  success: (id: unknown, result: unknown) => ({ type: 'success', id, result }),
  error: (id: unknown, error: unknown) => ({ type: 'error', id, error }),
  request: (id: unknown, method: string, params: unknown) => ({ id, method, params }),
  parseObject: (message: unknown) => message,
};

const debug = Object.assign(() => undefined, { extend: () => debug });

/** Stubs for the runtime controllers' imports, both layouts. */
export const RUNTIME_STUBS = {
  'jsonrpc-lite': jsonrpc,
  debug: { __esModule: true, default: () => debug },
  '@rocket.chat/apps-engine/definition/AppStatus': { AppStatus: {}, AppStatusUtils: { isEnabled: () => false } },
  'packages/apps/src/server/runtime/deno/LivenessManager': { LivenessManager: class {} },
  'packages/apps/src/server/runtime/deno/ProcessMessenger': { ProcessMessenger: class {} },
  'packages/apps/src/server/runtime/deno/bundler': { bundleLegacyApp: () => undefined },
  'packages/apps/src/server/runtime/deno/codec': { newDecoder: () => undefined },
  'packages/apps/src/server/runtime/base/LivenessManager': { LivenessManager: class {} },
  'packages/apps/src/server/runtime/base/ProcessMessenger': { ProcessMessenger: class {} },
  'packages/apps/src/server/runtime/base/bundler': { bundleLegacyApp: () => undefined },
  'packages/apps/src/server/runtime/base/codec': { newDecoder: () => undefined },
  'packages/apps/src/server/bridges/AppResourceBridge': {
    AppResourceBridge: { REGISTRATION_METHODS: new Set(['doProvideSlashCommand']) },
  },
  'packages/apps/src/server/logging': { AppConsole: class {} },
};

export const PERMISSION_NAMES = {
  message: { read: { name: 'message.read' }, write: { name: 'message.write' } },
  room: {
    read: { name: 'room.read' },
    write: { name: 'room.write' },
    'system-view-all': { name: 'room.system-view-all' },
  },
  threads: { read: { name: 'threads.read' } },
  e2ee: { read: { name: 'e2ee.read' }, write: { name: 'e2ee.write' } },
};

/**
 * The permission manager's boundary: which app holds which permission. The bridges and the E2EE
 * view (hostView.ts) ask it; nothing else is replaced.
 */
export function permissionStubs(grants: Record<string, string[]>) {
  const denied: Array<{ appId: string; missing: string[] }> = [];
  return {
    denied,
    stubs: {
      'packages/apps/src/server/managers/AppPermissionManager': {
        AppPermissionManager: {
          hasPermission: (appId: string, permission: { name: string }) =>
            (grants[appId] ?? []).includes(permission.name),
          notifyAboutError: (error: { appId: string; missing: string[] }) => denied.push(error),
        },
      },
      'packages/apps/src/server/permissions/AppPermissions': { AppPermissions: PERMISSION_NAMES },
      'packages/apps/src/server/errors/PermissionDeniedError': {
        PermissionDeniedError: class {
          public readonly appId: string;

          public readonly missing: string[];

          constructor({ appId, missingPermissions }: { appId: string; missingPermissions: Array<{ name: string }> }) {
            this.appId = appId;
            this.missing = missingPermissions.map(({ name }) => name);
          }
        },
      },
      'packages/apps/src/server/bridges/BaseBridge': { BaseBridge: class {} },
      '@rocket.chat/apps-engine/definition/rooms/IGetMessagesOptions': { GetMessagesSortableFields: ['createdAt'] },
    },
  };
}
