// Everything a reader follows resolves inside a fresh clone:
//   - every relative link in the repository's Markdown (README.md, docs/, and the READMEs under
//     tests/fixtures, examples, apps-engine-patches and scripts) names a tracked file or folder,
//     and a `#fragment` names a heading of the target (or of the same file);
//   - no tracked file but the test scripts that read CI's data beside the clone mentions a path
//     outside the repository (`../shared`, `../reference`, `/work/shared`, `/work/reference`).
// Only files git tracks or would track count (`git ls-files --cached --others --exclude-standard`):
// ignored output such as docs/api/ is not read.
// Node built-ins only. Run by scripts/test; `node scripts/check-links.mjs` alone works too.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const root = join(import.meta.dirname, '..');

// The only files allowed to name data outside the clone, and why: scripts/test reads CI's
// RustSec advisory database snapshot beside the clone (and says so where it does).
const MAY_READ_OUTSIDE = new Set(['scripts/test', 'scripts/check-links.mjs']);
const OUTSIDE = /(?:\.\.\/|\/work\/)(?:shared|reference)\b/;

const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\0')
  .filter((path) => path !== '');
const files = new Set(tracked);
const folders = new Set(
  tracked.flatMap((path) =>
    path
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);

const isReaderDoc = (path) =>
  path === 'README.md' ||
  (path.startsWith('docs/') && path.endsWith('.md')) ||
  /^(tests\/fixtures|apps-engine-patches|scripts)\/(.+\/)?README\.md$/.test(path) ||
  /^examples\/(.+\/)?README[^/]*$/.test(path);

const problems = [];
const headingsOf = new Map();

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[`*_~]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

/** Fenced blocks blanked out (lines kept, so line numbers stay right): they hold no links or headings. */
function withoutFences(text) {
  return text.replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '));
}

/** Fenced blocks and inline code blanked out: neither holds links. */
function withoutCode(text) {
  return withoutFences(text).replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

function headings(path) {
  if (!headingsOf.has(path)) {
    const seen = new Map();
    const anchors = new Set();
    for (const match of withoutFences(readFileSync(join(root, path), 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
      const base = slug(match[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of readFileSync(join(root, path), 'utf8').matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) {
      anchors.add(match[1]);
    }
    headingsOf.set(path, anchors);
  }
  return headingsOf.get(path);
}

function checkLink(from, line, target) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return; // http:, mailto:, …
  const [rawPath, fragment] = target.split('#', 2);
  const path = decodeURIComponent(rawPath);
  let resolved = from;
  if (path !== '') {
    resolved = normalize(path.startsWith('/') ? path.slice(1) : join(dirname(from), path)).replace(/\/$/, '');
    if (resolved.startsWith('..')) {
      problems.push(`${from}:${line}: link to ${target} leaves the repository`);
      return;
    }
    if (!files.has(resolved) && !folders.has(resolved) && resolved !== '.') {
      problems.push(`${from}:${line}: link to ${target}: no such file in the repository`);
      return;
    }
  }
  if (fragment !== undefined && fragment !== '' && resolved.endsWith('.md') && files.has(resolved)) {
    if (!headings(resolved).has(fragment)) problems.push(`${from}:${line}: link to ${target}: no heading #${fragment}`);
  }
}

let links = 0;
for (const path of tracked.filter(isReaderDoc)) {
  const text = withoutCode(readFileSync(join(root, path), 'utf8'));
  const lines = text.split('\n');
  lines.forEach((content, index) => {
    // Inline links and images: [text](target "title"), and reference definitions: [id]: target.
    for (const match of content.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links++;
      checkLink(path, index + 1, match[1]);
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(content);
    if (definition) {
      links++;
      checkLink(path, index + 1, definition[1]);
    }
  });
}

let scanned = 0;
for (const path of tracked) {
  if (MAY_READ_OUTSIDE.has(path)) continue;
  let text;
  try {
    text = readFileSync(join(root, path));
  } catch {
    continue; // listed in the index but absent from the work tree (being moved)
  }
  if (text.includes(0)) continue; // binary
  scanned++;
  text
    .toString('utf8')
    .split('\n')
    .forEach((content, index) => {
      if (OUTSIDE.test(content))
        problems.push(`${path}:${index + 1}: names a path outside the repository: ${content.trim()}`);
    });
}

for (const problem of problems) console.error(`check-links: ${problem}`);
console.log(
  `check-links: ${links} links in ${tracked.filter(isReaderDoc).length} documents, ${scanned} files scanned for ` +
    `outside paths: ${problems.length === 0 ? 'ok' : `${problems.length} problems`}`,
);
process.exit(problems.length === 0 ? 0 : 1);
