/**
 * scripts/patches end to end: the CLI runs as a child process against synthetic git repositories
 * (a fake Rocket.Chat 8.8.1 and series folders exported from it), in temp dirs. The CLI runs
 * with no git identity configured, as on a build machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

const CLI = resolve(__dirname, '../../scripts/patches/cli.mjs');

// Variables that would leak the machine's or a parent git's setup into the repositories here.
// The CLI under test must not see this machine's git settings, nor the developer's pre-images
// (check-apply reads RC_E2EE_PRE_IMAGES when given neither --pre-images nor --checkout).
const SCRUBBED =
  /^(GIT_(DIR|WORK_TREE|INDEX_FILE|PREFIX|COMMON_DIR|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|AUTHOR_.*|COMMITTER_.*|CONFIG.*)|RC_E2EE_PRE_IMAGES)$/;

let work: string;
let home: string;
let upstream: string; // the fake Rocket.Chat, at its 8.8.1 "release" commit
let baseId: string;
let seriesRoot: string; // apps-engine-patches/ and meteor-patches/ exported from a dev clone
let preImages: string; // the pre-images the fixture export wrote, outside the series

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!SCRUBBED.test(name)) env[name] = value;
  // An empty HOME and no system config: no identity, no signing, no aliases from this machine.
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
}

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Patch Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_AUTHOR_DATE: '2025-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2025-01-02T03:04:05Z',
};

/** git for the tests' own setup commits: fixed identity and dates, no signing. */
function git(cwd: string, ...args: string[]): string {
  const config = [
    '-c',
    'user.name=Test',
    '-c',
    'user.email=test@example.com',
    '-c',
    'commit.gpgsign=false',
    '-c',
    'init.defaultBranch=main',
  ];
  return execFileSync('git', [...config, ...args], { cwd, env: { ...cleanEnv(), ...IDENTITY }, encoding: 'utf8' });
}

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: cleanEnv(), encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

function read(root: string, path: string): string {
  return readFileSync(join(root, path), 'utf8');
}

function edit(root: string, path: string, change: (text: string) => string): void {
  const before = read(root, path);
  const after = change(before);
  if (after === before) throw new Error(`test edit changed nothing in ${path}`);
  write(root, path, after);
}

function tempDir(name: string): string {
  return mkdtempSync(join(work, `${name}-`));
}

/** A fresh clone of the fake Rocket.Chat, at the release commit. */
function checkout(): string {
  const dir = tempDir('rc');
  git(work, 'clone', '--quiet', upstream, dir);
  return dir;
}

/** A copy of the fixture's pre-images folder (outside any series), to damage. */
function preImagesCopy(): string {
  const dir = tempDir('pre-images');
  cpSync(preImages, dir, { recursive: true });
  return dir;
}

/** A private copy of the series folders that a test may damage. */
function seriesCopy(): string {
  const dir = tempDir('series');
  cpSync(seriesRoot, dir, { recursive: true });
  return dir;
}

