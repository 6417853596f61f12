// `rebase`: starts a new release line's series from a checkout of that release. The old line's
// series is applied with everything `apply` does against drift (git am -3, insertions beside
// upstream's kept both, whitespace-insensitive context, else a per-hunk report and the checkout
// restored), then exported as the new line, pre-images recorded from the checkout's HEAD. The
// old line's folder is left as it is; the checkout keeps the applied series (and the uncommitted
// overlay copies), as after `apply`.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

import { applyCommand } from './apply.mjs';
import { checkoutLine } from './checkout.mjs';
import { PatchesError } from './errors.mjs';
import { exportCommand } from './export.mjs';
import { resolveCommit, topLevel } from './git.mjs';
import { TARGETS, loadSeries, seriesDir } from './series.mjs';

export function rebaseCommand(checkout, { root, line: from, preImagesOut }) {
  const repo = topLevel(resolve(checkout));
  const to = checkoutLine(repo);
  if (to === null) throw new PatchesError(`cannot read the release line of ${repo} (apps/meteor/package.json)`);
  if (to === from)
    throw new PatchesError(`${repo} is already line ${from}; rebase starts a new line from an older one`);
  const sources = TARGETS.map((target) => loadSeries(root, target, from)).filter(
    (series) => series.exists && series.names.length > 0,
  );
  if (sources.length === 0) throw new PatchesError(`no patch series for line ${from} under ${root}`);
  for (const target of TARGETS) {
    const dir = seriesDir(root, target, to);
    if (existsSync(dir) && readdirSync(dir).length > 0)
      throw new PatchesError(`${dir} exists; rebase only starts a new line (remove it to start again)`);
  }
  const base = resolveCommit(repo, 'HEAD');
  applyCommand(repo, { root, line: from, forceLine: true });
  const made = [];
  try {
    for (const series of sources) {
      // Start from the old folder, so the patches of a layout this release does not have (and
      // their recorded pre-images) are kept; export rewrites everything else from the commits.
      const dir = seriesDir(root, series.target, to);
      cpSync(series.dir, dir, { recursive: true, filter: (path) => !path.endsWith('/README.md') });
      made.push(dir);
      exportCommand(repo, {
        root,
        base,
        target: series.target,
        line: to,
        forceLine: false,
        dryRun: false,
        recordPreImages: true,
        preImagesOut,
      });
    }
  } catch (error) {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  console.log(
    `rebased line ${from} onto ${repo} at ${base.slice(0, 12)} as line ${to}: review the new folders, then verify --line ${to} and check-apply --line ${to}`,
  );
}
