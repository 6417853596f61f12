//! A large decrypted payload, made ready on the worker for the JS thread to parse in a moment.
//!
//! The key store's async read returns a parsed payload, and `JSON.parse` of an 8 MiB payload
//! holds the event loop for 10 ms or more: it scans every character and copies each string
//! into V8's heap. A chat payload is a few members around one or two long texts (`msg`, an
//! attachment's description), so the worker cuts those texts out: the JS thread parses the
//! small rest (the skeleton, where each long text is a placeholder string) and puts back the
//! texts, decoded on the worker and created as external strings over its memory
//! ([`OwnedText`]), untouched.
//!
//! The result is `EJSON.parse` of the whole text exactly, or the payload is not split:
//! - a long text leaves only when it is a value (not followed by `:`), holds no raw control
//!   character and only escapes JSON defines; it is decoded as `JSON.parse` decodes it (a lone
//!   surrogate escape included);
//! - the skeleton is at most [`SKELETON_MAX_BYTES`] and has no `$`, no `\u` and no
//!   `__proto__`: `parseEjson` in `native/lib/ejsonParse.ts` parses such a text with
//!   `JSON.parse` for the same reason (no key can be an EJSON type, none can set a prototype,
//!   and nothing nests deep enough for EJSON's copy to overflow where `JSON.parse` does not);
//! - the skeleton holds no [`PART_PREFIX`] of its own, so only placeholders start with it.
//!
//! Replacing a valid string token by another leaves the text valid JSON exactly when it was: a
//! bad payload is refused by the skeleton's `JSON.parse` as the whole text's would be.

use napi::bindgen_prelude::Either;
use napi_derive::napi;
use zeroize::Zeroizing;

use crate::wire::{OwnedText, PlainText, EXTERNAL_MIN_BYTES};

/// Strings of at least this many bytes leave the skeleton.
const PART_MIN_BYTES: usize = 256;
/// Longest skeleton: `parseEjson`'s bound for parsing with `JSON.parse` (1024 characters; a
/// byte is at most one UTF-16 unit).
const SKELETON_MAX_BYTES: usize = 1024;
/// Placeholder `"rc-e2ee-part:N"` stands for `parts[N]`.
const PART_PREFIX: &str = "rc-e2ee-part:";

/// The prefix of the placeholders, for the facade to read.
#[napi(catch_unwind)]
pub fn payload_part_prefix() -> &'static str {
    PART_PREFIX
}

/// A payload split for parsing: `JSON.parse(skeleton)` with each placeholder string replaced by
/// its part is `EJSON.parse` of the payload text.
#[napi(object, object_from_js = false)]
pub struct SplitPayload {
    #[napi(ts_type = "string")]
    pub skeleton: PlainText,
    #[napi(ts_type = "Array<string>")]
    pub parts: Vec<OwnedText>,
}

/// The payload text as the JS thread should receive it: split when it is large and splits,
/// else whole (external when large). Runs on a worker.
pub fn prepare(text: Zeroizing<String>) -> Either<OwnedText, SplitPayload> {
    if text.len() < EXTERNAL_MIN_BYTES {
        return Either::A(OwnedText::prepare(text));
    }
    let Some((skeleton, found)) = split(&text) else { return Either::A(OwnedText::prepare(text)) };
    let mut parts = Vec::with_capacity(found.len());
    for part in found {
        let raw = text.get(part.start..part.end).unwrap_or_default();
        let owned = if part.escaped {
            match decode(raw) {
                Some(units) => OwnedText::from_units(units),
                // Unreachable by `split`'s checks; the whole text is then parsed as it is.
                None => return Either::A(OwnedText::prepare(text)),
            }
        } else {
            OwnedText::prepare(Zeroizing::new(raw.to_owned()))
        };
        parts.push(owned);
    }
    Either::B(SplitPayload { skeleton: PlainText(skeleton), parts })
}

/// A string token that leaves the skeleton: its characters between the quotes.
struct Part {
    start: usize,
    end: usize,
    escaped: bool,
}

/// Whether a byte ends a run of plain string characters: a quote, a backslash or a control
/// character (which JSON refuses raw).
fn special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The index of the first special byte of `bytes` at or after `from`, scanned 64 bytes at a
/// time (a fold the compiler vectorizes) and then exactly.
fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut offset = 0;
    for chunk in rest.chunks(64) {
        if chunk.iter().fold(false, |seen, &byte| seen | special(byte)) {
            return chunk.iter().position(|&byte| special(byte)).map(|at| from + offset + at);
        }
        offset += chunk.len();
    }
    None
}

