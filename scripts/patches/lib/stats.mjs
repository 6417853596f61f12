// `stats`: what each patch of a line costs in upstream's files, for the series README and for
// review: hunks, and lines added to and removed from the files upstream owns. Files a patch
// creates are counted apart (a hook-line series creates none; new code lives in the overlay).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { fileHunks } from './hunks.mjs';
import { describeCondition, patchCondition } from './layouts.mjs';
import { parsePatch } from './patchfile.mjs';
import { TARGETS, loadSeries } from './series.mjs';

/**
 * Per patch of one series, in order: `{ name, files, hunks, added, removed, created, layout }`,
 * where `files` counts the upstream files it modifies, `created` the lines of files it creates
 * and `layout` is its "Applies when:" condition as text, or '' for every layout.
 */
export function seriesStats(root, target, line) {
  const series = loadSeries(root, target, line);
  return series.names.map((name) => {
    const text = readFileSync(join(series.dir, name), 'utf8');
    const { condition } = patchCondition(parsePatch(text).messageLines);
    const row = {
      name,
      files: 0,
      hunks: 0,
      added: 0,
      removed: 0,
      created: 0,
      layout: condition ? describeCondition(condition) : '',
    };
    for (const file of fileHunks(text).values()) {
      const lines = file.hunks.flatMap((hunk) => hunk.lines);
      if (file.created) {
        row.created += lines.filter(({ op }) => op === '+').length;
        continue;
      }
      row.files += 1;
      row.hunks += file.hunks.length;
      row.added += lines.filter(({ op }) => op === '+').length;
      row.removed += lines.filter(({ op }) => op === '-').length;
    }
    return row;
  });
}

/** Sums of the counting columns (a tree gets one layout's patches, so this is an upper bound). */
export function totals(rows) {
  const sum = (key) => rows.reduce((total, row) => total + row[key], 0);
  return {
    patches: rows.length,
    hunks: sum('hunks'),
    added: sum('added'),
    removed: sum('removed'),
    created: sum('created'),
  };
}

/** A Markdown table of the rows, one line per patch and a total line. */
export function statsTable(rows) {
  const out = [
    '| patch | upstream files | hunks | lines added | lines removed | applies when |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const created = row.created > 0 ? ` (+${row.created} in created files)` : '';
    out.push(
      `| \`${row.name}\` | ${row.files} | ${row.hunks} | ${row.added}${created} | ${row.removed} | ${row.layout || 'always'} |`,
    );
  }
  const total = totals(rows);
  out.push(`| **${total.patches} patches** | | **${total.hunks}** | **${total.added}** | **${total.removed}** | |`);
  return out.join('\n');
}

/** The `stats` command: a table per series (apps-engine, then meteor) of the given lines. */
export function statsCommand(root, lines, targets = TARGETS) {
  for (const line of lines) {
    for (const target of targets) {
      const rows = seriesStats(root, target, line);
      if (rows.length === 0) continue;
      console.log(`${target} ${line}:\n\n${statsTable(rows)}\n`);
    }
  }
  return 0;
}
