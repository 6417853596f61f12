// Runs TypeDoc over the facade (typedoc.json) and fails on any warning or error that is not a
// known finding. scripts/api-docs.known lists the findings that predate this check, one TypeDoc
// message a line: each must go (document the export, stop exposing the binding's type) and
// then leave the list, which is why a known finding that no longer appears fails the run too.
// With an empty list this is TypeDoc's own --treatWarningsAsErrors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'rc-e2ee-api-')) : join(root, 'docs', 'api');
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');

const run = spawnSync(process.execPath, [typedoc, '--out', out, '--logLevel', 'Warn'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
});
if (check) rmSync(out, { recursive: true, force: true });
if (run.error) throw run.error;

// eslint-disable-next-line no-control-regex -- TypeDoc may still colour its output
const plain = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
const findings = plain
  .split('\n')
  .map((line) => /^\[(warning|error)\] (.*)$/.exec(line.trim()))
  .filter((match) => match !== null && !/^Found \d+ errors? and \d+ warnings?$/.test(match[2]))
  .map((match) => `${match[1]}: ${match[2]}`);

const known = new Set(
  readFileSync(join(root, 'scripts', 'api-docs.known'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#')),
);
const fresh = findings.filter((finding) => !known.has(finding));
const gone = [...known].filter((finding) => !findings.includes(finding));

for (const finding of fresh) console.error(`api-docs: ${finding}`);
for (const finding of gone) console.error(`api-docs: fixed, delete it from scripts/api-docs.known: ${finding}`);
if (run.status !== 0 && fresh.length === 0) process.stderr.write(plain);
const failed = run.status !== 0 || fresh.length > 0 || gone.length > 0;
const where = check ? '' : ` in ${join('docs', 'api', 'index.html')}`;
console.log(
  `api-docs: ${failed ? 'FAILED' : 'ok'}${failed ? '' : where}; ${findings.length - fresh.length} known findings, ` +
    `${fresh.length} new, ${gone.length} fixed`,
);
process.exit(failed ? 1 : 0);
