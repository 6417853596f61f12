// The series' definitions against the published @rocket.chat/apps-engine@1.66.0: the patched and
// overlay definition files type-check together with the published ones, an app can use the
// API, the E2EE permissions stay out of the defaults, and capabilities follow the grants.
// Needs the examples' packages: npm --prefix examples ci.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as ts from 'typescript';

import { capabilitiesFrom } from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/capabilities';
import {
  E2EE_EVENTS,
  executeE2EEListener,
  executeTargetedE2EEEvent,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/listenerExecutor';
import {
  NEEDS_PRE_IMAGES,
  OVERLAY,
  patchedTree,
  preImages,
  removeTree,
  withPreImages,
} from './support/patchedUpstream';

const REPO = resolve(__dirname, '../..');

// The examples' builder is an ES module; run it as the examples' check does.
function buildDefinitions(outDir: string): void {
  execFileSync(process.execPath, [join(REPO, 'examples/scripts/build-definitions.mjs'), outDir], { stdio: 'pipe' });
}

/** A program over `file` with "@rocket.chat/apps-engine/*" mapped to `<out>/<pkg>/*` (or the published package). */
function compile(file: string, pkg: string, out = dirname(file), more: string[] = []): ts.Program {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2019,
    module: ts.ModuleKind.CommonJS,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    experimentalDecorators: true,
    types: [],
    baseUrl: out,
    paths: {
      '@rocket.chat/apps-engine/*': [
        pkg === 'published' ? join(REPO, 'examples/node_modules/@rocket.chat/apps-engine/*') : `${pkg}/*`,
      ],
    },
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
  return ts.createProgram([file, ...more], options, host);
}

function diagnosticsOf(program: ts.Program): string[] {
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

// An app written for upstream 1.66.0, with no E2EE code: it must compile against the series'
// definitions exactly as against the published ones.
const UPSTREAM_APP = `
import type { IAppAccessors, IHttp, ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import { App } from '@rocket.chat/apps-engine/definition/App';
import type { IMessage, IPostMessageSent } from '@rocket.chat/apps-engine/definition/messages';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import { AppMethod, AppPermissions } from '@rocket.chat/apps-engine/definition/metadata';

export class EchoApp extends App implements IPostMessageSent {
  constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
    super(info, logger, accessors);
  }

  public async executePostMessageSent(message: IMessage, read: IRead, _http: IHttp, _persistence: IPersistence, modify: IModify): Promise<void> {
    const original = await read.getMessageReader().getById(message.id ?? '');
    const text = original?.text ?? message.files?.[0]?.name ?? '';
    const builder = modify.getCreator().startMessage().setRoom(message.room).setText(\`echo: \${text}\`);
    await modify.getCreator().finish(builder);
  }
}

export const wanted: string[] = [AppPermissions.message.read.name, AppPermissions.message.write.name, AppMethod.EXECUTEPOSTMESSAGESENT];
`;

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
    writeFileSync(join(out, 'upstream-app.ts'), UPSTREAM_APP);
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('type-check together, with an app using the whole API', () => {
    const program = compile(join(out, 'uses.ts'), 'pkg');
    expect(diagnosticsOf(program)).toEqual([]);
    // The series' patched declarations and its overlay sources were checked, not the published ones.
    const files = program.getSourceFiles();
    const iRead = files.find((f) => f.fileName.endsWith('definition/accessors/IRead.d.ts'));
    expect(iRead?.fileName.startsWith(out)).toBe(true);
    expect(iRead?.text).toContain('getE2EEReader(): IE2EERead;');
    expect(files.some((f) => f.fileName.endsWith('definition/e2ee/IE2EERead.ts'))).toBe(true);
  });

  it('leave an app written for upstream 1.66.0 compiling as it does against the published package', () => {
    expect(diagnosticsOf(compile(join(out, 'upstream-app.ts'), 'published'))).toEqual([]);
    expect(diagnosticsOf(compile(join(out, 'upstream-app.ts'), 'pkg'))).toEqual([]);
  });

  // The classes of the 8.8 tree that implement IRead and IModify (item 4 lists the others), from
  // the pre-images with the series applied, against the series' definitions built above. Their
  // sibling modules are not recorded, so those resolve to nothing and only the class shapes count.
  withPreImages(
    `the patched host Reader and Modify implement the patched IRead and IModify ${NEEDS_PRE_IMAGES}`,
    () => {
      const accessors = 'packages/apps/src/server/accessors';
      const tree = patchedTree([
        `${accessors}/Reader.ts`,
        `${accessors}/Modify.ts`,
        'packages/apps/src/server/bridges/AppBridges.ts',
      ]);
      try {
        cpSync(join(OVERLAY, 'packages/apps'), join(tree, 'packages/apps'), { recursive: true, force: false });
        const files = [`${accessors}/Reader.ts`, `${accessors}/Modify.ts`].map((path) => join(tree, path));
        const program = compile(files[0], 'pkg', out, [files[1]]);
        const found = ts
          .getPreEmitDiagnostics(program)
          .filter((d) => d.file && files.includes(d.file.fileName) && d.code !== 2307)
          .map((d) => `${d.file?.fileName.split('/').pop()}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
        expect(found).toEqual([]);
        // The check has teeth: without its E2EE member the Reader no longer implements IRead.
        writeFileSync(
          files[0],
          readFileSync(files[0], 'utf8').replace('public getE2EEReader', 'public getE2EEReaderGone'),
        );
        const broken = ts.getPreEmitDiagnostics(compile(files[0], 'pkg', out)).map((d) => d.code);
        expect(broken).toContain(2420);
      } finally {
        removeTree(tree);
      }
    },
  );

  // Every implementer of IRead, IModify and AppBridges the tree records, the sandbox's accessor
  // objects and the test bridges included: no new diagnostics with the series, and each fails
  // again without its hook lines (scripts/patches/typecheck-implementers.mjs).
  withPreImages(
    `every patched implementer of IRead, IModify and AppBridges type-checks ${NEEDS_PRE_IMAGES}`,
    () => {
      const scratch = mkdtempSync(join(tmpdir(), 'rc-e2ee-implementers-'));
      try {
        const output = execFileSync(
          process.execPath,
          [
            join(REPO, 'scripts/patches/typecheck-implementers.mjs'),
            join(scratch, 'tree'),
            '--pre-images',
            preImages(),
          ],
          { encoding: 'utf8' },
        );
        expect(output).toContain('typecheck-implementers: OK (5 files');
        expect(output).toContain('packages/apps/base-runtime/src/lib/accessors/mod.ts');
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it('keep e2ee.read and e2ee.write out of the default permissions', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package compiled at run time, by path
    const { AppPermissions, defaultPermissions } = require(join(out, 'pkg/definition/metadata/AppPermissions.js'));
    expect(AppPermissions.e2ee).toEqual({ read: { name: 'e2ee.read' }, write: { name: 'e2ee.write' } });
    const names = (defaultPermissions as Array<{ name: string }>).map(({ name }) => name);
    expect(names).not.toContain('e2ee.read');
    expect(names).not.toContain('e2ee.write');
    expect(capabilitiesFrom(defaultPermissions)).toEqual({ read: false, write: false });
  });

  it('name the handler methods the listener executor calls', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package compiled at run time, by path
    const { AppMethod } = require(join(out, 'pkg/definition/metadata/AppMethod.js'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package compiled at run time, by path
    const { AppInterface } = require(join(out, 'pkg/definition/metadata/AppInterface.js'));
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
    await executeE2EEListener(
      'IPostE2EERoomKeyRotated',
      { room: { id: 'R' } },
      ['reader', 'writer', 'plain', 'gone'],
      (id) => (id === 'gone' ? undefined : app(id)),
      (id) => caps[id] ?? { read: true, write: true },
    );
    expect(calls).toEqual([
      'reader:checkPostE2EERoomKeyRotated',
      'reader:executePostE2EERoomKeyRotated',
      'writer:checkPostE2EERoomKeyRotated',
      'writer:executePostE2EERoomKeyRotated',
    ]);
    await expect(
      executeE2EEListener(
        'IPostMessageSent',
        {},
        [],
        () => undefined,
        () => caps.reader,
      ),
    ).rejects.toThrow();
  });

  test('an E2EE event raised through the listener manager reaches only the app it names', async () => {
    const calls: string[] = [];
    const app = (id: string) => ({
      getID: () => id,
      call: async (method: string) => {
        calls.push(`${id}:${method}`);
        return true;
      },
    });
    const entitled = () => ({ read: true, write: true });
    await executeTargetedE2EEEvent(
      'IPostE2EERoomKeyReady',
      { appId: 'b', context: { room: { id: 'R' }, kid: 'k' } },
      ['a', 'b', 'c'],
      app,
      entitled,
    );
    expect(calls).toEqual(['b:checkPostE2EERoomKeyReady', 'b:executePostE2EERoomKeyReady']);
    // An event that names nobody is refused rather than told to everyone.
    for (const data of [{ room: { id: 'R' }, kid: 'k' }, { appId: '', context: {} }, null]) {
      await expect(executeTargetedE2EEEvent('IPostE2EERoomKeyReady', data, ['a', 'b'], app, entitled)).rejects.toThrow(
        /names the app/,
      );
    }
    expect(calls).toHaveLength(2);
  });
});
