// The bridge caller table (overlay e2ee/bridgeCallerTable.ts) against the bridge sources: every
// public do* method of every bridge the runtime can reach is listed with its parameters as the
// source declares them, or its bridge is host-only. Sources: the recorded pre-images of the 8.8
// series (AppBridges as patched, the message, room and thread bridges), our E2EEBridge, and, when
// RC_E2EE_UPSTREAM_BRIDGES names a Rocket.Chat checkout's packages/apps/src/server/bridges
// folder, every bridge in it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

import {
  BRIDGE_METHODS,
  HOST_ONLY_BRIDGES,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/bridgeCallerTable';
import {
  NEEDS_PRE_IMAGES,
  OVERLAY,
  PRE_IMAGES,
  patchedTree,
  removeTree,
  withPreImages,
} from './support/patchedUpstream';

const BRIDGES = 'packages/apps/src/server/bridges';

interface Parameter {
  name: string;
  optional: boolean;
  type: string;
}

interface SourceFile {
  /** Public do* methods per class or interface name. */
  methods: Map<string, Map<string, Parameter[]>>;
  /** AppBridges getters: getter name -> the type it returns. */
  getters: Map<string, string>;
  /** Interfaces that declare an `appId` property. */
  carriesAppId: Set<string>;
}

function parse(file: string): SourceFile {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: SourceFile = { methods: new Map(), getters: new Map(), carriesAppId: new Set() };
  const isHidden = (node: ts.Node) =>
    (ts.getCombinedModifierFlags(node as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !==
    0;
  const visit = (node: ts.Node): void => {
    if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) && node.name) {
      const methods = new Map<string, Parameter[]>();
      for (const member of node.members) {
        const name = member.name && ts.isIdentifier(member.name) ? member.name.text : undefined;
        if (!name) continue;
        if (ts.isPropertySignature(member) && name === 'appId') out.carriesAppId.add(node.name.text);
        if (!(ts.isMethodDeclaration(member) || ts.isMethodSignature(member)) || isHidden(member)) continue;
        if (name.startsWith('get') && name.endsWith('Bridge') && member.type)
          out.getters.set(name, member.type.getText(source));
        if (!name.startsWith('do')) continue;
        methods.set(
          name,
          member.parameters.map((parameter) => ({
            name: ts.isIdentifier(parameter.name) ? parameter.name.text : '_',
            optional: parameter.questionToken !== undefined || parameter.initializer !== undefined,
            type: parameter.type?.getText(source) ?? '',
          })),
        );
      }
      out.methods.set(node.name.text, methods);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** What the caller rule reads from a signature: where the app id is and what may be left out. */
function tableShape(signature: ReadonlyArray<string>): string[] {
  return signature.map((parameter) => {
    if (parameter === 'appId' || parameter === 'appId?') return parameter;
    if (parameter.endsWith('.appId')) return 'field appId';
    return parameter.endsWith('?') ? '?' : '_';
  });
}

function sourceShape(parameters: Parameter[], carriesAppId: Set<string>): string[] {
  return parameters.map(({ name, optional, type }) => {
    if (name === 'appId') return optional ? 'appId?' : 'appId';
    if (carriesAppId.has(type)) return 'field appId';
    return optional ? '?' : '_';
  });
}

/**
 * Checks every bridge the getters reach against the table; `exactNames` also compares parameter
 * names (the series' own pre-images), where other versions may have renamed a parameter.
 */
function problemsOf(getters: Map<string, string>, sources: SourceFile[], exactNames: boolean): string[] {
  const problems: string[] = [];
  const carriesAppId = new Set(sources.flatMap(({ carriesAppId: names }) => [...names]));
  for (const [getter, type] of getters) {
    if (getter in HOST_ONLY_BRIDGES) continue;
    const source = sources.find(({ methods }) => methods.has(type));
    if (!source) continue; // no source for this bridge here
    const listed = BRIDGE_METHODS[getter];
    if (!listed) {
      problems.push(`${getter} (${type}) is neither in BRIDGE_METHODS nor in HOST_ONLY_BRIDGES`);
      continue;
    }
    for (const [method, parameters] of source.methods.get(type) ?? []) {
      const signature = listed[method];
      if (!signature) {
        problems.push(`${getter}:${method} is not listed`);
        continue;
      }
      const expected = sourceShape(parameters, carriesAppId);
      if (JSON.stringify(tableShape(signature)) !== JSON.stringify(expected)) {
        problems.push(
          `${getter}:${method} is listed as [${signature.join(', ')}], the source declares [${expected.join(', ')}]`,
        );
      }
      const names = parameters.map(({ name }) => name);
      const tableNames = signature.map((parameter) => parameter.replace(/(\.appId|\?)$/, ''));
      if (exactNames && JSON.stringify(tableNames) !== JSON.stringify(names)) {
        problems.push(
          `${getter}:${method} names its parameters [${tableNames.join(', ')}], the source [${names.join(', ')}]`,
        );
      }
    }
  }
  return problems;
}

describe('the bridge caller table', () => {
  let appBridges: SourceFile;
  let recorded: SourceFile[];
  const ours = (): SourceFile => parse(join(OVERLAY, BRIDGES, 'E2EEBridge.ts'));

  beforeAll(() => {
    // Upstream's bridges are not in the repository: they are read from the pre-images when given.
    if (!PRE_IMAGES) return;
    // AppBridges as the series leaves it (with getE2EEBridge).
    const tree = patchedTree([`${BRIDGES}/AppBridges.ts`]);
    try {
      appBridges = parse(join(tree, BRIDGES, 'AppBridges.ts'));
    } finally {
      removeTree(tree);
    }
    const dir = PRE_IMAGES;
    recorded = ['MessageBridge', 'RoomBridge', 'ThreadBridge'].map((name) => parse(join(dir, BRIDGES, `${name}.ts`)));
  });

  it('matches our E2EE bridge, method by method', () => {
    const source = ours();
    expect(problemsOf(new Map([['getE2EEBridge', 'E2EEBridge']]), [source], true)).toEqual([]);
    expect([...source.methods.values()].some((methods) => methods.size > 0)).toBe(true);
  });

  withPreImages(
    `matches the pre-images of the message, room and thread bridges, method by method ${NEEDS_PRE_IMAGES}`,
    () => {
      expect(problemsOf(appBridges.getters, [...recorded, ours()], true)).toEqual([]);
      // The sources really were read: every bridge above has methods, and all of them are checked.
      for (const source of recorded)
        expect([...source.methods.values()].some((methods) => methods.size > 0)).toBe(true);
    },
  );

  withPreImages(`decides every bridge of AppBridges: listed, or host-only ${NEEDS_PRE_IMAGES}`, () => {
    const undecided = [...appBridges.getters.keys()].filter(
      (getter) => !(getter in BRIDGE_METHODS) && !(getter in HOST_ONLY_BRIDGES),
    );
    expect(undecided).toEqual([]);
    expect(appBridges.getters.get('getE2EEBridge')).toBe('E2EEBridge');
  });

  it('would notice a method upstream adds, or an app id that moves', () => {
    const moved: SourceFile = {
      methods: new Map([
        [
          'MessageBridge',
          new Map([
            [
              'doGetById',
              [
                { name: 'appId', optional: false, type: 'string' },
                { name: 'messageId', optional: false, type: 'string' },
              ],
            ],
            [
              'doPin',
              [
                { name: 'messageId', optional: false, type: 'string' },
                { name: 'appId', optional: false, type: 'string' },
              ],
            ],
          ]),
        ],
      ]),
      getters: new Map(),
      carriesAppId: new Set(),
    };
    expect(problemsOf(new Map([['getMessageBridge', 'MessageBridge']]), [moved], false)).toEqual([
      'getMessageBridge:doGetById is listed as [messageId, appId], the source declares [appId, _]',
      'getMessageBridge:doPin is not listed',
    ]);
  });

  const checkout = process.env.RC_E2EE_UPSTREAM_BRIDGES;
  (checkout ? it : it.skip)('matches every bridge of the Rocket.Chat checkout in RC_E2EE_UPSTREAM_BRIDGES', () => {
    const dir = checkout as string;
    const files = readdirSync(dir).filter((name) => name.endsWith('.ts'));
    const sources = files.map((name) => parse(join(dir, name)));
    const getters = new Map([
      ...sources.flatMap(({ getters: found }) => [...found]),
      ['getAppResourceBridge', 'AppResourceBridge'],
    ]);
    expect(getters.size).toBeGreaterThan(20);
    expect(problemsOf(getters, sources, false)).toEqual([]);
  });
});
