/**
 * The payload parser's short path (plain `JSON.parse` when EJSON's second pass cannot change
 * the result) answers exactly as `EJSON.parse` on every kind of text: EJSON types, escapes
 * that spell a `$`, `__proto__`, deep nesting, invalid JSON.
 */
import { parsePayload } from '../../native';
import { parseEjson } from '../../native/lib/ejsonParse';

import EJSON = require('ejson');

/** What a parse did: its value (with prototypes and own keys compared) or the error's class. */
function outcome(parse: (text: string) => unknown, text: string): unknown {
  try {
    const value = parse(text);
    return { value, shape: JSON.stringify(shapeOf(value)) };
  } catch (error) {
    return { threw: (error as Error).constructor.name };
  }
}

/** Own keys and prototypes, recursively: what `toEqual` alone would not tell apart. */
function shapeOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return { date: value.getTime() };
  if (value instanceof Uint8Array) return { bytes: [...value] };
  const prototype = Object.getPrototypeOf(value);
  const plain = prototype === Object.prototype || prototype === Array.prototype;
  return {
    plain,
    prototype: plain ? null : shapeOf(prototype),
    keys: Reflect.ownKeys(value).map((key) => [
      String(key),
      shapeOf((value as Record<string, unknown>)[key as string]),
    ]),
  };
}

const texts = [
  '{"msg":"hello"}',
  '{"msg":"x","ts":{"$date":1700000000000}}',
  '{"msg":"x","attachments":[{"ts":{"$date":0},"title":"a"}]}',
  '{"file":{"$binary":"AAEC"}}',
  '{"e":{"$escape":{"$date":5}}}',
  '{"k":{"\\u0024date":12}}',
  '{"\\u0024date":12}',
  '{"msg":"price: $5"}',
  '{"msg":"a\\\\u0024 literal"}',
  '{"msg":"line\\nbreak \\"quoted\\" tab\\t"}',
  '{"__proto__":{"polluted":true},"msg":"x"}',
  '{"a":{"__proto__":[1,2]}}',
  '{"\\u005f_proto__":{"x":1}}',
  '{"constructor":{"prototype":1},"toString":"s","clone":"c"}',
  '{"1":"one","b":"b","0":"zero"}',
  '{"msg":"é ü 🎉 \u{1F600}"}',
  '{"n":1e400,"m":-0,"z":0.1}',
  '[1,{"$date":3}]',
  '"string"',
  '42',
  'null',
  '{"msg":',
  '{"msg":"x",}',
  '',
  `{"msg":"${'y'.repeat(1100)}"}`,
  `{"msg":"${'y'.repeat(1100)}","ts":{"$date":1}}`,
  '['.repeat(500) + ']'.repeat(500),
  '{"a":'.repeat(170) + '1' + '}'.repeat(170),
  '['.repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
];

describe('parseEjson', () => {
  for (const text of texts) {
    const name = text.length > 60 ? `${text.slice(0, 60)}… (${text.length})` : text;
    test(`answers as EJSON.parse: ${JSON.stringify(name)}`, () => {
      expect(outcome(parseEjson, text)).toEqual(outcome(EJSON.parse, text));
    });
  }

  test('revives EJSON types in payloads', () => {
    const payload = parsePayload('{"msg":"x","ts":{"$date":1700000000000}}');
    expect(payload.ts).toBeInstanceOf(Date);
    expect((payload.ts as Date).getTime()).toBe(1700000000000);
    expect(parsePayload('{"msg":"plain"}')).toEqual({ msg: 'plain' });
  });
});
