// The series' definitions against the published @rocket.chat/apps-engine@1.66.0: the patched and
// overlay definition files type-check together with the published ones, an app can use the
// API, the E2EE permissions stay out of the defaults, and capabilities follow the grants.
// Needs the examples' packages: npm --prefix examples ci.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ts from 'typescript';

import { capabilitiesFrom } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/capabilities';
import { E2EE_EVENTS, executeE2EEListener } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/listenerExecutor';

const REPO = resolve(__dirname, '../..');

// The examples' builder is an ES module; run it as the examples' check does.
function buildDefinitions(outDir: string): void {
  execFileSync(process.execPath, [join(REPO, 'examples/scripts/build-definitions.mjs'), outDir], { stdio: 'pipe' });
}

const USES_THE_API = `
import type { IModify, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IE2EEMessagePayload, IPostE2EERoomKeyRotated } from '@rocket.chat/apps-engine/definition/e2ee';
import { E2EE_API_VERSION } from '@rocket.chat/apps-engine/definition/e2ee';
import type { IMessage } from '@rocket.chat/apps-engine/definition/messages';
import { AppInterface, AppMethod, AppPermissions } from '@rocket.chat/apps-engine/definition/metadata';

export async function answer(message: IMessage, read: IRead, modify: IModify): Promise<string | undefined> {
  const kid: string | undefined = message.encryptedContent?.kid;
  const status: 'pending' | 'done' | undefined = message.e2e;
  if (!kid || !status || !(await read.getE2EEReader().isAuthorized(message.room.id))) {
    return undefined;
  }
  const payload: IE2EEMessagePayload = await read.getE2EEReader().decryptMessage(message);
  const history = await read.getE2EEReader().getKeyHistory(message.room.id);
  const key = await read.getE2EEReader().getEncryptedRoomKey(message.room.id, history[0]?.kid);
  await modify.getE2EE().encryptContent(message.room.id, { msg: key?.kid });
  return modify.getE2EE().sendEncryptedMessage(message.room.id, { msg: payload.msg }, { threadId: message.threadId });
}

export const names: string[] = [
  AppInterface.IPostE2EERoomKeyReady, AppInterface.IPostE2EERoomKeyRotated, AppInterface.IPostE2EEAccessRevoked,
  AppMethod.EXECUTE_POST_E2EE_ROOM_KEY_READY, AppMethod.EXECUTE_POST_E2EE_ROOM_KEY_ROTATED, AppMethod.EXECUTE_POST_E2EE_ACCESS_REVOKED,
  AppPermissions.e2ee.read.name, AppPermissions.e2ee.write.name,
];
export const version: number = E2EE_API_VERSION;
export type Rotated = IPostE2EERoomKeyRotated;
`;

describe('series definitions against @rocket.chat/apps-engine@1.66.0', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'rc-e2ee-defs-test-'));
    buildDefinitions(join(out, 'pkg'));
    writeFileSync(join(out, 'uses.ts'), USES_THE_API);
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('type-check together, with an app using the whole API', () => {
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2019,
      module: ts.ModuleKind.CommonJS,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      baseUrl: out,
      paths: { '@rocket.chat/apps-engine/*': ['pkg/*'] },
      // @rocket.chat/ui-kit (imported by IMessage) comes from the examples' packages.
      typeRoots: [],
    };
    const host = ts.createCompilerHost(options);
    const resolveFrom = join(REPO, 'examples', 'package.json');
    const defaultResolve = host.resolveModuleNames;
    host.resolveModuleNames = (names, containing) =>
      names.map((name) => {
        const from = name.startsWith('@rocket.chat/ui-kit') ? resolveFrom : containing;
        return defaultResolve
          ? defaultResolve.call(host, [name], from, undefined, undefined, options)[0]
          : ts.resolveModuleName(name, from, options, host).resolvedModule;
      });
    const program = ts.createProgram([join(out, 'uses.ts')], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    // The patched sources, not the published declarations, were checked.
    const files = program.getSourceFiles().map((f) => f.fileName);
    expect(files.some((f) => f.endsWith('definition/accessors/IRead.ts'))).toBe(true);
    expect(files.some((f) => f.endsWith('definition/e2ee/IE2EERead.ts'))).toBe(true);
  });

  it('keep e2ee.read and e2ee.write out of the default permissions', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { AppPermissions, defaultPermissions } = require(join(out, 'pkg/definition/metadata/AppPermissions.ts'));
    expect(AppPermissions.e2ee).toEqual({ read: { name: 'e2ee.read' }, write: { name: 'e2ee.write' } });
    const names = (defaultPermissions as Array<{ name: string }>).map(({ name }) => name);
    expect(names).not.toContain('e2ee.read');
    expect(names).not.toContain('e2ee.write');
    expect(capabilitiesFrom(defaultPermissions)).toEqual({ read: false, write: false });
  });

  it('name the handler methods the listener executor calls', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { AppMethod } = require(join(out, 'pkg/definition/metadata/AppMethod.ts'));
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { AppInterface } = require(join(out, 'pkg/definition/metadata/AppInterface.ts'));
    for (const [event, { check, execute }] of Object.entries(E2EE_EVENTS)) {
      expect(AppInterface[event]).toBe(event);
      expect(Object.values(AppMethod)).toEqual(expect.arrayContaining([check, execute]));
    }
  });
});

describe('capability detection', () => {
  it('follows the granted permissions, one by one', () => {
    expect(capabilitiesFrom(undefined)).toEqual({ read: false, write: false });
    expect(capabilitiesFrom([{ name: 'e2ee.read' }])).toEqual({ read: true, write: false });
    expect(capabilitiesFrom([{ name: 'e2ee.write' }, { name: 'message.read' }])).toEqual({ read: false, write: true });
    expect(capabilitiesFrom([{ name: 'e2ee.read' }, { name: 'e2ee.write' }])).toEqual({ read: true, write: true });
    expect(capabilitiesFrom([{ name: 'e2ee' }, { name: 'e2ee.*' }])).toEqual({ read: false, write: false });
  });

  it('dispatches key events only to apps holding an e2ee permission', async () => {
    const calls: string[] = [];
    const app = (id: string) => ({
      getID: () => id,
      call: async (method: string) => {
        calls.push(`${id}:${method}`);
        if (method.startsWith('check')) {
          throw Object.assign(new Error('not found'), { code: -32601 });
        }
      },
    });
    const caps: Record<string, { read: boolean; write: boolean }> = {
      reader: { read: true, write: false },
      writer: { read: false, write: true },
      plain: { read: false, write: false },
    };
    await executeE2EEListener('IPostE2EERoomKeyRotated', { room: { id: 'R' } }, ['reader', 'writer', 'plain', 'gone'], (id) => (id === 'gone' ? undefined : app(id)), (id) => caps[id] ?? { read: true, write: true });
    expect(calls).toEqual([
      'reader:checkPostE2EERoomKeyRotated',
      'reader:executePostE2EERoomKeyRotated',
      'writer:checkPostE2EERoomKeyRotated',
      'writer:executePostE2EERoomKeyRotated',
    ]);
    await expect(executeE2EEListener('IPostMessageSent', {}, [], () => undefined, () => caps.reader)).rejects.toThrow();
  });
});
