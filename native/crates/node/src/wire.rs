//! Values crossing N-API, converted without running JavaScript and without quoting them.
//!
//! Message fields are read in one N-API call each: napi-rs reads a `String` argument with two
//! calls (length, then copy) and a fresh allocation; at a few hundred nanoseconds per call that
//! was most of the cost of decrypting a message. Here a string is copied as UTF-16 into a
//! reused scratch buffer in one call, and a value that is not a string reads as absent (the
//! facade passes non-strings as `undefined`).
//!
//! Other string arguments are [`Str`] or, for secrets, [`Secret`]: napi-rs's own `String`
//! conversion formats a refused value with `JSON.stringify`, which runs the caller's getters
//! and `toJSON`, throws on a circular object and quotes the value in the message. These refuse
//! anything but a string with a fixed message and run no JavaScript.
#![allow(unsafe_code)] // FFI: the whole point of this module; each block says why it is sound.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, Object, ToNapiValue, TypeName, ValueType};
use napi::{sys, Error, Result, Status};
use zeroize::{Zeroize, Zeroizing};

use crate::messages::{ContentFields, MessageFields};

/// The message of an error that stands for a caught panic; the facade reads the code prefix.
pub const PANIC_MESSAGE: &str = "E2EE_INTERNAL: internal error: panic in native code";

fn not_a_string() -> Error {
    Error::new(Status::StringExpected, "invalid input: a string argument was expected")
}

fn unreadable() -> Error {
    Error::new(Status::InvalidArg, "invalid input: a string argument could not be read")
}

/// Reads the JS string `value` as UTF-8 straight into a zeroizing buffer: no other copy of the
/// text is made on the Rust side.
unsafe fn utf8_of(env: sys::napi_env, value: sys::napi_value) -> Result<Zeroizing<String>> {
    let mut length = 0usize;
    // SAFETY: a null buffer asks N-API for the UTF-8 length only.
    let status = unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut length) };
    if status == sys::Status::napi_string_expected {
        return Err(not_a_string());
    }
    if status != sys::Status::napi_ok {
        return Err(unreadable());
    }
    let capacity = length.checked_add(1).ok_or_else(unreadable)?;
    let mut bytes = Zeroizing::new(vec![0u8; capacity]);
    let mut written = 0usize;
    // SAFETY: `bytes` is valid for `capacity` writes; N-API writes at most capacity - 1 bytes
    // plus a terminator and reports how many it wrote.
    let status =
        unsafe { sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), capacity, &mut written) };
    if status != sys::Status::napi_ok {
        return Err(unreadable());
    }
    bytes.truncate(written);
    // Moves the allocation into the string; N-API writes valid UTF-8, so this cannot fail.
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(error) => {
            error.into_bytes().zeroize();
            Err(unreadable())
        }
    }
}

/// A required, non-secret string argument (kid, user id, public key, blob, iv).
pub struct Str(pub String);

impl FromNapiValue for Str {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe { utf8_of(env, value) }.map(|mut text| Str(std::mem::take(&mut *text)))
    }
}

/// Bytes an [`Id`] holds on the stack: twice the longest id the key store accepts (512
/// bytes), so that every valid id, and a too-long one up to this size, needs no allocation.
const ID_INLINE_BYTES: usize = 1024;

/// A required id argument (app id, room id) on the per-message path. A short one is read in
/// one N-API call into a buffer on the stack, where [`Str`] takes two calls (length, then
/// copy) and an allocation; a longer one is read as `Str` reads it. Same text either way:
/// UTF-8, lone surrogates as U+FFFD.
// The kilobyte lives on the stack for one call: avoiding the heap is the point.
#[allow(clippy::large_enum_variant)]
pub enum Id {
    Inline { bytes: [u8; ID_INLINE_BYTES], len: usize },
    Heap(String),
}

