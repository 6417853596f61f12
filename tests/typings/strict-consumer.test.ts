/**
 * A strict TypeScript project that imports the package compiles without `skipLibCheck`: every
 * published declaration, the generated binding's included, names only types that exist.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

test('a strict consumer type-checks against the published declarations', () => {
  const root = join(__dirname, '..', '..');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', join(__dirname, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(output).toBe('');
});