/// Whether the kept text `segment` lets the skeleton be parsed as plain JSON (see the module).
fn keepable(segment: &str) -> bool {
    !segment.contains('$')
        && !segment.contains("\\u")
        && !segment.contains("__proto__")
        && !segment.contains(PART_PREFIX)
}

/// The skeleton and the parts, or `None` when the text does not split as the module says.
fn split(text: &str) -> Option<(Zeroizing<String>, Vec<Part>)> {
    let bytes = text.as_bytes();
    let mut skeleton = Zeroizing::new(String::with_capacity(2 * SKELETON_MAX_BYTES));
    let mut parts = Vec::new();
    // Text from `kept` on is not yet in the skeleton; the scan is at `at`.
    let (mut kept, mut at) = (0usize, 0usize);
    while let Some(quote) = bytes.get(at..).and_then(|rest| rest.iter().position(|&byte| byte == b'"')) {
        let start = at + quote + 1;
        if skeleton.len() + (start - kept) > SKELETON_MAX_BYTES {
            return None;
        }
        // The closing quote, past escapes; a raw control character or a bad escape keeps the
        // token (JSON.parse then refuses the skeleton as it would the text).
        let (mut end, mut escaped, mut valid) = (start, false, true);
        loop {
            let found = next_special(bytes, end)?;
            match bytes.get(found) {
                Some(b'"') => {
                    end = found;
                    break;
                }
                Some(b'\\') => {
                    escaped = true;
                    end = found + 2;
                }
                _ => {
                    valid = false;
                    end = found + 1;
                }
            }
        }
        at = end + 1;
        let next = bytes.get(at..).and_then(|rest| rest.iter().find(|byte| !byte.is_ascii_whitespace()));
        let raw = text.get(start..end)?;
        let leaves = valid
            && next != Some(&b':')
            && end - start >= PART_MIN_BYTES
            && (!escaped || decoded_length(raw).is_some());
        if leaves {
            let segment = text.get(kept..start - 1)?;
            if !keepable(segment) {
                return None;
            }
            skeleton.push_str(segment);
            skeleton.push('"');
            skeleton.push_str(PART_PREFIX);
            skeleton.push_str(&parts.len().to_string());
            skeleton.push('"');
            parts.push(Part { start, end, escaped });
            kept = at;
        } else if skeleton.len() + (at - kept) > SKELETON_MAX_BYTES {
            return None;
        }
    }
    let rest = text.get(kept..)?;
    if parts.is_empty() || !keepable(rest) || skeleton.len() + rest.len() > SKELETON_MAX_BYTES {
        return None;
    }
    skeleton.push_str(rest);
    Some((skeleton, parts))
}

/// The UTF-16 length of a JSON string's characters with escapes, or `None` when an escape is
/// not one JSON defines (`JSON.parse` would throw).
fn decoded_length(raw: &str) -> Option<usize> {
    let mut units = 0usize;
    decode_with(raw, |_| units += 1)?;
    Some(units)
}

/// A JSON string's characters as `JSON.parse` reads them, in UTF-16 units (a `\uD800` escape
/// stays a lone surrogate); `None` for an escape JSON does not define.
fn decode(raw: &str) -> Option<Zeroizing<Vec<u16>>> {
    // Never more units than bytes: sized once, so no reallocation leaves a copy behind.
    let mut units = Zeroizing::new(Vec::with_capacity(raw.len()));
    decode_with(raw, |unit| units.push(unit))?;
    Some(units)
}