impl FromNapiValue for Id {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut bytes = [0u8; ID_INLINE_BYTES];
        let mut written = 0usize;
        // SAFETY: `bytes` is valid for ID_INLINE_BYTES writes; N-API writes at most that less
        // one, whole characters only, and reports how many bytes it wrote.
        let status = unsafe {
            sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), bytes.len(), &mut written)
        };
        if status == sys::Status::napi_string_expected {
            return Err(not_a_string());
        }
        if status != sys::Status::napi_ok {
            return Err(unreadable());
        }
        // With room left for any character (4 bytes) after what was written, nothing was cut.
        if written + 1 + 4 <= ID_INLINE_BYTES && std::str::from_utf8(bytes.get(..written).unwrap_or_default()).is_ok() {
            return Ok(Id::Inline { bytes, len: written });
        }
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe { utf8_of(env, value) }.map(|mut text| Id::Heap(std::mem::take(&mut *text)))
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // Checked to be UTF-8 when it was read.
            Id::Inline { bytes, len } => std::str::from_utf8(bytes.get(..*len).unwrap_or_default()).unwrap_or_default(),
            Id::Heap(text) => text,
        }
    }
}

impl TypeName for Id {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A required secret string argument (JWK, password, plaintext), zeroized when dropped.
pub struct Secret(pub Zeroizing<String>);

impl FromNapiValue for Secret {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe { utf8_of(env, value) }.map(Secret)
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl TypeName for Str {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl TypeName for Secret {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

/// Decrypted bytes handed back to JavaScript as a `Buffer`. Up to [`EXTERNAL_MIN_BYTES`] they
/// are copied into V8's memory and the Rust copy is zeroized when this drops. Larger ones (a
/// file) are not copied: the `Buffer` is made over this very allocation, and Node hands it
/// back to [`release`] when the `Buffer` is collected, which zeroizes it then. (A plain
/// `Buffer::from(Vec)` would also avoid the copy, but frees without zeroizing.)
pub struct PlainBytes(pub Zeroizing<Vec<u8>>);

fn no_buffer() -> Error {
    Error::new(Status::GenericFailure, "E2EE_INTERNAL: internal error: could not create a Buffer")
}

impl ToNapiValue for PlainBytes {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        if value.0.len() >= EXTERNAL_MIN_BYTES {
            let owner = Box::new(value.0);
            let (data, length) = (owner.as_ptr(), owner.len());
            let hint = Box::into_raw(owner);
            // SAFETY: `data` is valid for `length` bytes for as long as `hint` lives, and the
            // finalizer frees `hint` exactly once, after V8 is done with the memory.
            let status = unsafe {
                sys::napi_create_external_buffer(
                    env,
                    length,
                    data.cast_mut().cast(),
                    Some(release::<Zeroizing<Vec<u8>>>),
                    hint.cast(),
                    &mut out,
                )
            };
            if status == sys::Status::napi_ok {
                return Ok(out);
            }
            if status != sys::Status::napi_no_external_buffers_allowed {
                // Node may already have run the finalizer (it does when the Buffer cannot be
                // made): the allocation is left alone, on a path no file size reaches.
                return Err(no_buffer());
            }
            // A runtime without external buffers (a V8 sandbox) took nothing: copy instead.
            // SAFETY: `hint` came from `Box::into_raw` above and nobody else has it.
            let owner = unsafe { Box::from_raw(hint) };
            return unsafe { PlainBytes(*owner).copied(env) };
        }
        unsafe { value.copied(env) }
    }
}

impl PlainBytes {
    /// The bytes as a new `Buffer` in V8's memory; this copy is zeroized when it drops.
    unsafe fn copied(self, env: sys::napi_env) -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        let mut data = ptr::null_mut();
        // SAFETY: the source is valid for `len` bytes; N-API copies them into a new Buffer.
        let status =
            unsafe { sys::napi_create_buffer_copy(env, self.0.len(), self.0.as_ptr().cast(), &mut data, &mut out) };
        if status != sys::Status::napi_ok {
            return Err(no_buffer());
        }
        Ok(out)
    }
}

/// Results of at least this many bytes reach JavaScript over their own allocation, not as a
/// copy: copying 8 MiB on the JS thread takes milliseconds, creating an external string or
/// Buffer takes microseconds. Below it a copy is cheaper than the bookkeeping.
pub const EXTERNAL_MIN_BYTES: usize = 64 * 1024;

/// The finalizer of an external Buffer: frees (and, for zeroizing owners, zeroizes) the owner
/// leaked when it was created, on the [`shred`] thread. Touches no JavaScript.
unsafe extern "C" fn release<T: Send + 'static>(
    _env: sys::napi_env,
    _data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: `hint` is the `Box<T>` leaked by the creator, handed back exactly once by Node.
    shred(unsafe { Box::from_raw(hint.cast::<T>()) });
}

/// The same for an external string, whose finalizer may run during GC (a "basic" finalizer).
unsafe extern "C" fn release_basic<T: Send + 'static>(
    _env: sys::node_api_basic_env,
    _data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: as for `release`.
    shred(unsafe { Box::from_raw(hint.cast::<T>()) });
}

