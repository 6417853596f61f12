//! The one error-mapping table: core and key-store errors become JS errors whose `code` is
//! stable, whichever way the call returns.
//!
//! Synchronous calls throw an `Error` whose `code` is the error's code ([`to_js`]). Background
//! tasks and the key store's async calls reject with the same object: napi-rs can only carry
//! its own status out of a worker thread, so the outcome crosses as data and the coded error is
//! built on the JS thread ([`rejection`]), where napi-rs hands it to the promise verbatim.
//!
//! Panics are caught at three layers: every export and getter is `#[napi(catch_unwind)]`, which
//! also covers argument conversion and the conversion of the return value (napi-rs reports it
//! with status `GenericFailure`, which the facade maps to `E2EE_INTERNAL`); bodies run under
//! [`guard`] (and key-store futures under [`promise`]), which give the fixed `E2EE_INTERNAL`
//! error; and a result is converted under [`Guarded`], since napi-rs converts it outside any
//! `catch_unwind`.

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::Error as CoreError;

use crate::wire::{held_error, Guarded, PanicOnConversion, PanicOnReturn};

/// An error with a stable code: the codec's and the key store's, the only two the bridge
/// reports.
pub trait Coded: std::fmt::Display {
    fn code(&self) -> &'static str;
}

impl Coded for CoreError {
    fn code(&self) -> &'static str {
        CoreError::code(self)
    }
}

impl Coded for rc_e2ee_keystore::Error {
    fn code(&self) -> &'static str {
        rc_e2ee_keystore::Error::code(self)
    }
}

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
        if PROBING.with(Cell::take) {
            eprintln!("rc-e2ee: intended panic of a test probe at {location}; reported as E2EE_INTERNAL (not a bug)");
        } else {
            eprintln!("rc-e2ee: internal panic at {location}; reported to the caller as E2EE_INTERNAL");
        }
    }));
}

thread_local! {
    /// Set by [`probe_panic`] so the hook can say the panic was meant.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// The panic of the test probes below: labelled as intended in the log, so a reader of a test
/// run does not take it for a bug.
#[allow(clippy::panic)] // ok: the panic is the point of the probes
#[track_caller] // the log names the probe that panicked, not this function
pub fn probe_panic() -> ! {
    PROBING.with(|probing| probing.set(true));
    std::panic::panic_any("probe")
}

/// Runs `body`, turning a panic into [`CoreError::Internal`]. The panic payload is dropped on
/// purpose: it could quote data the panic saw.
pub fn guard<T>(body: impl FnOnce() -> rc_e2ee_core::Result<T>) -> rc_e2ee_core::Result<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| Err(panicked()))
}

/// [`guard`] for synchronous exports.
pub fn sync<T>(body: impl FnOnce() -> rc_e2ee_core::Result<T>) -> Result<T, Code> {
    guard(body).map_err(|error| to_js(&error))
}

/// The error a synchronous export throws: `code` is the error's code.
pub fn to_js(error: &impl Coded) -> napi::Error<Code> {
    napi::Error::new(Code(error.code()), error.to_string())
}

/// The same error as a JS object, for a promise to reject with. Runs on the JS thread: napi-rs
/// settles a promise with an error that holds a JS value by handing that value over unchanged.
pub fn rejection(env: &Env, error: &impl Coded) -> napi::Error {
    held_error(env, to_js(error))
}

fn panicked() -> CoreError {
    CoreError::Internal("panic in native code")
}

/// Runs a key-store future on napi-rs's tokio runtime and returns its promise. The future's
/// outcome, a panic included, crosses back as data; [`rejection`] makes the error.
pub fn promise<T, F>(env: &Env, future: F) -> Result<PromiseRaw<'_, Guarded<T>>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = rc_e2ee_keystore::Result<T>> + Send + 'static,
{
    let settled = async move { Ok::<_, napi::Error>(AssertUnwindSafe(future).catch_unwind().await) };
    env.spawn_future_with_callback(settled, |env, outcome| match outcome {
        Ok(Ok(value)) => Ok(Guarded(value)),
        Ok(Err(error)) => Err(rejection(env, &error)),
        Err(_) => Err(rejection(env, &panicked())),
    })
}

/// Every code the native layer can produce; the facade's list is tested against it.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<&'static str> {
    CoreError::ALL_CODES.to_vec()
}

/// Panics inside a guarded export. It exists so the test suite can prove that a panic surfaces
/// as an `E2EE_INTERNAL` error and the process lives on; it touches no state.
#[napi(catch_unwind)]
pub fn internal_panic_probe() -> Result<(), Code> {
    sync(|| -> rc_e2ee_core::Result<()> { probe_panic() })
}

/// The same inside a background task.
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn internal_panic_probe_in_background() -> AsyncTask<Background<(), ()>> {
    Background::new(|| -> rc_e2ee_core::Result<()> { probe_panic() }, Ok)
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
    pub fn value(&self) -> u32 {
        probe_panic()
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
    /// The outcome crosses to the JS thread as data: see [`rejection`].
    type Output = rc_e2ee_core::Result<O>;
    type JsValue = Guarded<J>;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(match self.work.take() {
            Some(work) => guard(work),
            None => Err(CoreError::Internal("task ran twice")),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Guarded<J>> {
        let finish = self.finish;
        output.and_then(|output| guard(move || finish(output))).map(Guarded).map_err(|error| rejection(&env, &error))
    }
}
