// Reads a `git format-patch` mail: its headers, commit message and per-file diffs (paths, blob
// ids, added lines). Hunks are walked by their line counts rather than by prefix so that an added
// line that happens to start with "++" or "diff --git" is never mistaken for a header.

const FROM_LINE = /^From ([0-9a-f]{40}) Mon Sep 17 00:00:00 2001$/;
const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/;
const INDEX_LINE = /^index ([0-9a-f]+)\.\.([0-9a-f]+)(?: [0-7]+)?$/;

/** The labeled lines every patch message must carry (see README "Patch header"). */
export const HEADER_LABELS = ['Why:', 'Upstream:', 'Remove when:'];

/**
 * Parses patch text (LF or not; CRs are kept so the caller can report them). Returns
 * `{ fromId, mails, subject, headerLines, messageLines, files, problems }` where line entries
 * are `{ number, text }` with 1-based line numbers and `files` are
 * `{ oldPath, newPath, path, kind, oldBlob, newBlob, addedLines, binary }`.
 */
export function parsePatch(text) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const result = {
    fromId: null,
    mails: lines.filter((line) => FROM_LINE.test(line)).length,
    subject: '',
    headerLines: [],
    messageLines: [],
    files: [],
    problems: [],
  };
  const match = FROM_LINE.exec(lines[0] ?? '');
  if (!match) {
    result.problems.push('line 1: not a git format-patch mail (no "From <id> Mon Sep 17 00:00:00 2001" line)');
    return result;
  }
  result.fromId = match[1];
  let i = readMailHeaders(lines, 1, result);
  i = readMessage(lines, i, result);
  readDiffs(lines, i, result);
  if (result.files.length === 0) result.problems.push('contains no diff');
  return result;
}

// Mail headers up to the first empty line; folded lines (leading blank) continue the previous one.
function readMailHeaders(lines, start, result) {
  let i = start;
  let name = '';
  for (; i < lines.length && lines[i] !== ''; i++) {
    result.headerLines.push({ number: i + 1, text: lines[i] });
    const folded = /^[ \t]/.test(lines[i]);
    if (!folded) name = lines[i].slice(0, lines[i].indexOf(':')).toLowerCase();
    if (name !== 'subject') continue;
    result.subject = folded ? `${result.subject} ${lines[i].trim()}` : lines[i].slice(lines[i].indexOf(':') + 1).trim();
  }
  return i + 1;
}

// The message runs to "---" (format-patch with a diffstat) or straight to the first diff
// (--no-stat, which is how export writes them).
function readMessage(lines, start, result) {
  let i = start;
  for (; i < lines.length; i++) {
    if (lines[i] === '---' || lines[i].startsWith('diff --git ')) break;
    result.messageLines.push({ number: i + 1, text: lines[i] });
  }
  while (i < lines.length && !lines[i].startsWith('diff --git ')) i++;
  return i;
}

function readDiffs(lines, start, result) {
  let i = start;
  while (i < lines.length) {
    if (lines[i].startsWith('diff --git ')) {
      i = readFileDiff(lines, i, result);
    } else if (lines[i] === '-- ') {
      result.problems.push(`line ${i + 1}: has an email signature (export with --no-signature)`);
      return;
    } else {
      result.problems.push(`line ${i + 1}: unexpected text outside a diff: ${JSON.stringify(lines[i])}`);
      return;
    }
  }
}

function readFileDiff(lines, start, result) {
  const [aPath, bPath] = splitDiffGitLine(lines[start].slice('diff --git '.length));
  const file = {
    oldPath: aPath,
    newPath: bPath,
    kind: 'modified',
    oldBlob: null,
    newBlob: null,
    addedLines: [],
    binary: false,
  };
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('diff --git ') || HUNK_HEADER.test(line) || line === 'GIT binary patch') break;
    readExtendedHeader(line, file);
  }
  while (i < lines.length && !lines[i].startsWith('diff --git ') && lines[i] !== '-- ') {
    if (lines[i] === 'GIT binary patch') {
      file.binary = true;
      i = skipBinary(lines, i + 1);
    } else if (HUNK_HEADER.test(lines[i])) {
      i = readHunk(lines, i, file, result);
    } else if (lines[i].startsWith('\\ ')) {
      i++; // "\ No newline at end of file" after the last hunk line
    } else {
      result.problems.push(
        `line ${i + 1}: unexpected text in the diff of ${file.newPath}: ${JSON.stringify(lines[i])}`,
      );
      i++;
    }
  }
  file.path = file.kind === 'deleted' ? file.oldPath : file.newPath;
  result.files.push(file);
  return i;
}