fn decode_with(raw: &str, mut emit: impl FnMut(u16)) -> Option<()> {
    let mut rest = raw;
    while let Some(slash) = rest.find('\\') {
        rest.get(..slash)?.encode_utf16().for_each(&mut emit);
        let escape = rest.get(slash + 1..)?;
        let (unit, used) = match escape.as_bytes().first()? {
            b'"' => (u16::from(b'"'), 1),
            b'\\' => (u16::from(b'\\'), 1),
            b'/' => (u16::from(b'/'), 1),
            b'b' => (0x08, 1),
            b'f' => (0x0c, 1),
            b'n' => (u16::from(b'\n'), 1),
            b'r' => (u16::from(b'\r'), 1),
            b't' => (u16::from(b'\t'), 1),
            b'u' => {
                let hex = escape.get(1..5)?;
                if !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                    return None;
                }
                (u16::from_str_radix(hex, 16).ok()?, 5)
            }
            _ => return None,
        };
        emit(unit);
        rest = escape.get(used..)?;
    }
    rest.encode_utf16().for_each(&mut emit);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skeleton and each part's text, as `split` and `prepare` would make them.
    fn parts_of(text: &str) -> Option<(String, Vec<Vec<u16>>)> {
        split(text).map(|(skeleton, found)| {
            let parts = found
                .iter()
                .map(|part| {
                    let raw = text.get(part.start..part.end).unwrap_or_default();
                    if part.escaped {
                        decode(raw).map(|units| units.to_vec()).unwrap_or_default()
                    } else {
                        raw.encode_utf16().collect()
                    }
                })
                .collect();
            (skeleton.to_string(), parts)
        })
    }

    fn units(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    #[test]
    fn long_values_leave_the_skeleton() {
        let long = "x".repeat(300);
        let text = format!(r#"{{"msg":"{long}","attachments":[{{"description":"{long}é","n":-1.5e3}}],"t":"short"}}"#);
        let (skeleton, parts) = parts_of(&text).unwrap_or_default();
        assert_eq!(
            skeleton,
            r#"{"msg":"rc-e2ee-part:0","attachments":[{"description":"rc-e2ee-part:1","n":-1.5e3}],"t":"short"}"#
        );
        assert_eq!(parts, vec![units(&long), units(&format!("{long}é"))]);
    }

    #[test]
    fn escapes_are_decoded_as_json_parse_does() {
        let long = "w".repeat(300);
        let text = format!(r#"{{"msg":"{long}\n\"\\\/\b\f\r\t\u00e9\ud83c\udf0d\ud800!"}}"#);
        let (skeleton, parts) = parts_of(&text).unwrap_or_default();
        assert_eq!(skeleton, r#"{"msg":"rc-e2ee-part:0"}"#);
        let mut expected = units(&format!("{long}\n\"\\/\u{8}\u{c}\r\té🌍"));
        expected.extend([0xd800, u16::from(b'!')]);
        assert_eq!(parts, vec![expected]);
    }

    #[test]
    fn what_does_not_split() {
        let long = "y".repeat(300);
        let cases = [
            r#"{"msg":"short"}"#.to_owned(),                                 // nothing long
            format!(r#"{{"{long}":"v"}}"#),                                  // a long key
            format!(r#"{{"{long}" :"v"}}"#),                                 // the same, spaced
            format!(r#"{{"$date":"{long}"}}"#),                              // an EJSON type
            format!(r#"{{"a\u0024":"{long}"}}"#),                            // an escape that could spell one
            format!(r#"{{"__proto__":{{}},"m":"{long}"}}"#),                 // a prototype key
            format!(r#"{{"m":"rc-e2ee-part:0","n":"{long}"}}"#),             // a look-alike placeholder
            format!(r#"{{"m":"{long}"#),                                     // unterminated
            format!(r#"{{"m":"{long}\x"}}"#),                                // an escape JSON lacks
            format!(r#"{{"m":"{long}\u12"}}"#),                              // a short \u escape
            format!(r#"{{"m":[{}],"n":"{long}"}}"#, "1,".repeat(600) + "1"), // a long skeleton
        ];
        for text in cases {
            assert!(parts_of(&text).is_none(), "{text}");
        }
    }

    #[test]
    fn a_raw_control_character_stays_for_json_parse_to_refuse() {
        let long = "z".repeat(300);
        let text = format!("{{\"a\":\"{long}\u{1}\",\"b\":\"{long}\"}}");
        // Kept, the bad token makes the skeleton too long here; either way it is never a part.
        assert!(parts_of(&text).is_none_or(|(skeleton, _)| skeleton.contains('\u{1}')));
        let short = format!("{{\"a\":\"\u{1}\",\"b\":\"{long}\"}}");
        let (skeleton, parts) = parts_of(&short).unwrap_or_default();
        assert_eq!(skeleton, "{\"a\":\"\u{1}\",\"b\":\"rc-e2ee-part:0\"}");
        assert_eq!(parts, vec![units(&long)]);
    }

    #[test]
    fn small_payloads_are_whole() {
        let text = format!(r#"{{"msg":"{}"}}"#, "s".repeat(1000));
        assert!(matches!(prepare(Zeroizing::new(text)), Either::A(OwnedText::Copied(_))));
        let large = format!(r#"{{"msg":"{}"}}"#, "l".repeat(EXTERNAL_MIN_BYTES));
        let split = match prepare(Zeroizing::new(large)) {
            Either::B(split) => Some(split),
            Either::A(_) => None,
        };
        assert!(split.is_some_and(|split| {
            split.skeleton.0.as_str() == r#"{"msg":"rc-e2ee-part:0"}"#
                && matches!(split.parts.as_slice(), [OwnedText::Latin1(bytes)] if bytes.len() == EXTERNAL_MIN_BYTES)
        }));
    }
}
