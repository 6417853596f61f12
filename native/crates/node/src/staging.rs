//! Large arguments of background calls, copied onto the Rust side a slice at a time.
//!
//! Reading an 11 MiB base64 string (or copying a 32 MiB `Buffer`) in one go holds the JS
//! thread for 10 to 30 ms here, most of it the kernel mapping fresh pages for the copy. The
//! facade instead creates a [`JsStaged`] of the final length and appends slices of at most
//! 128 KiB, one per turn of the event loop, then hands it to the `*Staged` call, which takes
//! its bytes to the worker: no turn copies more than a slice. A caller's `Buffer` is still
//! copied (on the JS thread, slice by slice) rather than read from the worker, which would race
//! with JavaScript detaching or transferring it.
#![allow(unsafe_code)] // FFI: N-API writes a slice straight into the staged allocation.

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use rc_e2ee_core::Error as CoreError;

use crate::errors::{sync, Code};

const OVERFULL: CoreError = CoreError::BadInput("staged input longer than announced");
const INCOMPLETE: CoreError = CoreError::BadInput("staged input shorter than announced");
const TAKEN: CoreError = CoreError::BadInput("staged input already used");

/// An argument being assembled: a base64 text (one byte per UTF-16 unit, as `Ascii` reads
/// it) or the bytes of a `Buffer`. Used by one call, then empty.
#[napi(js_name = "Staged")]
pub struct JsStaged {
    expected: usize,
    bytes: RefCell<Option<Vec<u8>>>,
}

#[napi]
impl JsStaged {
    /// An empty staged argument of `length` characters (text) or bytes (`Buffer`).
    #[napi(catch_unwind)]
    pub fn with_length(length: u32) -> Result<JsStaged, Code> {
        sync(|| {
            // At most 4 GiB (a u32): the facade stages texts up to the codec's 64 MiB cap and
            // files as they come.
            let expected = length as usize;
            // One byte more: N-API terminates what it writes. Reserved, not touched: a page is
            // mapped by the slice that first writes it.
            Ok(JsStaged { expected, bytes: RefCell::new(Some(Vec::with_capacity(expected + 1))) })
        })
    }

    /// Appends a slice of a base64 text. ASCII (every real base64 text) is written by N-API
    /// straight into place; a slice with any other character is read again unit by unit, each
    /// non-ASCII unit becoming `!` exactly as a text argument read whole does.
    #[napi(catch_unwind)]
    pub fn append_text(&self, #[napi(ts_arg_type = "string")] text: Argument) -> Result<(), Code> {
        sync(|| {
            let mut slot = self.bytes.try_borrow_mut().map_err(|_| TAKEN)?;
            let bytes = slot.as_mut().ok_or(TAKEN)?;
            // SAFETY: the argument's env and value are live for this call.
            unsafe { append_text(text.env, text.value, bytes, self.expected) }
        })
    }

    /// Appends a slice of a `Buffer` (copied now, on the calling thread).
    #[napi(catch_unwind)]
    pub fn append_bytes(&self, data: Buffer) -> Result<(), Code> {
        sync(|| {
            let mut slot = self.bytes.try_borrow_mut().map_err(|_| TAKEN)?;
            let bytes = slot.as_mut().ok_or(TAKEN)?;
            if bytes.len() + data.len() > self.expected {
                return Err(OVERFULL);
            }
            bytes.extend_from_slice(&data);
            Ok(())
        })
    }
}

/// An argument kept as N-API gave it, read by the method body itself (into the staged
/// allocation, which a conversion to a Rust value could not reach). Valid during the call only.
pub struct Argument {
    env: sys::napi_env,
    value: sys::napi_value,
}

impl FromNapiValue for Argument {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        Ok(Argument { env, value })
    }
}

impl TypeName for Argument {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl JsStaged {
    /// The assembled bytes, for one background call; the staged argument is empty afterwards.
    pub fn take(&self) -> rc_e2ee_core::Result<Vec<u8>> {
        let bytes = self.bytes.try_borrow_mut().map_err(|_| TAKEN)?.take().ok_or(TAKEN)?;
        if bytes.len() != self.expected {
            return Err(INCOMPLETE);
        }
        Ok(bytes)
    }
}

/// The staged bytes of a text as the `String` a text argument would have been: ASCII by
/// construction, checked on the worker that calls this.
pub fn into_ascii(bytes: Vec<u8>) -> rc_e2ee_core::Result<String> {
    String::from_utf8(bytes).map_err(|_| CoreError::Internal("staged text is not ASCII"))
}

unsafe fn append_text(
    env: sys::napi_env,
    value: sys::napi_value,
    bytes: &mut Vec<u8>,
    expected: usize,
) -> rc_e2ee_core::Result<()> {
    let unreadable = CoreError::BadInput("a staged text slice could not be read");
    let mut units = 0usize;
    // SAFETY: a null buffer asks N-API for the length in UTF-16 units only.
    let status = unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut units) };
    if status != sys::Status::napi_ok {
        return Err(unreadable);
    }
    let start = bytes.len();
    if start + units > expected {
        return Err(OVERFULL);
    }
    // Capacity is expected + 1, so `units + 1` bytes fit after `start`.
    let mut written = 0usize;
    // SAFETY: the spare capacity holds at least `units + 1` bytes; N-API writes at most `units`
    // bytes of whole characters plus a terminator, and reports how many it wrote.
    let status = unsafe {
        sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().add(start).cast(), units + 1, &mut written)
    };
    if status != sys::Status::napi_ok || written > units {
        return Err(unreadable);
    }
    // SAFETY: N-API initialized `written` bytes after `start`.
    unsafe { bytes.set_len(start + written) };
    // Only all-ASCII text writes one byte per unit and nothing above 0x7f.
    if written == units && bytes.get(start..).is_some_and(<[u8]>::is_ascii) {
        return Ok(());
    }
    bytes.truncate(start);
    let mut wide = vec![0u16; units + 1];
    let mut read = 0usize;
    // SAFETY: `wide` holds `units + 1` u16s: the whole slice and a terminator.
    let status = unsafe { sys::napi_get_value_string_utf16(env, value, wide.as_mut_ptr(), wide.len(), &mut read) };
    if status != sys::Status::napi_ok || read != units {
        return Err(unreadable);
    }
    bytes.extend(wide.iter().take(units).map(|&unit| if unit < 0x80 { unit as u8 } else { b'!' }));
    Ok(())
}