/// Drops `owner` (a large result's allocation: zeroized, then freed) on a thread of its own.
/// Zeroizing and unmapping 8 to 32 MiB takes milliseconds, and a finalizer runs on the JS
/// thread, an external string's even inside a GC pause. When that thread cannot be had, the
/// owner is dropped here. Allocations still queued at exit are not zeroized: the process's
/// memory goes with it.
fn shred<T: Send + 'static>(owner: Box<T>) {
    use std::sync::mpsc::{channel, Sender};
    use std::sync::{Mutex, OnceLock};
    type Owner = Box<dyn Send>;
    static SHREDDER: OnceLock<Option<Mutex<Sender<Owner>>>> = OnceLock::new();
    let shredder = SHREDDER.get_or_init(|| {
        let (sender, receiver) = channel::<Owner>();
        let spawned = std::thread::Builder::new().name("rc-e2ee-shred".into()).spawn(move || {
            for owner in receiver {
                drop(owner);
            }
        });
        spawned.ok().map(|_| Mutex::new(sender))
    });
    let owner: Owner = owner;
    let refused = match shredder.as_ref().map(|sender| sender.lock()) {
        Some(Ok(sender)) => sender.send(owner).err().map(|error| error.0),
        _ => Some(owner),
    };
    drop(refused);
}

/// An external string over `owner`'s characters (`latin1` bytes or UTF-16 units, chosen by
/// `create`). When Node copies instead (a runtime without external strings) it has already run
/// the finalizer, which freed `owner`. On a failure nobody can tell whether Node's string
/// resource still points at `owner`, so it is left alone (a leak, on a path the codec's sizes
/// never reach: V8's limit is about 512 M characters).
unsafe fn external<T: Send + 'static, C>(
    env: sys::napi_env,
    owner: Box<T>,
    data: *const C,
    length: usize,
    create: unsafe extern "C" fn(
        sys::napi_env,
        *const C,
        isize,
        sys::node_api_basic_finalize,
        *mut std::ffi::c_void,
        *mut sys::napi_value,
        *mut bool,
    ) -> sys::napi_status,
) -> Result<sys::napi_value> {
    let length = isize::try_from(length).map_err(|_| Error::new(Status::GenericFailure, "string too long"))?;
    let hint = Box::into_raw(owner);
    let (mut out, mut copied) = (ptr::null_mut(), false);
    // SAFETY: `data` points into `*hint`'s heap allocation, valid for `length` characters until
    // the finalizer frees `hint`, exactly once.
    let status = unsafe { create(env, data, length, Some(release_basic::<T>), hint.cast(), &mut out, &mut copied) };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::GenericFailure, "could not create a string"));
    }
    Ok(out)
}

/// A decrypted payload from a background task. Prepared on the worker thread
/// ([`OwnedText::prepare`]) so that the JS thread does no per-character work: a large ASCII
/// text becomes an external one-byte string over the decrypted bytes, a large text with other
/// characters is transcoded to UTF-16 on the worker and becomes an external two-byte string.
/// Either allocation is zeroized by [`release`] when V8 collects the string; a copy V8 itself
/// makes later (flattening a concatenation, say) lives in V8's heap, as any copied string does.
pub enum OwnedText {
    Copied(PlainText),
    Latin1(Zeroizing<Vec<u8>>),
    Utf16(Zeroizing<Vec<u16>>),
}

impl OwnedText {
    pub fn prepare(mut text: Zeroizing<String>) -> Self {
        if text.len() < EXTERNAL_MIN_BYTES {
            return OwnedText::Copied(PlainText(text));
        }
        if text.is_ascii() {
            return OwnedText::Latin1(Zeroizing::new(std::mem::take(&mut *text).into_bytes()));
        }
        // Sized first so the vector never reallocates (which would leave unzeroized pieces).
        let mut units = Zeroizing::new(Vec::with_capacity(text.encode_utf16().count()));
        units.extend(text.encode_utf16());
        OwnedText::Utf16(units)
    }

