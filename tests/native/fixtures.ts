/** The golden vectors made by Rocket.Chat's own client code (tests/fixtures/rc-8.8). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, '..', 'fixtures', 'rc-8.8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed vector files, read field by field
export type Json = any;

export const keysVectors: Json = JSON.parse(readFileSync(join(dir, 'rc-client-keys.json'), 'utf8'));
export const messageVectors: Json = JSON.parse(readFileSync(join(dir, 'rc-client-v2.json'), 'utf8'));

export function user(role: 'alice' | 'bob'): Json {
  return keysVectors.users.find((u: Json) => u.role === role);
}

/** `[id, vector]` rows for `test.each`. */
export function byId(list: Json[]): Array<[string, Json]> {
  return list.map((vector) => [vector.id as string, vector]);
}