/** Every file under dir as relative path -> hex bytes, for byte-exact comparisons. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (current: string): void => {
    for (const name of readdirSync(current)) {
      const full = join(current, name);
      if (statSync(full).isDirectory()) visit(full);
      else out[relative(dir, full)] = readFileSync(full).toString('hex');
    }
  };
  visit(dir);
  return out;
}

function head(repo: string): string {
  return git(repo, 'rev-parse', 'HEAD').trim();
}

function status(repo: string): string {
  return git(repo, 'status', '--porcelain').trim();
}

const I_READ = 'packages/apps-engine/src/definition/accessors/IRead.ts';
const LISTENERS = 'packages/apps/src/server/managers/AppListenerManager.ts';
const CONVERTER = 'apps/meteor/app/apps/server/converters/messages.ts';
const STARTUP = 'apps/meteor/server/startup/index.ts';
const STARTUP_HOOK = 'apps/meteor/server/startup/e2ee.ts';
const AE_OVERLAY = 'packages/apps-engine/src/definition/e2ee/IE2EERead.ts';
const METEOR_OVERLAY = 'apps/meteor/server/services/e2ee/service.ts';

const AE_NAMES = [
  'add_the_e2ee_reader_to_iread.patch',
  'dispatch_e2ee_room_key_events.patch',
  'document_the_e2ee_reader.patch',
];
const METEOR_NAMES = ['map_encryptedcontent_in_the_message_converter.patch', 'start_the_e2ee_service_at_startup.patch'];
const SUBJECTS = [
  'Add the E2EE reader to IRead',
  'Dispatch E2EE room key events',
  'Document the E2EE reader',
  'Map encryptedContent in the message converter',
  'Start the E2EE service at startup',
];

function header(why: string): string {
  return `\n\nWhy: ${why}\nUpstream: not submitted\nRemove when: Rocket.Chat ships an E2EE API for apps\n`;
}

function makeUpstream(dir: string): void {
  git(work, 'init', '--quiet', dir);
  write(dir, 'apps/meteor/package.json', '{\n  "name": "@rocket.chat/meteor",\n  "version": "8.8.1"\n}\n');
  write(dir, 'README.md', '# Rocket.Chat (fake)\n');
  write(
    dir,
    I_READ,
    [
      "import type { IEnvironmentRead } from './IEnvironmentRead';",
      "import type { IMessageRead } from './IMessageRead';",
      "import type { IPersistenceRead } from './IPersistenceRead';",
      "import type { IRoomRead } from './IRoomRead';",
      "import type { IUserRead } from './IUserRead';",
      '',
      '/**',
      ' * The IRead accessor provides methods for accessing',
      " * the Rocket.Chat's environment in a read-only-fashion.",
      ' */',
      'export interface IRead {',
      '    getEnvironmentReader(): IEnvironmentRead;',
      '',
      '    getMessageReader(): IMessageRead;',
      '',
      '    getPersistenceReader(): IPersistenceRead;',
      '',
      '    getRoomReader(): IRoomRead;',
      '',
      '    getUserReader(): IUserRead;',
      '}',
      '',
    ].join('\n'),
  );
  write(
    dir,
    LISTENERS,
    [
      'export class AppListenerManager {',
      '    public async executeListener(int: AppInterface, data: unknown): Promise<unknown> {',
      '        switch (int) {',
      '            case AppInterface.IPostMessageSent:',
      '                return this.executePostMessageSent(data);',
      '            case AppInterface.IPostRoomCreate:',
      '                return this.executePostRoomCreate(data);',
      '            default:',
      '                return undefined;',
      '        }',
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  write(
    dir,
    CONVERTER,
    [
      'export class AppMessagesConverter {',
      '    async convertMessage(msgObj) {',
      '        const map = {',
      "            id: '_id',",
      "            text: 'msg',",
      "            groupable: 'groupable',",
      "            parseUrls: 'parseUrls',",
      '        };',
      '        return transformMappedData(msgObj, map);',
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  write(dir, STARTUP, "import './appcache';\nimport './callbacks';\nimport './migrations';\n");
  git(dir, 'add', '--all');
  git(dir, 'commit', '--quiet', '-m', 'Release 8.8.1');
}

/** The series as a developer makes it: commits on a dev clone, then `export --record-pre-images`. */
function makeSeries(root: string, preImagesOut: string): void {
  const dev = checkout();
  const commit = (message: string): void => {
    git(dev, 'add', '--all');
    git(dev, 'commit', '--quiet', '-m', message);
  };
  edit(dev, I_READ, (text) =>
    text
      .replace("IUserRead';\n", "IUserRead';\nimport type { IE2EERead } from '../e2ee/IE2EERead';\n")
      .replace(
        '    getUserReader(): IUserRead;\n',
        '    getUserReader(): IUserRead;\n\n    getE2EEReader(): IE2EERead;\n',
      ),
  );
  commit(SUBJECTS[0] + header('apps need a reader for encrypted messages'));
  edit(dev, LISTENERS, (text) =>
    text.replace(
      '            default:\n',
      '            case AppInterface.IPostE2EERoomKeyRotated:\n                return this.executeE2EE(int, data);\n            default:\n',
    ),
  );
  commit(SUBJECTS[1] + header('apps learn when a room key changes'));
  edit(dev, I_READ, (text) =>
    text.replace(
      '\n    getE2EEReader',
      '\n    /** Decrypts messages of rooms the app is authorized for. */\n    getE2EEReader',
    ),
  );
  commit(SUBJECTS[2] + header('the accessor needs a doc comment'));
  edit(dev, CONVERTER, (text) =>
    text.replace(
      "            parseUrls: 'parseUrls',\n",
      "            parseUrls: 'parseUrls',\n            encryptedContent: 'content',\n",
    ),
  );
  commit(SUBJECTS[3] + header('apps see encrypted content only through the E2EE reader'));
  write(dev, STARTUP_HOOK, "import '../services/e2ee/service';\n");
  edit(dev, STARTUP, (text) => `${text}import './e2ee';\n`);
  commit(SUBJECTS[4] + header('the E2EE service must start with the server'));
  for (const target of ['apps-engine', 'meteor']) {
    const result = cli(
      'export',
      dev,
      '--base',
      baseId,
      '--target',
      target,
      '--record-pre-images',
      '--pre-images-out',
      preImagesOut,
      '--root',
      root,
    );
    if (result.status !== 0) throw new Error(`fixture export failed: ${result.stderr}`);
  }
  write(
    root,
    `apps-engine-patches/overlay/${AE_OVERLAY}`,
    'export interface IE2EERead {\n    decryptMessage(message: unknown): Promise<unknown>;\n}\n',
  );
  write(root, `meteor-patches/overlay/${METEOR_OVERLAY}`, "export const e2eeService = 'rc-e2ee';\n");
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rc-e2ee-patches-test-'));
  home = join(work, 'home');
  mkdirSync(home);
  upstream = join(work, 'upstream');
  makeUpstream(upstream);
  baseId = head(upstream);
  seriesRoot = join(work, 'series');
  preImages = join(work, 'pre-images');
  makeSeries(seriesRoot, preImages);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('export builds the fixture series', () => {
  test('names patches from subjects and writes the order files', () => {
    expect(read(seriesRoot, 'apps-engine-patches/8.8/.patches')).toBe(AE_NAMES.map((name) => `${name}\n`).join(''));
    expect(read(seriesRoot, 'meteor-patches/8.8/.patches')).toBe(METEOR_NAMES.map((name) => `${name}\n`).join(''));
    const patch = read(seriesRoot, `apps-engine-patches/8.8/${AE_NAMES[0]}`);
    expect(patch.startsWith('From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n')).toBe(true);
    expect(patch).toContain('Subject: Add the E2EE reader to IRead\n');
    expect(patch).not.toMatch(/^-- $/m);
  });

  test('records the pre-images of modified files only', () => {
    const record = JSON.parse(read(seriesRoot, 'meteor-patches/8.8/upstream.json'));
    expect(record.releaseLine).toBe('8.8');
    expect(Object.keys(record.files).sort()).toEqual([CONVERTER, STARTUP]);
    expect(record.files[CONVERTER]).toEqual({
      commit: baseId,
      blob: git(upstream, 'rev-parse', `HEAD:${CONVERTER}`).trim(),
      evidence: `read at ${baseId} by export --record-pre-images`,
    });
    // The copies go to --pre-images-out, never into the series.
    expect(read(preImages, STARTUP)).toBe(read(upstream, STARTUP));
    expect(existsSync(join(preImages, STARTUP_HOOK))).toBe(false);
    expect(existsSync(join(seriesRoot, 'meteor-patches/8.8/pre-images'))).toBe(false);
  });

  test('refuses a commit that belongs to no series', () => {
    const repo = checkout();
    write(repo, 'README.md', '# changed\n');
    git(repo, 'commit', '--quiet', '-am', 'Touch the readme');
    const result = cli('export', repo, '--base', baseId, '--target', 'apps-engine', '--root', seriesCopy());
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/README\.md, outside apps-engine's allowedPaths/);
  });

  test('refuses to empty an existing series (a wrong --base)', () => {
    const repo = checkout();
    const result = cli('export', repo, '--base', 'HEAD', '--target', 'meteor', '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('has 2 patches; wrong --base?');
  });
});

describe('apply', () => {
  test('applies Apps-Engine then Meteor patches in order and copies the overlays', () => {
    const repo = checkout();
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(git(repo, 'log', '--reverse', '--format=%s', `${baseId}..HEAD`).trim().split('\n')).toEqual(SUBJECTS);
    expect(read(repo, I_READ)).toContain(
      '    /** Decrypts messages of rooms the app is authorized for. */\n    getE2EEReader(): IE2EERead;\n',
    );
    expect(read(repo, STARTUP_HOOK)).toBe("import '../services/e2ee/service';\n");
    expect(read(repo, AE_OVERLAY)).toBe(read(seriesRoot, `apps-engine-patches/overlay/${AE_OVERLAY}`));
    expect(read(repo, METEOR_OVERLAY)).toBe(read(seriesRoot, `meteor-patches/overlay/${METEOR_OVERLAY}`));
    // Only the overlay is left uncommitted.
    expect(status(repo).split('\n').sort()).toEqual([
      '?? apps/meteor/server/services/',
      '?? packages/apps-engine/src/definition/e2ee/',
    ]);
  });

  test('works without a git identity and gives reproducible commit ids', () => {
    const first = checkout();
    const second = checkout();
    expect(cli('apply', first, '--root', seriesRoot).status).toBe(0);
    expect(cli('apply', second, '--root', seriesRoot).status).toBe(0);
    expect(head(first)).toBe(head(second));
  });

  test('refuses to overwrite an existing file with an overlay file, before applying anything', () => {
    const repo = checkout();
    write(repo, AE_OVERLAY, '// upstream already has this\n');
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', 'Upstream adds the file');
    const before = head(repo);
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`overlay file ${AE_OVERLAY}`);
    expect(result.stderr).toContain('would overwrite an existing file');
    expect(head(repo)).toBe(before);
    expect(status(repo)).toBe('');
  });

  test('fails cleanly on a conflicting upstream change, naming the patch, the file and each hunk', () => {
    const repo = checkout();
    edit(repo, I_READ, (text) =>
      text.replace('    getUserReader(): IUserRead;\n', '    getUserReaderV2(): IUserRead;\n'),
    );
    git(repo, 'commit', '--quiet', '-am', 'Upstream renames the user reader');
    const before = head(repo);
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`apply failed at apps-engine-patches/8.8/${AE_NAMES[0]} (patch 1 of 5)`);
    expect(result.stderr).toMatch(new RegExp(`files: .*${I_READ.replace(/\./g, '\\.')}`));
    // The per-hunk report: the hunk that cannot be placed, what it expected, what is closest.
    expect(result.stderr).toContain(
      `hunks of ${AE_NAMES[0]} that do not apply, even ignoring whitespace and one side of their context:`,
    );
    expect(result.stderr).toMatch(
      new RegExp(
        `${I_READ.replace(/\./g, '\\.')} @@ -\\d+,\\d+ \\+\\d+,\\d+ @@\\n      expected:\\n(        \\|.*\\n)*        \\|    getUserReader\\(\\): IUserRead;`,
      ),
    );
    expect(result.stderr).toContain('        |    getUserReaderV2(): IUserRead;');
    expect(result.stderr).toMatch(/closest in the checkout \(line \d+, \d+ of \d+ lines in order\)/);
    expect(head(repo)).toBe(before);
    expect(status(repo)).toBe('');
    expect(existsSync(join(repo, '.git/rebase-apply'))).toBe(false);
    expect(existsSync(join(repo, AE_OVERLAY))).toBe(false);
  });

  test('a conflict in the second series also rolls back the first', () => {
    const repo = checkout();
    edit(repo, CONVERTER, (text) =>
      text.replace(
        "            parseUrls: 'parseUrls',\n        };\n",
        "            urls: 'parseUrls',\n        } as const;\n",
      ),
    );
    git(repo, 'commit', '--quiet', '-am', 'Upstream rewrites the map around the hook');
    const before = head(repo);
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`meteor-patches/8.8/${METEOR_NAMES[0]} (patch 4 of 5)`);
    expect(result.stderr).toContain(CONVERTER);
    expect(head(repo)).toBe(before);
    expect(status(repo)).toBe('');
    expect(existsSync(join(repo, '.git/rebase-apply'))).toBe(false);
  });

  test('merges 3-way when upstream changed nearby lines', () => {
    const repo = checkout();
    edit(repo, I_READ, (text) =>
      text.replace(' * The IRead accessor provides methods for accessing\n', ' * The IRead accessor gives access to\n'),
    );
    git(repo, 'commit', '--quiet', '-am', 'Upstream rewords the doc comment');
    // The changed line is context of the first patch, so a plain apply cannot place it.
    const plain = spawnSync('git', ['apply', '--check', join(seriesRoot, 'apps-engine-patches/8.8', AE_NAMES[0])], {
      cwd: repo,
      env: cleanEnv(),
    });
    expect(plain.status).not.toBe(0);
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = read(repo, I_READ);
    expect(text).toContain(' * The IRead accessor gives access to\n');
    expect(text).toContain("import type { IE2EERead } from '../e2ee/IE2EERead';\n");
  });

  test('refuses a dirty work tree', () => {
    const repo = checkout();
    write(repo, 'stray.txt', 'x\n');
    const result = cli('apply', repo, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('has local changes');
    expect(head(repo)).toBe(baseId);
  });

  test('refuses a checkout of another release line unless forced', () => {
    const repo = checkout();
    const result = cli('apply', repo, '--line', '8.9', '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is line 8.8, not 8.9; use --force-line');
    edit(repo, 'apps/meteor/package.json', (text) => text.replace('8.8.1', '8.9.0'));
    git(repo, 'commit', '--quiet', '-am', 'Bump to 8.9.0');
    const newer = cli('apply', repo, '--root', seriesRoot);
    expect(newer.status).toBe(1);
    expect(newer.stderr).toContain('no patch series for line 8.9 (available: 8.8)');
    const forced = cli('apply', repo, '--line', '8.8', '--force-line', '--root', seriesRoot);
    expect(forced.status).toBe(0);
  });

  test('has nothing to do when the series folders are missing or empty', () => {
    const empty = tempDir('empty-root');
    const repo = checkout();
    const missing = cli('apply', repo, '--root', empty);
    expect(missing.status).toBe(0);
    expect(missing.stdout).toContain('nothing to apply');
    write(empty, 'apps-engine-patches/8.8/.patches', '');
    mkdirSync(join(empty, 'meteor-patches/8.8'), { recursive: true });
    expect(cli('apply', repo, '--root', empty).status).toBe(0);
    expect(head(repo)).toBe(baseId);
    expect(cli('verify', '--root', empty).status).toBe(0);
    expect(cli('check-apply', '--root', empty).status).toBe(0);
  });
});

// Drift (issue 8, item 3): a checkout that is not the series' exact pre-image. git am -3 first;
// at a patch it cannot take, insertions beside upstream's own are kept both, then the patch is
// retried with whitespace-insensitive context; only then the apply fails, hunk by hunk.
describe('apply survives drift', () => {
  const applyTo = (repo: string) => cli('apply', repo, '--root', seriesRoot);

  test('a file reformatted from spaces to tabs still takes the hook', () => {
    const repo = checkout();
    edit(repo, I_READ, (text) => text.replace(/^ {4}/gm, '\t'));
    git(repo, 'commit', '--quiet', '-am', 'Upstream reformats IRead with tabs');
    const result = applyTo(repo);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${AE_NAMES[0]}: applied with whitespace-insensitive context`);
    expect(read(repo, I_READ)).toContain('\tgetUserReader(): IUserRead;\n');
    // The added lines take the file's new indentation.
    expect(read(repo, I_READ)).toContain(
      '\n\t/** Decrypts messages of rooms the app is authorized for. */\n\tgetE2EEReader(): IE2EERead;\n',
    );
    expect(git(repo, 'log', '--reverse', '--format=%s', `${baseId}..HEAD`).trim().split('\n').slice(1)).toEqual(
      SUBJECTS,
    );
    // Still reproducible: committer dates are the author dates, so the same drift gives the same ids.
    expect(
      git(repo, 'log', '--format=%ad %cd', '--date=raw', `${baseId}..HEAD`)
        .trim()
        .split('\n')
        .every((line) => line.split(' ').slice(0, 2).join(' ') === line.split(' ').slice(2).join(' ')),
    ).toBe(true);
  });

  test('a member upstream inserts beside a hook (like mediaCall after abac) keeps both, upstream first', () => {
    const repo = checkout();
    edit(repo, I_READ, (text) =>
      text.replace(
        '    getUserReader(): IUserRead;\n',
        '    getUserReader(): IUserRead;\n\n    getThreadReader(): IThreadRead;\n',
      ),
    );
    git(repo, 'commit', '--quiet', '-am', 'Upstream adds a thread reader');
    const result = applyTo(repo);
    expect(result.stderr).toContain(
      `${AE_NAMES[0]}: 3-way conflict of insertions beside upstream's own in ${I_READ}: kept both, upstream's lines first`,
    );
    expect(result.status).toBe(0);
    const text = read(repo, I_READ);
    expect(text).not.toMatch(/^(<<<<<<<|=======|>>>>>>>|\|\|\|\|\|\|\|)/m);
    expect(text.indexOf('getThreadReader(): IThreadRead;')).toBeGreaterThan(0);
    expect(text.indexOf('getE2EEReader(): IE2EERead;')).toBeGreaterThan(
      text.indexOf('getThreadReader(): IThreadRead;'),
    );
  });

  test('a function upstream moved still takes its hook', () => {
    const repo = checkout();
    write(
      repo,
      LISTENERS,
      [
        'export class AppListenerManager {',
        '    private dispatch(int: AppInterface, data: unknown): Promise<unknown> {',
        '        switch (int) {',
        '            case AppInterface.IPostMessageSent:',
        '                return this.executePostMessageSent(data);',
        '            case AppInterface.IPostRoomCreate:',
        '                return this.executePostRoomCreate(data);',
        '            default:',
        '                return undefined;',
        '        }',
        '    }',
        '',
        '    public async executeListener(int: AppInterface, data: unknown): Promise<unknown> {',
        '        return this.dispatch(int, data);',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
    git(repo, 'commit', '--quiet', '-am', 'Upstream moves the dispatch into its own method');
    const result = applyTo(repo);
    expect(result.stderr).not.toContain('apply failed');
    expect(result.status).toBe(0);
    expect(read(repo, LISTENERS)).toContain(
      '                return this.executePostRoomCreate(data);\n            case AppInterface.IPostE2EERoomKeyRotated:\n',
    );
  });

  test('a file without history (no 3-way possible) reformatted with tabs still takes the hook', () => {
    const repo = tempDir('rc-no-history');
    git(work, 'init', '--quiet', repo);
    for (const path of [I_READ, LISTENERS, CONVERTER, STARTUP, 'apps/meteor/package.json'])
      write(repo, path, read(upstream, path));
    edit(repo, I_READ, (text) => text.replace(/^ {4}/gm, '\t'));
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', 'A fork without Rocket.Chat history');
    const result = applyTo(repo);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${AE_NAMES[0]}: applied with whitespace-insensitive context`);
    expect(read(repo, I_READ)).toContain('getE2EEReader(): IE2EERead;');
  });
});

describe('rebase', () => {
  /** Rocket.Chat 8.9.0: IRead reformatted with tabs, a reader added beside the hook. */
  function release89(): string {
    const repo = checkout();
    edit(repo, 'apps/meteor/package.json', (text) => text.replace('8.8.1', '8.9.0'));
    edit(repo, I_READ, (text) =>
      text
        .replace(
          '    getUserReader(): IUserRead;\n',
          '    getUserReader(): IUserRead;\n\n    getThreadReader(): IThreadRead;\n',
        )
        .replace(/^ {4}/gm, '\t'),
    );
    git(repo, 'commit', '--quiet', '-am', 'Release 8.9.0');
    return repo;
  }

  test('starts the 8.9 series from the 8.8 one, pre-images recorded from the checkout', () => {
    const repo = release89();
    const base = head(repo);
    const root = seriesCopy();
    const images = tempDir('pre-images-8.9');
    const result = cli('rebase', repo, '--line', '8.8', '--pre-images-out', images, '--root', root);
    if (result.status !== 0) console.log(result.stderr);
    expect(result.stderr).not.toContain('failed');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`rebased line 8.8 onto ${repo}`);
    expect(read(root, 'apps-engine-patches/8.9/.patches')).toBe(read(root, 'apps-engine-patches/8.8/.patches'));
    const record = JSON.parse(read(root, 'apps-engine-patches/8.9/upstream.json'));
    expect(record.releaseLine).toBe('8.9');
    expect(record.files[I_READ]).toEqual({
      commit: base,
      blob: git(repo, 'rev-parse', `${base}:${I_READ}`).trim(),
      evidence: `read at ${base} by export --record-pre-images`,
    });
    // The new line verifies, applies exactly to the recorded pre-images and to a fresh 8.9.0 checkout.
    expect(cli('verify', '--line', '8.9', '--root', root).status).toBe(0);
    const exact = cli('check-apply', '--line', '8.9', '--pre-images', images, '--root', root);
    expect(exact.stderr).toBe('');
    expect(exact.status).toBe(0);
    const fresh = tempDir('rc-8.9');
    git(work, 'clone', '--quiet', repo, fresh);
    git(fresh, 'reset', '--quiet', '--hard', base);
    const again = cli('apply', fresh, '--root', root);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(read(fresh, I_READ)).toContain('\tgetE2EEReader(): IE2EERead;');
  });

  test('refuses a checkout of the same line, and a line that already has a series', () => {
    expect(cli('rebase', checkout(), '--line', '8.8', '--root', seriesRoot).stderr).toContain('already line 8.8');
    const root = seriesCopy();
    cpSync(join(root, 'apps-engine-patches/8.8'), join(root, 'apps-engine-patches/8.9'), { recursive: true });
    const result = cli('rebase', release89(), '--line', '8.8', '--root', root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('exists; rebase only starts a new line');
  });
});

describe('export', () => {
  test('round-trips: apply then export gives a byte-identical folder', () => {
    const repo = checkout();
    expect(cli('apply', repo, '--root', seriesRoot).status).toBe(0);
    const root = seriesCopy();
    // Start from nothing so every byte is rewritten, not just left alone.
    rmSync(join(root, 'apps-engine-patches/8.8'), { recursive: true });
    rmSync(join(root, 'meteor-patches/8.8'), { recursive: true });
    for (const target of ['apps-engine', 'meteor']) {
      const result = cli('export', repo, '--base', baseId, '--target', target, '--record-pre-images', '--root', root);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
    expect(snapshot(root)).toEqual(snapshot(seriesRoot));
  });

  test('--dry-run passes on a fresh folder and lists what a stale one lacks', () => {
    const repo = checkout();
    expect(cli('apply', repo, '--root', seriesRoot).status).toBe(0);
    const dryRun = (target: string): CliResult =>
      cli('export', repo, '--base', baseId, '--target', target, '--dry-run', '--root', seriesRoot);
    expect(dryRun('meteor').status).toBe(0);
    expect(dryRun('apps-engine').status).toBe(0);
    // Amend the last meteor commit: same subject, different content.
    write(repo, STARTUP_HOOK, "import '../services/e2ee/service';\nimport '../services/e2ee/audit';\n");
    git(repo, 'add', STARTUP_HOOK);
    git(repo, 'commit', '--quiet', '--amend', '--no-edit');
    const before = snapshot(seriesRoot);
    const stale = dryRun('meteor');
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain(`update ${METEOR_NAMES[1]}`);
    expect(snapshot(seriesRoot)).toEqual(before); // a dry run writes nothing
    expect(dryRun('apps-engine').status).toBe(0);
  });

  test('removes patches that left the series and rewrites the order file', () => {
    const repo = checkout();
    expect(cli('apply', repo, '--root', seriesRoot).status).toBe(0);
    git(repo, 'reset', '--quiet', '--hard', 'HEAD~1'); // drop the last meteor patch
    const root = seriesCopy();
    const result = cli('export', repo, '--base', baseId, '--target', 'meteor', '--root', root);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`remove ${METEOR_NAMES[1]}`);
    expect(existsSync(join(root, 'meteor-patches/8.8', METEOR_NAMES[1]))).toBe(false);
    expect(read(root, 'meteor-patches/8.8/.patches')).toBe(`${METEOR_NAMES[0]}\n`);
  });
});

describe('verify', () => {
  test('passes on the fixture series', () => {
    const result = cli('verify', '--root', seriesRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('apps-engine-patches/8.8: 3 patches, 2 recorded pre-images');
    expect(result.stdout).toContain('verify: OK');
  });

  const AE = 'apps-engine-patches/8.8';
  const damage: Array<[string, (root: string) => void, RegExp]> = [
    [
      'a missing header line',
      (root) => edit(root, `${AE}/${AE_NAMES[0]}`, (t) => t.replace(/^Remove when:.*\n/m, '')),
      /lacks the "Remove when:" header line/,
    ],
    [
      'CRLF line endings',
      (root) => edit(root, `${AE}/${AE_NAMES[1]}`, (t) => t.replace(/\n/g, '\r\n')),
      /CR \/ CRLF line ending/,
    ],
    [
      'trailing whitespace on an added line',
      (root) =>
        edit(root, `${AE}/${AE_NAMES[0]}`, (t) =>
          t.replace('+    getE2EEReader(): IE2EERead;\n', '+    getE2EEReader(): IE2EERead; \n'),
        ),
      /trailing whitespace on an added line/,
    ],
    [
      'trailing whitespace in the header',
      (root) =>
        edit(root, `${AE}/${AE_NAMES[0]}`, (t) => t.replace('Upstream: not submitted\n', 'Upstream: not submitted \n')),
      /trailing whitespace in the message/,
    ],
    [
      'a patch missing from the order file',
      (root) => edit(root, `${AE}/.patches`, (t) => t.replace(`${AE_NAMES[1]}\n`, '')),
      /dispatch_e2ee_room_key_events\.patch is not listed in \.patches/,
    ],
    [
      'an order entry without a file',
      (root) => edit(root, `${AE}/.patches`, (t) => `${t}ghost.patch\n`),
      /lists ghost\.patch, which is missing/,
    ],
    [
      'a duplicate order entry',
      (root) => edit(root, `${AE}/.patches`, (t) => `${t}${AE_NAMES[0]}\n`),
      /lists add_the_e2ee_reader_to_iread\.patch more than once/,
    ],
    [
      'an unrecorded pre-image',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        delete record.files[LISTENERS];
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /modifies packages\/apps\/src\/server\/managers\/AppListenerManager\.ts but upstream\.json has no pre-image recorded/,
    ],
    [
      'a wrong blob id',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        record.files[I_READ].blob = '1'.repeat(40);
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /starts from blob [0-9a-f]{40}, expected 1{40} \(the recorded pre-image\)/,
    ],
    [
      'a path outside allowedPaths',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        record.allowedPaths = ['packages/apps-engine/'];
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /touches packages\/apps\/src\/server\/managers\/AppListenerManager\.ts, outside allowedPaths/,
    ],
    [
      'overlays colliding with each other',
      (root) => write(root, `meteor-patches/overlay/${AE_OVERLAY}`, 'x\n'),
      /packages\/apps-engine\/src\/definition\/e2ee\/IE2EERead\.ts is also in apps-engine-patches\/overlay/,
    ],
    [
      'an overlay colliding with a created file',
      (root) => write(root, `meteor-patches/overlay/${STARTUP_HOOK}`, 'x\n'),
      /e2ee\.ts is also created by meteor-patches\/8\.8\/start_the_e2ee_service_at_startup\.patch/,
    ],
    [
      'an upstream copy in the series',
      (root) => write(root, `${AE}/pre-images/${I_READ}`, read(preImages, I_READ)),
      /pre-images\/ holds 1 file: upstream copies do not belong in the repository/,
    ],
    [
      'a recorded file without evidence',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        delete record.files[I_READ].evidence;
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /files\["packages\/apps-engine\/src\/definition\/accessors\/IRead\.ts"\]\.evidence is missing/,
    ],
    [
      'an unknown status',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        record.files[I_READ].status = 'probably';
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /files\["packages\/apps-engine\/src\/definition\/accessors\/IRead\.ts"\]\.status must be one of "proven", "reconstructed", "not proven"/,
    ],
    [
      'a reconstructed status without reconstructed: true',
      (root) => {
        const record = JSON.parse(read(root, `${AE}/upstream.json`));
        record.files[I_READ].status = 'reconstructed';
        write(root, `${AE}/upstream.json`, JSON.stringify(record));
      },
      /status "reconstructed" and reconstructed: true go together/,
    ],
  ];

  test.each(damage)('catches %s', (_, mutate, expected) => {
    const root = seriesCopy();
    mutate(root);
    const result = cli('verify', '--root', root, '--line', '8.8');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(expected);
  });
});

describe('stats', () => {
  test('counts hunks and upstream lines per patch, in series order', () => {
    const result = cli('stats', '--root', seriesRoot, '--target', 'apps-engine');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const rows = result.stdout.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.map((row) => row.split('`')[1])).toEqual(AE_NAMES);
    // The counts are the patch files' own: one "@@" per hunk, "+"/"-" lines inside them.
    const dir = join(seriesRoot, 'apps-engine-patches/8.8');
    AE_NAMES.forEach((name, i) => {
      const body = readFileSync(join(dir, name), 'utf8').split('\n');
      const hunks = body.filter((line) => line.startsWith('@@ ')).length;
      const added = body.filter((line) => line.startsWith('+') && !line.startsWith('+++ ')).length;
      const removed = body.filter((line) => line.startsWith('-') && !line.startsWith('--- ')).length;
      expect(
        rows[i]
          .split('|')
          .map((cell) => cell.trim())
          .slice(3, 6),
      ).toEqual([`${hunks}`, `${added}`, `${removed}`]);
    });
    expect(result.stdout).toMatch(/\| \*\*3 patches\*\* \|/);
  });

  test('names the layout of an "Applies when:" patch', () => {
    const root = seriesCopy();
    edit(root, `apps-engine-patches/8.8/${AE_NAMES[0]}`, (t) =>
      t.replace(/^(Remove when:.*)$/m, `$1\nApplies when: ${LISTENERS} exists`),
    );
    const result = cli('stats', '--root', root, '--line', '8.8');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`| ${LISTENERS} exists |`);
    expect(result.stdout).toContain('| always |');
  });

  test('refuses an unknown target', () => {
    const result = cli('stats', '--root', seriesRoot, '--target', 'nope');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('unknown target "nope"');
  });
});

describe('check-apply', () => {
  test('passes when the series applies to the pre-images given', () => {
    const result = cli('check-apply', '--pre-images', preImages, '--root', seriesRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('apps-engine-patches/8.8: 3 patches apply to 2 recorded pre-images');
    expect(result.stdout).toContain('meteor-patches/8.8: 2 patches apply to 2 recorded pre-images');
  });

  test('says plainly that nothing was checked when no pre-images are given', () => {
    const result = cli('check-apply', '--root', seriesRoot);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('check-apply: nothing checked: no pre-images given');
  });

  test('fails on a pre-images folder that does not exist', () => {
    const result = cli('check-apply', '--pre-images', join(work, 'no-such-folder'), '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no such folder');
  });

  test('fails when a pre-image is missing from the folder', () => {
    const dir = preImagesCopy();
    rmSync(join(dir, CONVERTER));
    const result = cli('check-apply', '--pre-images', dir, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${join(dir, CONVERTER)} is missing`);
  });

  test('fails when a pre-image copy does not hash to the recorded blob', () => {
    const dir = preImagesCopy();
    edit(dir, CONVERTER, (t) => t.replace('groupable', 'grouping'));
    const result = cli('check-apply', '--pre-images', dir, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /apps\/meteor\/app\/apps\/server\/converters\/messages\.ts hashes to [0-9a-f]{40}, upstream\.json records/,
    );
  });

  test('fails when the recorded pre-image is not what the patch was made from', () => {
    const root = seriesCopy();
    const dir = preImagesCopy();
    edit(dir, CONVERTER, (t) =>
      t.replace(
        "            parseUrls: 'parseUrls',\n",
        "            parseUrls: 'parseUrls',\n            files: 'files',\n",
      ),
    );
    const blob = git(dir, 'hash-object', '--no-filters', join(dir, CONVERTER)).trim();
    edit(root, 'meteor-patches/8.8/upstream.json', (t) =>
      t.replace(
        /("apps\/meteor\/app\/apps\/server\/converters\/messages\.ts": \{\s*"commit": "[0-9a-f]{40}",\s*"blob": ")[0-9a-f]{40}/,
        `$1${blob}`,
      ),
    );
    const result = cli('check-apply', '--pre-images', dir, '--root', root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${METEOR_NAMES[0]} does not apply to the recorded pre-images`);
  });

  test('--checkout runs apply on a scratch clone and leaves the checkout as it was', () => {
    const repo = checkout();
    const result = cli('check-apply', '--checkout', repo, '--root', seriesRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('check-apply: the series applies to');
    expect(head(repo)).toBe(baseId);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  test('--checkout fails with the apply report when the checkout conflicts, still untouched', () => {
    const repo = checkout();
    edit(repo, CONVERTER, (t) =>
      t.replace(
        "            parseUrls: 'parseUrls',\n        };\n",
        "            urls: 'parseUrls',\n        } as const;\n",
      ),
    );
    git(repo, 'commit', '--quiet', '-am', 'Drift');
    const drifted = head(repo);
    const result = cli('check-apply', '--checkout', repo, '--root', seriesRoot);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('apply failed at meteor-patches/8.8/');
    expect(head(repo)).toBe(drifted);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  test('refuses --pre-images together with --checkout', () => {
    expect(cli('check-apply', '--pre-images', preImages, '--checkout', seriesRoot, '--root', seriesRoot).status).toBe(
      2,
    );
  });
});

// Patches for one of two upstream layouts ("Applies when:", scripts/patches/lib/layouts.mjs): a
// hook that lives in a file only one layout has, with its alternative for the other layout.
describe('layouts', () => {
  const SINGLE = 'packages/apps/src/server/runtime/deno/Controller.ts';
  const BASE = 'packages/apps/src/server/runtime/base/BaseController.ts';
  const HANDLER = [
    '    private handle(params: unknown[]) {',
    '        return this.bridge.apply(params.map(swap));',
    '    }',
  ];
  const full = (name: string): string => [`export class ${name} {`, ...HANDLER, '}', ''].join('\n');
  const NAMES = ['hook_the_single_file_controller.patch', 'hook_the_base_controller.patch'];
  const AE = 'apps-engine-patches/8.8';

  let singleLayout: string; // a Rocket.Chat whose handler is in SINGLE
  let baseLayout: string; // a later one: SINGLE is a thin subclass, the handler is in BASE
  let root: string;
  let layoutPreImages: string; // outside the series

  function release(dir: string, files: Record<string, string>): void {
    git(work, 'init', '--quiet', dir);
    write(dir, 'apps/meteor/package.json', '{\n  "version": "8.8.1"\n}\n');
    for (const [path, text] of Object.entries(files)) write(dir, path, text);
    git(dir, 'add', '--all');
    git(dir, 'commit', '--quiet', '-m', 'Release 8.8.1');
  }

  function clone(from: string): string {
    const dir = tempDir('layout-rc');
    git(work, 'clone', '--quiet', from, dir);
    return dir;
  }

  const condition = (exists: boolean): string => `Applies when: ${BASE} ${exists ? 'exists' : 'does not exist'}`;

  beforeAll(() => {
    singleLayout = tempDir('single-layout');
    release(singleLayout, { [SINGLE]: full('Controller') });
    baseLayout = tempDir('base-layout');
    release(baseLayout, {
      [SINGLE]: 'export class Controller extends BaseController {}\n',
      [BASE]: full('BaseController'),
    });
    // The series is made where both files have the handler (pre-images read file by file).
    const dev = tempDir('layout-dev');
    release(dev, { [SINGLE]: full('Controller'), [BASE]: full('BaseController') });
    const devBase = head(dev);
    const hook = (path: string, subject: string, exists: boolean): void => {
      edit(dev, path, (text) => text.replace('params.map(swap)', 'guard(params).map(swap)'));
      git(dev, 'commit', '--quiet', '-am', `${subject}${header('bind the caller')}${condition(exists)}\n`);
    };
    hook(SINGLE, 'Hook the single-file controller', false);
    hook(BASE, 'Hook the base controller', true);
    root = tempDir('layout-series');
    layoutPreImages = tempDir('layout-pre-images');
    const result = cli(
      'export',
      dev,
      '--base',
      devBase,
      '--target',
      'apps-engine',
      '--record-pre-images',
      '--pre-images-out',
      layoutPreImages,
      '--root',
      root,
    );
    if (result.status !== 0) throw new Error(`layout fixture export failed: ${result.stderr}`);
  });

  const layoutCopy = (): string => {
    const dir = tempDir('layout-series-copy');
    cpSync(root, dir, { recursive: true });
    return dir;
  };

  test('verify follows each layout and check-apply applies each to its own pre-images', () => {
    const verify = cli('verify', '--root', root);
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toContain(`${AE}: 2 patches, 2 recorded pre-images, 2 layouts`);
    const check = cli('check-apply', '--pre-images', layoutPreImages, '--root', root);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toContain(
      `${AE}: 1 patch applies to 1 recorded pre-image (layout where ${BASE} does not exist)`,
    );
    expect(check.stdout).toContain(`${AE}: 1 patch applies to 2 recorded pre-images (layout where ${BASE} exists)`);
  });

  test('apply hooks the single-file layout and leaves the base hook out', () => {
    const repo = clone(singleLayout);
    const result = cli('apply', repo, '--root', root);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(read(repo, SINGLE)).toContain('guard(params).map(swap)');
    expect(existsSync(join(repo, BASE))).toBe(false);
    expect(result.stdout).toContain(
      `left out 1 patch for another layout\n    ${AE}/${NAMES[1]} (applies when ${BASE} exists)`,
    );
  });

  test('apply hooks the base layout and leaves the single-file hook out', () => {
    const repo = clone(baseLayout);
    const result = cli('apply', repo, '--root', root);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(read(repo, BASE)).toContain('guard(params).map(swap)');
    expect(read(repo, SINGLE)).toBe('export class Controller extends BaseController {}\n');
    expect(result.stdout).toContain(`${AE}/${NAMES[0]} (applies when ${BASE} does not exist)`);
  });

  test("export from one layout keeps the other layout's patch and pre-image in place", () => {
    const repo = clone(singleLayout);
    expect(cli('apply', repo, '--root', root).status).toBe(0);
    const copy = layoutCopy();
    const result = cli(
      'export',
      repo,
      '--base',
      head(singleLayout),
      '--target',
      'apps-engine',
      '--record-pre-images',
      '--root',
      copy,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`kept ${NAMES[1]}`);
    expect(snapshot(copy)).toEqual(snapshot(root));
  });

  const damage: Array<[string, (dir: string) => void, RegExp]> = [
    [
      'a layout patch without its alternative',
      (dir) => {
        rmSync(join(dir, AE, NAMES[1]));
        write(dir, `${AE}/.patches`, `${NAMES[0]}\n`);
      },
      /hook_the_single_file_controller\.patch applies only when .*BaseController\.ts does not exist, and no patch applies when it exists/,
    ],
    [
      'a malformed condition',
      (dir) => edit(dir, `${AE}/${NAMES[1]}`, (t) => t.replace(' exists\n', ' is there\n')),
      /"Applies when:" must read/,
    ],
    [
      'two conditions',
      (dir) =>
        edit(dir, `${AE}/${NAMES[1]}`, (t) =>
          t.replace(`${condition(true)}\n`, `${condition(true)}\n${condition(true)}\n`),
        ),
      /has 2 "Applies when:" lines/,
    ],
    [
      'a condition on an unrecorded path',
      (dir) => edit(dir, `${AE}/${NAMES[1]}`, (t) => t.replace(`${BASE} exists`, 'packages/apps/elsewhere.ts exists')),
      /names packages\/apps\/elsewhere\.ts, which upstream\.json does not record/,
    ],
  ];

  test.each(damage)('verify catches %s', (_, mutate, expected) => {
    const dir = layoutCopy();
    mutate(dir);
    const result = cli('verify', '--root', dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(expected);
  });

  test("check-apply fails when a layout's patch does not apply to that layout's pre-image", () => {
    const dir = layoutCopy();
    const images = tempDir('layout-pre-images-copy');
    cpSync(layoutPreImages, images, { recursive: true });
    edit(images, BASE, (t) => t.replace('params.map(swap)', 'params.map(swapped)'));
    const blob = git(images, 'hash-object', '--no-filters', join(images, BASE)).trim();
    const record = JSON.parse(read(dir, `${AE}/upstream.json`));
    record.files[BASE].blob = blob;
    write(dir, `${AE}/upstream.json`, JSON.stringify(record, null, 2));
    const result = cli('check-apply', '--pre-images', images, '--root', dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `in the layout where ${BASE} exists: ${NAMES[1]} does not apply to the recorded pre-images`,
    );
  });
});
