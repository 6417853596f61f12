//! Key objects. Private and room keys live only behind these handles: JavaScript can use them
//! but never read their bytes.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::{password_blob, RoomKey as CoreRoomKey, RsaPrivateKey as CoreRsaPrivateKey, RsaPublicKey};

use crate::errors::{sync, Background, Code};
use crate::wire::{Secret, Str};

/// A user's RSA-OAEP-2048 private key.
#[napi(js_name = "RsaPrivateKey")]
pub struct JsRsaPrivateKey {
    inner: Arc<CoreRsaPrivateKey>,
    public_key: String,
}

impl JsRsaPrivateKey {
    fn wrap(inner: CoreRsaPrivateKey) -> rc_e2ee_core::Result<Self> {
        let public_key = inner.public_key().to_rc_string();
        Ok(Self { inner: Arc::new(inner), public_key })
    }

    pub(crate) fn core(&self) -> &Arc<CoreRsaPrivateKey> {
        &self.inner
    }
}

#[napi]
impl JsRsaPrivateKey {
    /// Generates a new key pair on the thread pool.
    #[napi(catch_unwind, ts_return_type = "Promise<RsaPrivateKey>")]
    pub fn generate() -> AsyncTask<Background<CoreRsaPrivateKey, JsRsaPrivateKey>> {
        Background::new(CoreRsaPrivateKey::generate, JsRsaPrivateKey::wrap)
    }

    /// Imports a private JWK (a JSON string).
    #[napi(catch_unwind)]
    pub fn from_jwk(#[napi(ts_arg_type = "string")] jwk: Secret) -> Result<JsRsaPrivateKey, Code> {
        sync(|| CoreRsaPrivateKey::from_jwk(&jwk).and_then(JsRsaPrivateKey::wrap))
    }

    /// Opens a stored `users.e2e.private_key` blob (current or legacy) with the password.
    #[napi(catch_unwind, ts_return_type = "Promise<RsaPrivateKey>")]
    pub fn unwrap_from_password(
        #[napi(ts_arg_type = "string")] blob: Str,
        #[napi(ts_arg_type = "string")] password: Secret,
        #[napi(ts_arg_type = "string")] user_id: Str,
    ) -> AsyncTask<Background<CoreRsaPrivateKey, JsRsaPrivateKey>> {
        Background::new(move || password_blob::unwrap_private_key(&blob, &password, &user_id), JsRsaPrivateKey::wrap)
    }

    /// Rocket.Chat's public-key string (`users.e2e.public_key`).
    #[napi(catch_unwind)]
    pub fn public_key(&self) -> String {
        self.public_key.clone()
    }

    /// Wraps this key with a password in the current blob format.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn wrap_with_password(
        &self,
        #[napi(ts_arg_type = "string")] password: Secret,
        #[napi(ts_arg_type = "string")] user_id: Str,
    ) -> AsyncTask<Background<String, String>> {
        let key = Arc::clone(&self.inner);
        Background::new(move || password_blob::wrap_private_key(&key, &password, &user_id), Ok)
    }
}

/// A room key with its kid.
#[napi(js_name = "RoomKey")]
pub struct JsRoomKey {
    inner: Arc<CoreRoomKey>,
}

impl JsRoomKey {
    fn wrap(inner: CoreRoomKey) -> rc_e2ee_core::Result<Self> {
        Ok(Self { inner: Arc::new(inner) })
    }

    pub(crate) fn core(&self) -> &Arc<CoreRoomKey> {
        &self.inner
    }
}

#[napi]
impl JsRoomKey {
    /// A new AES-GCM-256 key with a fresh UUID kid.
    #[napi(catch_unwind)]
    pub fn generate() -> Result<JsRoomKey, Code> {
        sync(|| CoreRoomKey::generate().and_then(JsRoomKey::wrap))
    }

    /// Imports a room-key JWK (JSON string; `A256GCM` or `A128CBC`) under `kid`.
    #[napi(catch_unwind)]
    pub fn from_jwk(
        #[napi(ts_arg_type = "string")] jwk: Secret,
        #[napi(ts_arg_type = "string")] kid: Str,
    ) -> Result<JsRoomKey, Code> {
        sync(|| CoreRoomKey::from_jwk(&jwk, &kid).and_then(JsRoomKey::wrap))
    }

    #[napi(getter, catch_unwind)]
    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// `A256GCM` or `A128CBC`.
    #[napi(getter, catch_unwind, ts_return_type = "'A256GCM' | 'A128CBC'")]
    pub fn algorithm(&self) -> &'static str {
        self.inner.algorithm().jwk_alg()
    }
}

/// The keys of one room: the current key first, then old keys. Content names its key by kid;
/// an unknown kid falls back to the current key.
#[napi(js_name = "RoomKeyRing")]
pub struct JsRoomKeyRing {
    keys: Vec<Arc<CoreRoomKey>>,
}

#[napi]
impl JsRoomKeyRing {
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)] // a JS constructor, not a Rust one
    pub fn new() -> Self {
        Self { keys: Vec::new() }
    }

    /// Appends a key; the first one added is the current key.
    #[napi(catch_unwind)]
    pub fn add(&mut self, key: &JsRoomKey) {
        self.keys.push(Arc::clone(key.core()));
    }

    #[napi(getter, catch_unwind)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.keys.len()).unwrap_or(u32::MAX)
    }
}

impl JsRoomKeyRing {
    pub(crate) fn keys(&self) -> &[Arc<CoreRoomKey>] {
        &self.keys
    }
}

/// Opens an `E2EKey` string with a member's private key, on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<RoomKey>")]
pub fn unwrap_room_key(
    private_key: &JsRsaPrivateKey,
    #[napi(ts_arg_type = "string")] wrapped_key: Str,
) -> AsyncTask<Background<CoreRoomKey, JsRoomKey>> {
    let key = Arc::clone(private_key.core());
    Background::new(move || rc_e2ee_core::unwrap_room_key(&key, &wrapped_key), JsRoomKey::wrap)
}

/// Wraps a room key to a member's public-key string: the member's `E2EKey`.
#[napi(catch_unwind)]
pub fn wrap_room_key(room_key: &JsRoomKey, #[napi(ts_arg_type = "string")] public_key: Str) -> Result<String, Code> {
    sync(|| rc_e2ee_core::wrap_room_key(room_key.core(), &RsaPublicKey::from_rc_string(&public_key)?))
}