    /// Text decoded on a worker as UTF-16 units (a JSON string's escapes, see `payload`): as
    /// [`prepare`](Self::prepare) would hold it, or as those units when they hold a lone
    /// surrogate, which no Rust string can.
    pub fn from_units(units: Zeroizing<Vec<u16>>) -> Self {
        let mut bytes = 0usize;
        for decoded in char::decode_utf16(units.iter().copied()) {
            match decoded {
                Ok(c) => bytes += c.len_utf8(),
                Err(_) => return OwnedText::Utf16(units),
            }
        }
        // Sized first so the string never reallocates (which would leave unzeroized pieces).
        let mut text = Zeroizing::new(String::with_capacity(bytes));
        text.extend(char::decode_utf16(units.iter().copied()).flatten());
        Self::prepare(text)
    }
}

impl ToNapiValue for OwnedText {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        // SAFETY: each owner's data pointer and length describe its own heap allocation, which
        // moving the owner into a Box does not move.
        unsafe {
            match value {
                OwnedText::Copied(text) => PlainText::to_napi_value(env, text),
                OwnedText::Latin1(bytes) => {
                    let (data, length) = (bytes.as_ptr().cast::<std::ffi::c_char>(), bytes.len());
                    external(env, Box::new(bytes), data, length, sys::node_api_create_external_string_latin1)
                }
                OwnedText::Utf16(units) => {
                    let (data, length) = (units.as_ptr(), units.len());
                    external(env, Box::new(units), data, length, sys::node_api_create_external_string_utf16)
                }
            }
        }
    }
}

impl TypeName for OwnedText {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

/// An `EncryptedContent` the codec just sealed, as the JS object of that type; the
/// ciphertext is created as a one-byte string (external when large: see [`Base64Text`]) rather
/// than decoded from UTF-8 on the JS thread.
pub struct Sealed(pub rc_e2ee_core::EncryptedContent);

impl ToNapiValue for Sealed {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        let sealed = value.0;
        let mut object = Object::new(&napi::Env::from_raw(env))?;
        object.set("algorithm", sealed.algorithm)?;
        object.set("kid", sealed.kid)?;
        object.set("iv", sealed.iv)?;
        object.set("ciphertext", Base64Text(sealed.ciphertext))?;
        // SAFETY: `object` was just created in `env`.
        unsafe { Object::to_napi_value(env, object) }
    }
}

impl TypeName for Sealed {
    fn type_name() -> &'static str {
        "EncryptedContent"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// A base64 string the codec wrote (a ciphertext): ASCII, created as a one-byte string, and
/// above [`EXTERNAL_MIN_BYTES`] as an external one over this allocation (not secret, so not
/// zeroized).
pub struct Base64Text(pub String);

impl ToNapiValue for Base64Text {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        let bytes = value.0.into_bytes();
        if bytes.len() >= EXTERNAL_MIN_BYTES {
            let (data, length) = (bytes.as_ptr().cast::<std::ffi::c_char>(), bytes.len());
            // SAFETY: as for `OwnedText`.
            return unsafe {
                external(env, Box::new(bytes), data, length, sys::node_api_create_external_string_latin1)
            };
        }
        let mut out = ptr::null_mut();
        let length = isize::try_from(bytes.len()).map_err(|_| Error::new(Status::GenericFailure, "string too long"))?;
        // SAFETY: `bytes` is valid for `length` bytes; N-API copies them into a new JS string.
        let status = unsafe { sys::napi_create_string_latin1(env, bytes.as_ptr().cast(), length, &mut out) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "could not create a string"));
        }
        Ok(out)
    }
}