function readExtendedHeader(line, file) {
  let match;
  if (line.startsWith('new file mode ')) file.kind = 'created';
  else if (line.startsWith('deleted file mode ')) file.kind = 'deleted';
  else if (line.startsWith('rename from ')) {
    file.kind = 'renamed';
    file.oldPath = unquote(line.slice(12));
  } else if (line.startsWith('rename to ')) file.newPath = unquote(line.slice(10));
  else if (line.startsWith('copy from ')) {
    file.kind = 'copied';
    file.oldPath = unquote(line.slice(10));
  } else if (line.startsWith('copy to ')) file.newPath = unquote(line.slice(8));
  else if ((match = INDEX_LINE.exec(line))) {
    file.oldBlob = match[1];
    file.newBlob = match[2];
  } else if (line.startsWith('--- ')) file.oldPath = diffSidePath(line.slice(4), file.oldPath);
  else if (line.startsWith('+++ ')) file.newPath = diffSidePath(line.slice(4), file.newPath);
}

function readHunk(lines, start, file, result) {
  const [, oldCount = '1', newCount = '1'] = HUNK_HEADER.exec(lines[start]);
  let oldLeft = Number(oldCount);
  let newLeft = Number(newCount);
  let i = start + 1;
  for (; i < lines.length && (oldLeft > 0 || newLeft > 0); i++) {
    const line = lines[i];
    const marker = line[0];
    if (marker === ' ') {
      oldLeft--;
      newLeft--;
    } else if (marker === '-') oldLeft--;
    else if (marker === '+') {
      newLeft--;
      file.addedLines.push({ number: i + 1, text: line.slice(1) });
    } else if (marker === '\\') continue;
    else {
      const hint =
        line === '' ? ' (an empty context line: was the patch saved by an editor that strips trailing spaces?)' : '';
      result.problems.push(`line ${i + 1}: hunk of ${file.newPath} ends early${hint}`);
      return i;
    }
  }
  if (oldLeft > 0 || newLeft > 0) result.problems.push(`hunk of ${file.newPath} at line ${start + 1} is truncated`);
  return i;
}

// A binary patch is two base85 blocks, each ended by an empty line.
function skipBinary(lines, start) {
  let i = start;
  let blocks = 0;
  for (; i < lines.length && blocks < 2; i++) if (lines[i] === '') blocks++;
  return i;
}

// "--- a/path" or "--- /dev/null"; git appends a TAB when the name contains a space.
function diffSidePath(text, fallback) {
  const name = text.replace(/\t$/, '');
  if (name === '/dev/null') return fallback;
  return stripPrefix(unquote(name));
}

/**
 * Splits the "a/x b/x" part of a "diff --git" line. Without renames both halves name the same
 * path, which resolves the ambiguity of unquoted paths containing " b/".
 */
function splitDiffGitLine(rest) {
  if (rest.startsWith('"')) {
    const end = closingQuote(rest);
    return [stripPrefix(unquote(rest.slice(0, end + 1))), stripPrefix(unquote(rest.slice(end + 2)))];
  }
  if (rest.endsWith('"')) {
    const begin = rest.lastIndexOf(' "');
    return [stripPrefix(rest.slice(0, begin)), stripPrefix(unquote(rest.slice(begin + 1)))];
  }
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest.slice(2, half) === rest.slice(half + 3)) {
    return [rest.slice(2, half), rest.slice(half + 3)];
  }
  const split = rest.indexOf(' b/');
  return [stripPrefix(rest.slice(0, split)), stripPrefix(rest.slice(split + 1))];
}

function closingQuote(text) {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

function stripPrefix(path) {
  return path.replace(/^[ab]\//, '');
}

const ESCAPES = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** Undoes git's C-style quoting of unusual paths (core.quotePath), including octal UTF-8 bytes. */
export function unquote(text) {
  if (!text.startsWith('"') || !text.endsWith('"')) return text;
  const bytes = [];
  const body = text.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      bytes.push(...Buffer.from(body[i], 'utf8'));
    } else if (/[0-7]/.test(body[i + 1] ?? '')) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(ESCAPES[body[i + 1]] ?? body.charCodeAt(i + 1));
      i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Labels from HEADER_LABELS that no message line carries with a value. */
export function missingHeaderLabels(messageLines) {
  return HEADER_LABELS.filter(
    (label) => !messageLines.some(({ text }) => text.startsWith(label) && text.slice(label.length).trim() !== ''),
  );
}
