/**
 * The `bridges:` handler of each runtime controller layout, patched by the series or as upstream
 * has it, callable on its own: the real method, on an instance holding just what it reads.
 */
import { OVERLAY, PRE_IMAGES, PatchedLoader, patchedTree, removeTree } from './patchedUpstream';
import { RUNTIME_STUBS } from './runtimeStubs';

export const LAYOUTS = [
  ['single-file Deno controller', 'packages/apps/src/server/runtime/deno/AppsEngineDenoRuntime.ts', 'DenoRuntimeSubprocessController'],
  ['base runtime controller', 'packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController.ts', 'BaseRuntimeSubprocessController'],
] as const;

export type BridgeHandler = (method: string, params: unknown) => Promise<any>;

/** The controller class of a layout, patched by the series (default) or as recorded upstream. */
export function loadController(path: string, className: string, { patched = true } = {}): any {
  if (!patched) return new PatchedLoader([PRE_IMAGES, OVERLAY], RUNTIME_STUBS).load(path)[className];
  const tree = patchedTree([path]);
  try {
    return new PatchedLoader([tree, OVERLAY], RUNTIME_STUBS).load(path)[className];
  } finally {
    removeTree(tree);
  }
}

export function handlerOf(Controller: any, appId: string, bridges: object, resource: object = {}): BridgeHandler {
  const controller = Object.create(Controller.prototype);
  Object.assign(controller, { debug: () => undefined, bridges, appResourceBridge: resource, appPackage: { info: { id: appId } }, state: 'ready' });
  return (method, params) => controller.handleBridgeMessage({ payload: { method: `bridges:${method}`, id: 'r1', params } });
}