impl TypeName for Base64Text {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl TypeName for PlainBytes {
    fn type_name() -> &'static str {
        "Buffer"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// A background task's result: its conversion to a JS value runs in napi-rs's completion
/// callback, outside any `#[napi(catch_unwind)]`, so it is guarded here.
pub struct Guarded<T>(pub T);

impl<T: ToNapiValue> ToNapiValue for Guarded<T> {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        // SAFETY: env comes straight from N-API's completion callback.
        catch_unwind(AssertUnwindSafe(|| unsafe { T::to_napi_value(env, value.0) }))
            .unwrap_or_else(|_| Err(Error::new(Status::GenericFailure, PANIC_MESSAGE)))
    }
}

impl<T: TypeName> TypeName for Guarded<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

/// `error` built as a JS `Error` object (its `code` the error's status) and held by the napi-rs
/// error returned: napi-rs settles a promise with such an error by handing over that very
/// object. Must run on the JS thread of `env`.
pub fn held_error<S: AsRef<str>>(env: &napi::Env, error: Error<S>) -> Error {
    let status = error.status.as_ref().to_owned();
    // SAFETY: `env` is the live environment of the JS thread this runs on.
    let value = unsafe { napi::JsError::from(error).into_value(env.raw()) };
    if value.is_null() {
        // The environment is tearing down and could not build an object; nobody is waiting.
        return Error::new(Status::GenericFailure, status);
    }
    // SAFETY: `value` was just created in `env` and is a live handle of this scope.
    Error::from(unsafe { napi::bindgen_prelude::Unknown::from_raw_unchecked(env.raw(), value) })
}

/// An argument whose conversion panics: the test suite's probe that a panic during argument
/// conversion is caught (`#[napi(catch_unwind)]`) and the process lives on.
pub struct PanicOnConversion;

impl FromNapiValue for PanicOnConversion {
    unsafe fn from_napi_value(_env: sys::napi_env, _value: sys::napi_value) -> Result<Self> {
        crate::errors::probe_panic()
    }
}

impl TypeName for PanicOnConversion {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

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
        unsafe { with_utf16(env, value, text_of_units) }.map(Text)
    }
}

/// UTF-16 units as text (unpaired surrogates become U+FFFD). Ids and kids are ASCII nearly
/// always: those are narrowed in one plain byte loop, not decoded character by character.
fn text_of_units(units: &[u16]) -> String {
    if units.iter().all(|&unit| unit < 0x80) {
        let bytes: Vec<u8> = units.iter().map(|&unit| unit as u8).collect();
        return String::from_utf8(bytes).unwrap_or_default();
    }
    String::from_utf16_lossy(units)
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
        match unsafe { with_small_utf16(env, value, narrow) }? {
            Small::Read(text) => Ok(Ascii(text)),
            // SAFETY: as above.
            Small::TooLong => unsafe { large_ascii(env, value) }.map(|text| Ascii(Some(text))),
        }
    }
}

enum Small<T> {
    Read(Option<T>),
    TooLong,
}

/// [`with_utf16`] for a string that fits the scratch buffer as it is; a longer one is not read.
unsafe fn with_small_utf16<T>(
    env: sys::napi_env,
    value: sys::napi_value,
    read: impl FnOnce(&[u16]) -> T,
) -> Result<Small<T>> {
    SCRATCH.with(|scratch| {
        let mut buffer = scratch.try_borrow_mut().map_err(|_| Error::new(Status::GenericFailure, "scratch in use"))?;
        let mut written = 0usize;
        // SAFETY: `buffer` is valid for `buffer.len()` u16 writes; N-API writes at most len - 1
        // units plus a terminator and reports how many it wrote.
        let status =
            unsafe { sys::napi_get_value_string_utf16(env, value, buffer.as_mut_ptr(), buffer.len(), &mut written) };
        if status == sys::Status::napi_string_expected {
            return Ok(Small::Read(None));
        }
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::InvalidArg, "a string argument could not be read"));
        }
        if written + 1 >= buffer.len() {
            return Ok(Small::TooLong);
        }
        Ok(Small::Read(Some(read(buffer.get(..written).unwrap_or_default()))))
    })
}

