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
    const header = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
    if (header) {
      hunk = { oldStart: Number(header[1]), header: line, lines: [] };
      current.hunks.push(hunk);
      continue;
    }
    if (!hunk) continue;
    if (line === '-- ' || line.startsWith('diff ') || line.startsWith('index ')) {
      hunk = null;
      continue;
    }
    const op = line[0];
    if (op === ' ' || op === '-' || op === '+') hunk.lines.push({ op, text: line.slice(1) });
    else if (line === '') hunk.lines.push({ op: ' ', text: '' }); // an editor-stripped blank context line
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
 * Applies `hunks` to `text` tolerantly. Returns `{ text }` on success, or `{ failed }`: per hunk
 * that did not match, its header, the lines it expected and the closest lines found.
 */
export function applyHunks(text, hunks) {
  let lines = text.split('\n');
  let offset = 0;
  const failed = [];
  for (const hunk of hunks) {
    const old = hunk.lines.filter(({ op }) => op !== '+');
    const expected = Math.max(0, hunk.oldStart - 1 + offset);
    let best = null;
    for (let start = 0; start < lines.length; start++) {
      const at = matchAt(old, lines, start);
      if (at && at.some((index) => index !== null) && (best === null || Math.abs(start - expected) < Math.abs(best.start - expected))) {
        best = { start, at };
      }
    }
    if (!best) {
      failed.push({ header: hunk.header, expected: old.map(({ text: line }) => line), closest: closest(old, lines) });
      continue;
    }
    const result = splice(lines, hunk.lines, best.at);
    offset += result.length - lines.length;
    lines = result;
  }
  return failed.length > 0 ? { failed } : { text: lines.join('\n') };
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

/** The new lines: matched context kept as the target has it, removed lines dropped, added lines inserted. */
function splice(lines, hunkLines, at) {
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
    if (previous !== null && /,\s*$/.test(previousText) && !/[,{(\[]\s*$/.test(lines[previous])) {
      lines[previous] = `${lines[previous]},`;
    }
    inserts.set(before, [...(inserts.get(before) ?? []), ...pending]);
    pending = [];
  };
  for (const { op, text } of hunkLines) {
    if (op === '+') {
      pending.push(text);
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
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ op: ' ', text: a[i++], old: i, new: ++j });
    else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) ops.push({ op: '+', text: b[j++], old: i });
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
