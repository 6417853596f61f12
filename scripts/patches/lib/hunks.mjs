// Tolerant hunk matching: finds where each hunk of a patch belongs in a text that is not the
// patch's exact pre-image, and applies it there. Lines are compared after normalizing whitespace,
// quotes and trailing separators; blank lines and `//` comment lines of the patch are optional
// (a reformatted file, or a compiled declaration, may lack them). Used where git cannot help:
// building the series' definitions on the published package's declarations
// (examples/scripts/build-definitions.mjs), and to say, per hunk, which lines a checkout has
// closest to what a patch expected.

/** The hunks of every file of a patch: Map(path -> { created, hunks: [{ oldStart, header, lines }] }). */
export function fileHunks(patchText) {
  const files = new Map();
  let current = null;
  let hunk = null;
  for (const line of patchText.split('\n')) {
    const diff = /^diff --git a\/(\S+) b\/(\S+)$/.exec(line);
    if (diff) {
      current = { created: false, hunks: [] };
      files.set(diff[2], current);
      hunk = null;
      continue;
    }
    if (!current) continue;
    if (line.startsWith('new file mode')) current.created = true;
    if (line.startsWith('deleted file mode')) current.deleted = true;
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
    if (header) {
      hunk = {
        oldStart: Number(header[1]),
        header: line,
        lines: [],
        oldLeft: Number(header[2] ?? 1),
        newLeft: Number(header[3] ?? 1),
      };
      current.hunks.push(hunk);
      continue;
    }
    if (!hunk || (hunk.oldLeft <= 0 && hunk.newLeft <= 0)) continue; // the header's counts say where a hunk ends
    let op = line[0];
    let text = line.slice(1);
    if (line === '') [op, text] = [' ', '']; // an editor-stripped blank context line
    if (op !== ' ' && op !== '-' && op !== '+') continue;
    hunk.lines.push({ op, text });
    if (op !== '+') hunk.oldLeft--;
    if (op !== '-') hunk.newLeft--;
  }
  for (const file of files.values()) {
    for (const each of file.hunks) {
      delete each.oldLeft;
      delete each.newLeft;
    }
  }
  return files;
}