/// A long base64 field (a large message's ciphertext): read as UTF-8 straight into its final
/// buffer, which for a one-byte string is close to a memory copy, instead of widening to UTF-16
/// and narrowing again (three passes over megabytes on the JS thread). The result is the
/// same as the short path's: each UTF-16 unit outside ASCII becomes `!`.
unsafe fn large_ascii(env: sys::napi_env, value: sys::napi_value) -> Result<String> {
    let unreadable = || Error::new(Status::InvalidArg, "a string argument could not be read");
    let mut units = 0usize;
    // SAFETY: a null buffer asks N-API for the length in UTF-16 units only (no pass over it).
    if unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut units) } != sys::Status::napi_ok {
        return Err(unreadable());
    }
    // At most three UTF-8 bytes per unit; the pages past what is written are never touched.
    let capacity = units.checked_mul(3).and_then(|bytes| bytes.checked_add(1)).ok_or_else(unreadable)?;
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity);
    let mut written = 0usize;
    // SAFETY: `bytes` has room for `capacity` bytes; N-API writes at most capacity - 1 bytes
    // plus a terminator and reports how many it wrote, which are then initialized.
    let status =
        unsafe { sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), capacity, &mut written) };
    if status != sys::Status::napi_ok || written >= capacity {
        return Err(unreadable());
    }
    // SAFETY: N-API initialized the first `written` bytes.
    unsafe { bytes.set_len(written) };
    if bytes.is_ascii() {
        bytes.shrink_to_fit();
        return String::from_utf8(bytes).map_err(|_| unreadable());
    }
    // Rare (not base64 at all): one `!` per UTF-16 unit of each non-ASCII character.
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.chars().flat_map(|c| std::iter::repeat_n(if c.is_ascii() { c } else { '!' }, c.len_utf16())).collect())
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
        // SAFETY: env and array come straight from N-API argument conversion.
        let length = unsafe { array_length(env, array) }?;
        let mut column = AsciiColumn { bytes: Vec::new(), items: Vec::with_capacity(length as usize) };
        for index in 0..length {
            // SAFETY: reading element `index` of an array N-API just measured.
            let element = unsafe { element(env, array, index) }?;
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

/// Most items one batch call takes; the facade sends chunks of 256. Without a bound, a sparse
/// array of length 2^32 - 1 would be walked and allocated for (about 100 GB, an abort).
pub const MAX_COLUMN_ITEMS: u32 = 1_000_000;

/// The length of a JS array (a real one: a Proxy or an array-like is refused), at most
/// [`MAX_COLUMN_ITEMS`].
unsafe fn array_length(env: sys::napi_env, array: sys::napi_value) -> Result<u32> {
    let mut is_array = false;
    let mut length = 0u32;
    // SAFETY: env and array come straight from N-API; neither call runs JavaScript.
    let ok = unsafe {
        sys::napi_is_array(env, array, &mut is_array) == sys::Status::napi_ok
            && is_array
            && sys::napi_get_array_length(env, array, &mut length) == sys::Status::napi_ok
    };
    if !ok {
        Err(Error::new(Status::ArrayExpected, "invalid input: an array argument was expected"))
    } else if length > MAX_COLUMN_ITEMS {
        Err(Error::new(Status::InvalidArg, "E2EE_TOO_LARGE: input too large: more than 1000000 items in one batch"))
    } else {
        Ok(length)
    }
}

/// Element `index` of `array`. A throwing getter on an element leaves a pending exception:
/// it is cleared and replaced by a fixed error.
unsafe fn element(env: sys::napi_env, array: sys::napi_value, index: u32) -> Result<sys::napi_value> {
    let mut element = ptr::null_mut();
    // SAFETY: env and array come straight from N-API.
    if unsafe { sys::napi_get_element(env, array, index, &mut element) } == sys::Status::napi_ok {
        return Ok(element);
    }
    let mut thrown = ptr::null_mut();
    // SAFETY: clearing a pending exception; harmless when none is pending.
    let _ = unsafe { sys::napi_get_and_clear_last_exception(env, &mut thrown) };
    Err(Error::new(Status::InvalidArg, "invalid input: an array element could not be read"))
}

/// A JS array of text fields (`kids` of a batch); an element that is not a string is absent.
pub struct TextList(Vec<Option<String>>);

impl FromNapiValue for TextList {
    unsafe fn from_napi_value(env: sys::napi_env, array: sys::napi_value) -> Result<Self> {
        // SAFETY: env and array come straight from N-API argument conversion.
        let length = unsafe { array_length(env, array) }?;
        let mut items = Vec::with_capacity(length as usize);
        for index in 0..length {
            // SAFETY: as above; the element is converted without running JavaScript.
            items.push(unsafe { Text::from_napi_value(env, element(env, array, index)?) }?.0);
        }
        Ok(TextList(items))
    }
}

impl TextList {
    pub fn get(&self, index: usize) -> Option<&str> {
        self.0.get(index).and_then(Option::as_deref)
    }
}

impl TypeName for TextList {
    fn type_name() -> &'static str {
        "Array<string>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
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

/// A value whose conversion to JavaScript panics: the probe for a background task's result.
pub struct PanicOnReturn;

impl TypeName for PanicOnReturn {
    fn type_name() -> &'static str {
        "undefined"
    }
    fn value_type() -> ValueType {
        ValueType::Undefined
    }
}

impl ToNapiValue for PanicOnReturn {
    unsafe fn to_napi_value(_env: sys::napi_env, _value: Self) -> Result<sys::napi_value> {
        crate::errors::probe_panic()
    }
}

/// Reads `object[name]`. A getter or Proxy trap that throws leaves a pending exception; it is
/// cleared and replaced by a fixed error, so no value the caller threw comes back out.
unsafe fn member(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: `object` is an object (checked by the callers) and `name` is NUL-terminated.
    let status = unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut value) };
    if status == sys::Status::napi_ok {
        return Ok(value);
    }
    let mut thrown = ptr::null_mut();
    // SAFETY: clearing a pending exception; harmless when none is pending.
    let _ = unsafe { sys::napi_get_and_clear_last_exception(env, &mut thrown) };
    Err(Error::new(Status::InvalidArg, "invalid input: a member could not be read"))
}

