/**
 * `EJSON.parse` without its second pass where that pass cannot change anything. EJSON parses
 * with `JSON.parse`, then deep-copies the result and revives the objects whose keys all start
 * with `$` (`{$date}`, `{$binary}`, `{$escape}`, custom types). On a chat payload that copy
 * costs as much as the parse itself. The result is the same as `JSON.parse`'s exactly when:
 * - no key can start with `$`: the text has no `$` and no `\u` escape (which could spell one);
 * - no key is `__proto__`: EJSON's copy assigns it, which sets the prototype instead of
 *   creating the member `JSON.parse` creates;
 * - the copy cannot overflow the stack (EJSON then throws where `JSON.parse` does not): in
 *   1024 characters objects nest at most 512 deep, and EJSON copies over 2000 levels here.
 * Anything else takes EJSON's own path, so the answer is always `EJSON.parse`'s.
 */
import EJSON = require('ejson');

/** Longest text that takes the short path; see the bound on nesting above. */
const PLAIN_JSON_MAX_CHARS = 1024;

/** `EJSON.parse(text)`, the same value or the same exception. */
export function parseEjson(text: string): unknown {
  if (
    text.length <= PLAIN_JSON_MAX_CHARS &&
    !text.includes('$') &&
    !text.includes('\\u') &&
    !text.includes('__proto__')
  ) {
    return JSON.parse(text);
  }
  return EJSON.parse(text);
}
