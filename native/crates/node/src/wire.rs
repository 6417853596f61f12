//! Message fields read from JavaScript in one N-API call each.
//!
//! napi-rs reads a `String` argument with two calls (length, then copy) and a fresh
//! allocation; at a few hundred nanoseconds per call that was most of the cost of decrypting a
//! message. Here a string is copied as UTF-16 into a reused scratch buffer in one call, and a
//! value that is not a string reads as absent (the facade passes non-strings as `undefined`).
#![allow(unsafe_code)] // FFI: the whole point of this module; each block says why it is sound.

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValueType};
use napi::{sys, Error, Result, Status};

thread_local! {
    /// Scratch for UTF-16 copies; only the JS thread converts arguments, so there is one.
    static SCRATCH: RefCell<Vec<u16>> = RefCell::new(vec![0; 4096]);
}

/// Copies the JS string `value` as UTF-16 and hands the units to `read`. Returns `None` when
/// `value` is not a string.
unsafe fn with_utf16<T>(
    env: sys::napi_env,
    value: sys::napi_value,
    read: impl FnOnce(&[u16]) -> T,
) -> Result<Option<T>> {
    SCRATCH.with(|scratch| {
        let mut buffer = scratch.try_borrow_mut().map_err(|_| Error::new(Status::GenericFailure, "scratch in use"))?;
        let mut written = 0usize;
        // SAFETY: `buffer` is valid for `buffer.len()` u16 writes; N-API writes at most len - 1
        // units plus a terminator and reports how many it wrote.
        let status =
            unsafe { sys::napi_get_value_string_utf16(env, value, buffer.as_mut_ptr(), buffer.len(), &mut written) };
        if status == sys::Status::napi_string_expected {
            return Ok(None);
        }
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::InvalidArg, "a string argument could not be read"));
        }
        if written + 1 >= buffer.len() {
            // Possibly truncated: ask for the length, grow, read again.
            let mut length = 0usize;
            // SAFETY: a null buffer asks N-API for the length only.
            let status = unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut length) };
            if status != sys::Status::napi_ok {
                return Err(Error::new(Status::InvalidArg, "a string argument could not be read"));
            }
            buffer.resize(length + 1, 0);
            // SAFETY: as above, with the buffer grown to hold the whole string.
            let status = unsafe {
                sys::napi_get_value_string_utf16(env, value, buffer.as_mut_ptr(), buffer.len(), &mut written)
            };
            if status != sys::Status::napi_ok {
                return Err(Error::new(Status::InvalidArg, "a string argument could not be read"));
            }
        }
        let units = buffer.get(..written).unwrap_or_default();
        let result = read(units);
        if buffer.len() > 1 << 20 {
            // Keep the scratch for messages up to a megabyte; do not hold on to more.
            buffer.clear();
            buffer.shrink_to(4096);
            buffer.resize(4096, 0);
        }
        Ok(Some(result))
    })
}

/// A text field compared exactly (`algorithm`, `kid`). Lone surrogates become U+FFFD, as they
/// do everywhere a JS string meets UTF-8.
pub struct Text(pub Option<String>);

impl FromNapiValue for Text {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe { with_utf16(env, value, String::from_utf16_lossy) }.map(Text)
    }
}

impl Text {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A base64 wire field (`iv`, `ciphertext`). A character outside ASCII becomes `!`, which no
/// base64 alphabet holds, so it is rejected as malformed rather than silently truncated.
pub struct Ascii(pub Option<String>);

impl FromNapiValue for Ascii {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // A plain byte loop (vectorized by the compiler); pushing chars one by one was the
        // single most expensive step of decrypting a message.
        let narrow = |units: &[u16]| -> String {
            let bytes: Vec<u8> = units.iter().map(|&unit| if unit < 0x80 { unit as u8 } else { b'!' }).collect();
            String::from_utf8(bytes).unwrap_or_default()
        };
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe { with_utf16(env, value, narrow) }.map(Ascii)
    }
}

impl Ascii {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A JS array of base64 wire fields (`string | undefined` each), read into one contiguous
/// buffer: a batch costs one array walk and no allocation per item on the JS thread.
pub struct AsciiColumn {
    bytes: Vec<u8>,
    /// `(start, end)` in `bytes` per item; `None` where the element is not a string.
    items: Vec<Option<(usize, usize)>>,
}

impl FromNapiValue for AsciiColumn {
    unsafe fn from_napi_value(env: sys::napi_env, array: sys::napi_value) -> Result<Self> {
        let mut length = 0u32;
        // SAFETY: env and array come straight from N-API argument conversion.
        if unsafe { sys::napi_get_array_length(env, array, &mut length) } != sys::Status::napi_ok {
            return Err(Error::new(Status::ArrayExpected, "an array argument was expected"));
        }
        let mut column = AsciiColumn { bytes: Vec::new(), items: Vec::with_capacity(length as usize) };
        for index in 0..length {
            let mut element = ptr::null_mut();
            // SAFETY: reading element `index` of an array N-API just measured.
            if unsafe { sys::napi_get_element(env, array, index, &mut element) } != sys::Status::napi_ok {
                return Err(Error::new(Status::InvalidArg, "an array element could not be read"));
            }
            let bytes = &mut column.bytes;
            // SAFETY: env and element are valid for this call.
            let item = unsafe {
                with_utf16(env, element, |units| {
                    let start = bytes.len();
                    bytes.extend(units.iter().map(|&unit| if unit < 0x80 { unit as u8 } else { b'!' }));
                    (start, bytes.len())
                })
            }?;
            column.items.push(item);
        }
        Ok(column)
    }
}

impl AsciiColumn {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The text of every item; the buffer holds only ASCII, so this cannot fail.
    pub fn texts(&self) -> Vec<Option<&str>> {
        let all = std::str::from_utf8(&self.bytes).unwrap_or_default();
        self.items.iter().map(|item| item.and_then(|(start, end)| all.get(start..end))).collect()
    }
}

impl TypeName for AsciiColumn {
    fn type_name() -> &'static str {
        "Array<string | undefined>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl TypeName for Text {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl TypeName for Ascii {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

/// A decrypted payload handed back to JavaScript. ASCII text (most chat payloads are JSON with
/// escapes) is created as a one-byte string, which V8 copies without decoding.
pub struct PlainText(pub zeroize::Zeroizing<String>);

impl ToNapiValue for PlainText {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        let text = value.0.as_bytes();
        let length = isize::try_from(text.len()).map_err(|_| Error::new(Status::GenericFailure, "string too long"))?;
        // SAFETY: `text` is valid for `length` bytes; N-API copies them into a new JS string.
        let status = unsafe {
            if value.0.is_ascii() {
                sys::napi_create_string_latin1(env, text.as_ptr().cast(), length, &mut out)
            } else {
                sys::napi_create_string_utf8(env, text.as_ptr().cast(), length, &mut out)
            }
        };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "could not create a string"));
        }
        Ok(out)
    }
}

impl TypeName for PlainText {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}