export function normalize(text) {
  return text.trim().replace(/\s+/g, ' ').replace(/"/g, "'").replace(/[,;]$/, '');
}

const isOptional = (text) => text.trim() === '' || text.trim().startsWith('//');

/**
 * Where the old side of a hunk (context and removed lines) matches `lines` starting at `start`:
 * an array giving, per old line, its index in `lines` or null (an optional line that is absent),
 * or null when it does not match there.
 */
function matchAt(old, lines, start) {
  const at = [];
  let j = start;
  for (const { text } of old) {
    const wanted = normalize(text);
    if (text.trim() === '') {
      if (j < lines.length && lines[j].trim() === '') at.push(j++);
      else at.push(null);
      continue;
    }
    while (j < lines.length && lines[j].trim() === '') j++;
    if (j < lines.length && normalize(lines[j]) === wanted) at.push(j++);
    else if (isOptional(text)) at.push(null);
    else return null;
  }
  return at;
}

/** How many old lines match from `start` on, in order, before the first mismatch (for reports). */
function matchedPrefix(old, lines, start) {
  let count = 0;
  let j = start;
  for (const { text } of old) {
    if (isOptional(text)) continue;
    while (j < lines.length && lines[j].trim() === '') j++;
    if (j < lines.length && normalize(lines[j]) === normalize(text)) {
      count++;
      j++;
    } else break;
  }
  return count;
}

/**
 * Applies `hunks` to `text` tolerantly. Returns `{ text, placed }` on success (placed: per hunk,
 * 'context' or, with `oneSided`, 'preceding' / 'following' for an insertion placed by the context
 * on one side only, the other side having changed upstream), or `{ failed }`: per hunk that did
 * not match, its header, the lines it expected and the closest lines found. With `reindent`,
 * added lines take the target's indentation style (tabs or 4 spaces) when the matched context
 * shows the file was reformatted.
 */
export function applyHunks(text, hunks, { oneSided = false, reindent = false } = {}) {
  let lines = text.split('\n');
  let offset = 0;
  const failed = [];
  const placed = [];
  for (const hunk of hunks) {
    const expected = Math.max(0, hunk.oldStart - 1 + offset);
    let found = locate(hunk.lines, lines, expected, false);
    let how = 'context';
    if (!found && oneSided) {
      const sides = oneSidedHunks(hunk.lines);
      for (const [side, sideLines] of sides) {
        // One side is trusted only with a line that says something (a lone "}" could be anywhere).
        if (!sideLines.some(({ op, text }) => op !== '+' && !isOptional(text) && /\w{3}/.test(text))) continue;
        found = locate(sideLines, lines, expected, true);
        if (found) {
          how = side;
          found.hunkLines = sideLines;
          break;
        }
      }
    }
    if (!found) {
      const old = hunk.lines.filter(({ op }) => op !== '+');
      failed.push({ header: hunk.header, expected: old.map(({ text: line }) => line), closest: closest(old, lines) });
      continue;
    }
    const result = splice(lines, found.hunkLines ?? hunk.lines, found.at, reindent);
    offset += result.length - lines.length;
    lines = result;
    placed.push(how);
  }
  return failed.length > 0 ? { failed } : { text: lines.join('\n'), placed };
}

/** The best match of a hunk's old side: the one nearest `expected`, or with `unique` the only one. */
function locate(hunkLines, lines, expected, unique) {
  const old = hunkLines.filter(({ op }) => op !== '+');
  if (!old.some(({ text }) => !isOptional(text))) return null;
  // Matches that differ only in which optional (blank) lines they took are one place.
  const key = (at) => at.filter((_, i) => !isOptional(old[i].text)).join(',');
  const matches = [];
  for (let start = 0; start < lines.length; start++) {
    const at = matchAt(old, lines, start);
    if (at && at.some((index) => index !== null) && !matches.some((m) => key(m.at) === key(at)))
      matches.push({ start, at });
  }
  if (matches.length === 0 || (unique && matches.length > 1)) return null;
  return matches.reduce((best, m) => (Math.abs(m.start - expected) < Math.abs(best.start - expected) ? m : best));
}

/** For an insertion-only hunk with one block of added lines: the hunk with only its preceding, then only its following context. */
function oneSidedHunks(hunkLines) {
  if (hunkLines.some(({ op }) => op === '-')) return [];
  const first = hunkLines.findIndex(({ op }) => op === '+');
  let last = hunkLines.length - 1;
  while (last >= 0 && hunkLines[last].op !== '+') last--;
  if (first === -1 || hunkLines.slice(first, last + 1).some(({ op }) => op !== '+')) return [];
  return [
    ['preceding', hunkLines.slice(0, last + 1)],
    ['following', hunkLines.slice(first)],
  ];
}

/** The lines of `text` closest to the old side of a hunk: `{ line, matched, lines }` (for reports). */
export function closestLines(oldLines, text) {
  return closest(
    oldLines.map((line) => ({ text: line })),
    text.split('\n'),
  );
}

function closest(old, lines) {
  let best = { start: 0, count: 0 };
  for (let start = 0; start < lines.length; start++) {
    const count = matchedPrefix(old, lines, start);
    if (count > best.count) best = { start, count };
  }
  const length = old.length + 2;
  return { line: best.start + 1, matched: best.count, lines: lines.slice(best.start, best.start + length) };
}

/** 'tabs' or 'spaces' when a matched context pair shows the patch and the target indent differently. */
function indentChange(hunkLines, at, lines) {
  let oldIndex = 0;
  for (const { op, text } of hunkLines) {
    if (op === '+') continue;
    const index = at[oldIndex++];
    if (index === null || text.trim() === '') continue;
    const mine = /^[ \t]*/.exec(text)[0];
    const theirs = /^[ \t]*/.exec(lines[index])[0];
    if (/^ +$/.test(mine) && /^\t+$/.test(theirs) && mine.length === 4 * theirs.length) return 'tabs';
    if (/^\t+$/.test(mine) && /^ +$/.test(theirs) && theirs.length === 4 * mine.length) return 'spaces';
    if (mine !== '' && mine === theirs) return null; // same style: nothing to convert
    // Mixed or unindented pairs (" * " inside doc comments, top-level lines) decide nothing.
  }
  return null;
}

function reindented(text, change) {
  const [, lead, rest] = /^([ \t]*)(.*)$/s.exec(text);
  if (change === 'tabs') return `${lead.replace(/ {4}/g, '\t')}${rest}`;
  if (change === 'spaces') return `${lead.replace(/\t/g, '    ')}${rest}`;
  return text;
}

/** The new lines: matched context kept as the target has it, removed lines dropped, added lines inserted. */
function splice(lines, hunkLines, at, reindent = false) {
  const change = reindent ? indentChange(hunkLines, at, lines) : null;
  const remove = new Set();
  const inserts = new Map(); // target index -> lines to insert before it
  let oldIndex = 0;
  let previous = null; // target index of the last matched old line
  let previousText = '';
  let pending = [];
  const flush = (before) => {
    if (pending.length === 0) return;
    // A patch that adds after "member," where the target has "member" (a declaration's last
    // enum member) needs the separator the patch saw.
    if (previous !== null && /,\s*$/.test(previousText) && !/[,{([]\s*$/.test(lines[previous])) {
      lines[previous] = `${lines[previous]},`;
    }
    inserts.set(before, [...(inserts.get(before) ?? []), ...pending]);
    pending = [];
  };
  for (const { op, text } of hunkLines) {
    if (op === '+') {
      pending.push(reindented(text, change));
      continue;
    }
    const index = at[oldIndex++];
    if (index === null) continue;
    flush(index);
    if (op === '-') remove.add(index);
    previous = index;
    previousText = text;
  }
  if (pending.length > 0) flush(previous === null ? 0 : previous + 1);
  const out = [];
  for (let i = 0; i <= lines.length; i++) {
    if (inserts.has(i)) out.push(...inserts.get(i));
    if (i < lines.length && !remove.has(i)) out.push(lines[i]);
  }
  return out;
}

/**
 * Hunks turning `before` into `after` (a plain LCS line diff), each with up to `context` lines of
 * context before its change and none after: enough to place an addition in a text that shares
 * only what precedes it.
 */
export function diffHunks(before, after, { context = 3 } = {}) {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ op: ' ', text: a[i++], old: i, new: ++j });
    else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j]))
      ops.push({ op: '+', text: b[j++], old: i });
    else ops.push({ op: '-', text: a[i++], old: i });
  }
  const hunks = [];
  for (let k = 0; k < ops.length; k++) {
    if (ops[k].op === ' ') continue;
    const from = Math.max(0, k - context);
    let end = k;
    while (end < ops.length && ops[end].op !== ' ') end++;
    const lines = ops.slice(from, end).map(({ op, text }) => ({ op, text }));
    const oldStart = (ops[from].op === '+' ? ops[from].old : ops[from].old) || 1;
    hunks.push({ oldStart, header: `@@ -${oldStart} @@ (derived)`, lines });
    k = end - 1;
  }
  return hunks;
}