/// Whether `value` is a JS object (functions excluded, as `typeof` would say).
unsafe fn is_object(env: sys::napi_env, value: sys::napi_value) -> Result<bool> {
    let mut kind = 0;
    // SAFETY: env and value come straight from N-API.
    if unsafe { sys::napi_typeof(env, value, &mut kind) } != sys::Status::napi_ok {
        return Err(Error::new(Status::InvalidArg, "invalid input: a value could not be read"));
    }
    Ok(kind == sys::ValueType::napi_object)
}

unsafe fn text_member(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> Result<Option<String>> {
    // SAFETY: as for `member`; the value read is converted without running JavaScript.
    unsafe { Text::from_napi_value(env, member(env, object, name)?) }.map(|text| text.0)
}

unsafe fn ascii_member(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> Result<Option<String>> {
    // SAFETY: as for `member`.
    unsafe { Ascii::from_napi_value(env, member(env, object, name)?) }.map(|text| text.0)
}

/// A `content` that is an object, else `None`.
unsafe fn content_member(
    env: sys::napi_env,
    object: sys::napi_value,
    name: &std::ffi::CStr,
) -> Result<Option<ContentFields>> {
    // SAFETY: as for `member`.
    unsafe {
        let value = member(env, object, name)?;
        if is_object(env, value)? {
            ContentFields::from_napi_value(env, value).map(Some)
        } else {
            Ok(None)
        }
    }
}

fn object_expected() -> Error {
    Error::new(Status::ObjectExpected, "invalid input: an object argument was expected")
}

impl FromNapiValue for ContentFields {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe {
            if !is_object(env, value)? {
                return Err(object_expected());
            }
            Ok(ContentFields {
                algorithm: text_member(env, value, c"algorithm")?,
                kid: text_member(env, value, c"kid")?,
                iv: ascii_member(env, value, c"iv")?,
                ciphertext: ascii_member(env, value, c"ciphertext")?,
            })
        }
    }
}

impl FromNapiValue for MessageFields {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: env and value come straight from N-API argument conversion.
        unsafe {
            if !is_object(env, value)? {
                return Err(object_expected());
            }
            Ok(MessageFields {
                t: text_member(env, value, c"t")?,
                msg: text_member(env, value, c"msg")?,
                content: content_member(env, value, c"content")?,
                pinned_content: content_member(env, value, c"pinnedContent")?,
            })
        }
    }
}

/// A JS array of at most `MAX` values of `T`, its length checked before any element is read
/// (a page of history for the key store's batch read).
pub struct List<T, const MAX: u32>(pub Vec<T>);

impl<T: FromNapiValue, const MAX: u32> FromNapiValue for List<T, MAX> {
    unsafe fn from_napi_value(env: sys::napi_env, array: sys::napi_value) -> Result<Self> {
        // SAFETY: env and array come straight from N-API argument conversion.
        let length = unsafe { array_length(env, array) }?;
        if length > MAX {
            return Err(Error::new(Status::InvalidArg, format!("invalid input: more than {MAX} items in one call")));
        }
        let mut items = Vec::with_capacity(length as usize);
        for index in 0..length {
            // SAFETY: reading element `index` of an array N-API just measured.
            items.push(unsafe { T::from_napi_value(env, element(env, array, index)?) }?);
        }
        Ok(List(items))
    }
}

impl<T, const MAX: u32> TypeName for List<T, MAX> {
    fn type_name() -> &'static str {
        "Array"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}
