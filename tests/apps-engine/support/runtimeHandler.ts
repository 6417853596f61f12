/**
 * The `bridges:` handler of each runtime controller layout, patched by the series or as upstream
 * has it, callable on its own: the real method, on an instance holding just what it reads.
 */
import { OVERLAY, PRE_IMAGES, PatchedLoader, patchedTree, removeTree } from './patchedUpstream';
import { RUNTIME_STUBS } from './runtimeStubs';
import { runtimeControllerStandIn } from './standIns';

/** What the runtime tests run: upstream's files (pre-images given) or stand-ins (support/standIns.ts). */
export const RUNTIME_SOURCE = PRE_IMAGES
  ? `the pre-images in ${PRE_IMAGES}`
  : "a stand-in around the hook patch's own context lines";

export const LAYOUTS = [
  [
    'single-file Deno controller',
    'packages/apps/src/server/runtime/deno/AppsEngineDenoRuntime.ts',
    'DenoRuntimeSubprocessController',
  ],
  [
    'base runtime controller',
    'packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController.ts',
    'BaseRuntimeSubprocessController',
  ],
] as const;

export type BridgeHandler = (method: string, params: unknown) => Promise<any>;

/**
 * The controller class of a layout, patched by the series (default) or as upstream has it: from
 * the pre-images when they are given, else from a stand-in holding the hook's context lines.
 */
export function loadController(path: string, className: string, { patched = true } = {}): any {
  const base = PRE_IMAGES ? {} : { [path]: runtimeControllerStandIn(path, className) };
  const tree = patchedTree([path], patched ? undefined : [], base);
  try {
    return new PatchedLoader([tree, OVERLAY], RUNTIME_STUBS).load(path)[className];
  } finally {
    removeTree(tree);
  }
}

export function handlerOf(Controller: any, appId: string, bridges: object, resource: object = {}): BridgeHandler {
  const controller = Object.create(Controller.prototype);
  Object.assign(controller, {
    debug: () => undefined,
    bridges,
    appResourceBridge: resource,
    appPackage: { info: { id: appId } },
    state: 'ready',
  });
  return (method, params) =>
    controller.handleBridgeMessage({ payload: { method: `bridges:${method}`, id: 'r1', params } });
}
