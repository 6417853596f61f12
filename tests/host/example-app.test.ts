/**
 * The example app runs: examples/e2ee-bot's real class, compiled from its sources against the
 * published Apps-Engine 1.66.0 definitions plus the series' (examples/.definitions, built by
 * `npm --prefix examples run check`), gets a mention in an encrypted room, decrypts it through
 * the host service and answers encrypted; a browser reads the answer. Its `read`/`modify`
 * accessors are the E2EE reader and modifier the host hands an app, backed by the service for
 * this app's id only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { MessagePayload } from '../../native';
import { describeOnMongo, hostScenario } from './harness';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

/** Compiles the app and the series' e2ee definition module to plain JavaScript in `out`. */
function compileApp(out: string): void {
  const definitions = join(EXAMPLES, '.definitions', 'definition', 'e2ee');
  if (!existsSync(definitions)) {
    throw new Error('examples/.definitions is missing: run npm --prefix examples run check (scripts/test does)');
  }
  const config = {
    compilerOptions: {
      outDir: out,
      rootDir: EXAMPLES,
      module: 'commonjs',
      target: 'ES2019',
      skipLibCheck: true,
      experimentalDecorators: true,
      types: [],
      baseUrl: join(EXAMPLES, 'e2ee-bot'),
      paths: { '@rocket.chat/apps-engine/*': ['../.definitions/*'] },
    },
    files: [
      join(EXAMPLES, 'e2ee-bot', 'E2eeBotApp.ts'),
      join(EXAMPLES, 'e2ee-bot', 'globals.d.ts'),
      join(definitions, 'index.ts'),
    ],
  };
  writeFileSync(join(out, 'tsconfig.json'), JSON.stringify(config));
  const tsc = join(EXAMPLES, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(out, 'tsconfig.json')], { encoding: 'utf8' });
}

// What the Apps-Engine runtime gives an app: the server's definitions, the series' e2ee module
// among them (the published 1.66.0 package has none), compiled into examples/.run below.
jest.mock(
  '@rocket.chat/apps-engine/definition/e2ee',
  () =>
    // A factory may not use the file's imports (jest hoists it above them), hence the path as text.
    jest.requireActual(`${__dirname}/../../examples/.run/example-app/.definitions/definition/e2ee/index.js`),
  { virtual: true },
);

describeOnMongo('examples/e2ee-bot on the host service', () => {
  const scenario = hostScenario('rc_example');
  // Inside examples/, so the compiled app resolves @rocket.chat/apps-engine from its packages.
  const out = join(EXAMPLES, '.run', 'example-app');

  beforeAll(() => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    compileApp(out);
  });

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  test('a mention in an encrypted room is read through the host and answered encrypted', async () => {
    const { rc, service } = scenario;
    const app = await rc.installApp();
    const { alice, bob, roomId } = await scenario.roomOfAliceAndBob();
    await scenario.admitApp(app, roomId, alice);
    await rc.provideKeys(alice, roomId);

    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the app's compiled module, loaded as the runtime loads it
    const { E2eeBotApp } = require(join(out, 'e2ee-bot', 'E2eeBotApp.js'));
    const logs: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (text: string) => logs.push(text),
      warn: (text: string) => logs.push(text),
      error: () => undefined,
    };
    const info = {
      id: app.appId,
      name: 'e2ee-bot',
      version: '0.1.0',
      requiredApiVersion: '^1.66.0',
      author: { name: 'rc-e2ee' },
    };
    const bot = new E2eeBotApp(info, logger, {});

    // The accessors the host builds for this app: every call carries the app's own id.
    const reader = {
      isAuthorized: (rid: string) => service.isAuthorized(app.appId, rid),
      getEncryptedRoomKey: (rid: string, kid?: string) => service.getEncryptedRoomKey(app.appId, rid, kid),
      getKeyHistory: (rid: string) => service.getKeyHistory(app.appId, rid),
      decryptMessage: (message: { id?: string; room: { id: string } }) =>
        service.decryptMessage(app.appId, { roomId: message.room.id, messageId: message.id }),
    };
    const modifier = {
      encryptContent: (rid: string, payload: MessagePayload) => service.encryptContent(app.appId, rid, payload),
      sendEncryptedMessage: (rid: string, payload: MessagePayload, options?: { threadId?: string }) =>
        service.sendEncryptedMessage(app.appId, rid, payload, options),
    };
    const read = {
      getUserReader: () => ({ getAppUser: async () => ({ id: app.appUserId, username: 'e2ee-bot.bot' }) }),
      getE2EEReader: () => reader,
    };
    const modify = { getE2EE: () => modifier };

    const question = await rc.send(bob, roomId, { msg: 'hey @e2ee-bot.bot, is the launch still on Thursday?' });
    // The message as the Apps-Engine converter hands it to an app with e2ee.read.
    const message = {
      id: question._id,
      room: { id: roomId },
      sender: { id: bob.userId, username: 'bob' },
      type: 'e2e',
      encryptedContent: question.content,
    };
    expect(await bot.checkPostMessageSent(message)).toBe(true);
    await bot.executePostMessageSent(message, read, {}, {}, modify);

    const replies = (await rc.db
      .collection('rocketchat_message')
      .find({ rid: roomId, 'u._id': app.appUserId })
      .toArray()) as unknown as Array<{ _id: string }>;
    expect(replies).toHaveLength(1);
    expect(await rc.read(bob, replies[0]._id)).toEqual({
      msg: '@bob I read your encrypted message: "hey @e2ee-bot.bot, is the launch still on Thursday?"',
    });
    // A message that does not mention it gets no answer.
    const chatter = await rc.send(bob, roomId, { msg: 'unrelated' });
    await bot.executePostMessageSent(
      { ...message, id: chatter._id, encryptedContent: chatter.content },
      read,
      {},
      {},
      modify,
    );
    expect(await rc.db.collection('rocketchat_message').countDocuments({ rid: roomId, 'u._id': app.appUserId })).toBe(
      1,
    );
  });
});
