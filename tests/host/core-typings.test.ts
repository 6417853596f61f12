/**
 * The port shapes of the host service agree with Rocket.Chat 8.8's own types: tests/host/typings
 * (its own npm project with @rocket.chat/core-typings@8.8.1, installed by scripts/test) compiles.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

test("Rocket.Chat 8.8's subscription, room and message documents fit the ports, and the service's message fits Rocket.Chat's", () => {
  const project = join(__dirname, 'typings');
  if (!existsSync(join(project, 'node_modules', '@rocket.chat', 'core-typings'))) {
    throw new Error('tests/host/typings is not installed: run npm --prefix tests/host/typings ci (scripts/test does)');
  }
  const tsc = join(__dirname, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(output).toBe('');
});
