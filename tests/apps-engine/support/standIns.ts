/**
 * Stand-ins for upstream files the repository does not hold, for the tests that run the series'
 * hooks when no pre-images are given (CI): a scaffold of ours around the upstream lines the
 * series' own hunks carry (their context and removed lines, nothing else of upstream's file).
 * The real patch is then applied to the stand-in with `git apply`, so what runs is the patch's
 * hook lines, in upstream's own surrounding lines, with the real overlay.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SERIES, seriesPatches } from './patchedUpstream';

/** The old side (context and removed lines) of each hunk of `path`, over every series patch. */
export function oldSides(path: string): string[][] {
  const sides: string[][] = [];
  for (const name of seriesPatches()) {
    let inFile = false;
    let hunk: string[] | null = null;
    for (const line of readFileSync(join(SERIES, name), 'utf8').split('\n')) {
      if (line.startsWith('diff --git ')) {
        inFile = line === `diff --git a/${path} b/${path}`;
        hunk = null;
      } else if (inFile && line.startsWith('@@ ')) {
        hunk = [];
        sides.push(hunk);
      } else if (inFile && hunk && (line.startsWith(' ') || line.startsWith('-'))) {
        hunk.push(line.slice(1));
      }
    }
  }
  return sides;
}

/**
 * A runtime controller with upstream's `bridges:` handler lines: the hook patch's first hunk (the
 * imports around the hook's import) and second hunk (the handler from the "Invalid bridge
 * request" check to the catch), inside our scaffold that resolves the bridge and method the way
 * upstream does (the app resource bridge by the controller itself) and returns a JSON-RPC success.
 */
export function runtimeControllerStandIn(path: string, className: string): string {
  const hunks = oldSides(path);
  if (hunks.length !== 2)
    throw new Error(`expected the two hunks of the bridge hook in ${path}, found ${hunks.length}`);
  const [imports, handler] = hunks;
  if (
    !handler[0].includes("throw new Error('Invalid bridge request');") ||
    !handler[handler.length - 1].includes('this.debug(')
  ) {
    throw new Error(
      `the bridge hook hunk of ${path} no longer starts at the "Invalid bridge request" check and ends in the catch; update the stand-in`,
    );
  }
  return [
    `// Stand-in for ${path} (tests/apps-engine/support/standIns.ts): scaffold of rc-e2ee around the`,
    '// lines the series hunks carry as context.',
    "import { inspect } from 'node:util';",
    '',
    ...imports,
    '',
    `export class ${className} {`,
    '\tprivate async handleBridgeMessage({ payload: { method, id, params } }: any): Promise<any> {',
    "\t\tconst [bridgeName, bridgeMethod] = method.substring('bridges:'.length).split(':');",
    "\t\tconst bridge = bridgeName === 'getAppResourceBridge' ? () => this.appResourceBridge : this.bridges[bridgeName];",
    "\t\tconst bridgeInstance = typeof bridge === 'function' ? bridge.call(this.bridges) : undefined;",
    '\t\tconst methodRef = bridgeInstance?.[bridgeMethod];',
    "\t\tif (typeof methodRef !== 'function') {",
    ...handler,
    '\t\t\tthrow error;',
    '\t\t}',
    '',
    "\t\treturn { type: 'success', id, result };",
    '\t}',
    '}',
    '',
  ].join('\n');
}
