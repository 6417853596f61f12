//! The one error-mapping table: core and key-store errors become JS errors whose `code` is
//! stable.
//!
//! Synchronous calls throw an `Error` whose `code` is the core code. Errors of background tasks
//! can only carry napi-rs's own status, so their message is prefixed `CODE: `; the TypeScript
//! facade (`native/lib/errors.ts`) turns both shapes into one `E2EEError` with `code`.
//!
//! Panics are caught at three layers: every export and getter is `#[napi(catch_unwind)]`, which
//! also covers argument conversion and the conversion of the return value (napi-rs reports it
//! with status `GenericFailure`, which the facade maps to `E2EE_INTERNAL`); bodies run under
//! [`guard`], which gives the fixed `E2EE_INTERNAL` error; and a background task's result is
//! converted under [`Guarded`], since napi-rs converts it outside any `catch_unwind`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::Error as CoreError;

use crate::wire::{Guarded, PanicOnConversion, PanicOnReturn};

/// An error status whose text is the stable code.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Replaces the default panic hook, which prints the panic payload to stderr: a payload may
/// quote data the code was handling. Ours prints where the panic happened and nothing else.
/// Each cdylib has its own copy of std, so this hook covers this addon only.
#[napi_derive::module_init]
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("rc-e2ee: internal panic at {location}; reported to the caller as E2EE_INTERNAL");
    }));
}

/// Runs `body`, turning a panic into [`CoreError::Internal`]. The panic payload is dropped on
/// purpose: it could quote data the panic saw.
pub fn guard<T>(body: impl FnOnce() -> rc_e2ee_core::Result<T>) -> rc_e2ee_core::Result<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(CoreError::Internal("panic in native code")))
}

/// [`guard`] for synchronous exports.
pub fn sync<T>(body: impl FnOnce() -> rc_e2ee_core::Result<T>) -> Result<T, Code> {
    guard(body).map_err(to_js)
}

pub fn to_js(error: CoreError) -> napi::Error<Code> {
    napi::Error::new(Code(error.code()), error.to_string())
}

/// For `AsyncTask::compute`, whose error type is fixed by napi-rs.
pub fn to_task_error(error: CoreError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {error}", error.code()))
}

/// A key-store error, in the same `CODE: ` shape as a background task's (an async export's
/// error type is fixed by napi-rs too).
pub fn to_keystore_error(error: rc_e2ee_keystore::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {error}", error.code()))
}

/// Runs a key-store future, turning a panic into `E2EE_INTERNAL` like every other export.
pub async fn run<T>(future: impl std::future::Future<Output = rc_e2ee_keystore::Result<T>>) -> Result<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result.map_err(to_keystore_error),
        Err(_) => Err(to_task_error(CoreError::Internal("panic in native code"))),
    }
}

/// Every code the native layer can produce; the facade's list is tested against it.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<&'static str> {
    CoreError::ALL_CODES.to_vec()
}

/// Panics inside a guarded export. It exists so the test suite can prove that a panic surfaces
/// as an `E2EE_INTERNAL` error and the process lives on; it touches no state.
#[napi(catch_unwind)]
#[allow(clippy::panic)] // ok: the panic is the point of the probe
pub fn internal_panic_probe() -> Result<(), Code> {
    sync(|| -> rc_e2ee_core::Result<()> { std::panic::panic_any("probe") })
}

/// The same inside a background task.
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
#[allow(clippy::panic)] // ok: the panic is the point of the probe
pub fn internal_panic_probe_in_background() -> AsyncTask<Background<(), ()>> {
    Background::new(|| -> rc_e2ee_core::Result<()> { std::panic::panic_any("probe") }, Ok)
}

/// The same while the argument is converted, before any body runs.
#[napi(catch_unwind)]
pub fn internal_panic_probe_in_argument(#[napi(ts_arg_type = "unknown")] _value: PanicOnConversion) {}

/// The same while a background task's result is converted on the JS thread.
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn internal_panic_probe_in_result() -> AsyncTask<Background<(), PanicOnReturn>> {
    Background::new(|| Ok(()), |()| Ok(PanicOnReturn))
}

/// A getter that panics, for the same proof on class accessors.
#[napi]
pub struct InternalPanicProbe {}

#[napi]
impl InternalPanicProbe {
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)] // a JS constructor, not a Rust one
    pub fn new() -> Self {
        Self {}
    }

    #[napi(getter, catch_unwind)]
    #[allow(clippy::panic)] // ok: the panic is the point of the probe
    pub fn value(&self) -> u32 {
        std::panic::panic_any("probe")
    }
}

/// A background task: `work` runs on the libuv pool under [`guard`]; `finish` converts its
/// output on the JS thread.
pub struct Background<O, J> {
    work: Option<Box<dyn FnOnce() -> rc_e2ee_core::Result<O> + Send>>,
    finish: fn(O) -> rc_e2ee_core::Result<J>,
}

impl<O, J> Background<O, J> {
    pub fn new(
        work: impl FnOnce() -> rc_e2ee_core::Result<O> + Send + 'static,
        finish: fn(O) -> rc_e2ee_core::Result<J>,
    ) -> AsyncTask<Self>
    where
        O: Send + 'static,
        J: ToNapiValue + TypeName + 'static,
    {
        AsyncTask::new(Self { work: Some(Box::new(work)), finish })
    }
}

impl<O: Send + 'static, J: ToNapiValue + TypeName + 'static> Task for Background<O, J> {
    type Output = O;
    type JsValue = Guarded<J>;

    fn compute(&mut self) -> Result<O> {
        let work = self.work.take().ok_or(CoreError::Internal("task ran twice")).map_err(to_task_error)?;
        guard(work).map_err(to_task_error)
    }

    fn resolve(&mut self, _env: Env, output: O) -> Result<Guarded<J>> {
        let finish = self.finish;
        guard(move || finish(output)).map(Guarded).map_err(to_task_error)
    }
}
