//! The key store's argument and result objects as JavaScript sees them, and their conversions
//! to and from `rc-e2ee-keystore`'s types. The key store crate stays free of Node; these mirrors
//! are the only place the two shapes meet.

use napi_derive::napi;
use rc_e2ee_keystore as keystore;

use crate::messages::{ContentFields, EncryptedContent, MessageFields};

/// Options of `AppKeyStore.open`.
#[napi(object)]
pub struct StoreOptions {
    /// `mongodb://…` (Rocket.Chat's database) or `file:///absolute/path.json` (embedded).
    pub url: String,
    /// The database of a `mongodb://` store, overriding the one the URL names; one of the two
    /// must name it (`KEYSTORE_BAD_INPUT` otherwise).
    pub database: Option<String>,
    /// The key-encryption key, base64 of 32 bytes. Prefer `kekFile`.
    pub kek: Option<String>,
    /// A file holding the base64 KEK (a mounted secret).
    pub kek_file: Option<String>,
    /// Earlier KEKs (base64 or `file:` paths) still accepted while a KEK rotation runs.
    pub previous_keks: Option<Vec<String>>,
    /// Where identity keys are held: absent or `{kind: 'sealed'}` for the KEK above, or a
    /// PKCS#11 token.
    pub custody: Option<CustodyOptions>,
    /// Room keys held in memory at most.
    pub room_key_capacity: Option<u32>,
    /// How long a checked authorization is trusted, in milliseconds.
    pub authorization_ttl_ms: Option<u32>,
    /// Longest delay before counted decrypt/encrypt calls reach the audit, in milliseconds.
    pub audit_flush_interval_ms: Option<u32>,
}

/// The custody of `StoreOptions.custody`.
#[napi(object)]
pub struct CustodyOptions {
    /// `sealed` (the KEK of `kek`/`kekFile`) or `pkcs11`.
    pub kind: String,
    /// PKCS#11 only: `kek` (an AES-256 KEK in the token seals identities) or `rsa` (identity
    /// key pairs generated in the token).
    pub mode: Option<String>,
    /// PKCS#11 only: path of the module (shared object).
    pub module: Option<String>,
    /// PKCS#11 only: label of the token.
    pub token_label: Option<String>,
    /// PKCS#11 only: file holding the user PIN.
    pub pin_file: Option<String>,
    /// PKCS#11 only: label of the KEK object (`kek` mode) or of this custody's key pairs
    /// (`rsa` mode); default `rc-e2ee-kek` / `rc-e2ee`.
    pub key_label: Option<String>,
    /// PKCS#11 `kek` mode only: create the KEK object in the token when none has the label.
    pub create_key: Option<bool>,
}

#[napi(object)]
pub struct OldRoomKey {
    #[napi(js_name = "e2eKeyId")]
    pub e2e_key_id: String,
    /// Milliseconds since the epoch.
    pub ts: f64,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: String,
}

/// The app user's subscription keys for one room (`E2EKey`, `oldRoomKeys`).
#[napi(object)]
pub struct SubscriptionKeys {
    pub room_id: String,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: Option<String>,
    pub old_room_keys: Vec<OldRoomKey>,
}

impl From<SubscriptionKeys> for keystore::SubscriptionKeys {
    fn from(keys: SubscriptionKeys) -> Self {
        keystore::SubscriptionKeys {
            room_id: keys.room_id,
            e2e_key: keys.e2e_key,
            old_room_keys: keys
                .old_room_keys
                .into_iter()
                .map(|old| keystore::OldRoomKey {
                    e2e_key_id: old.e2e_key_id,
                    ts_ms: old.ts as i64,
                    e2e_key: old.e2e_key,
                })
                .collect(),
        }
    }
}

impl From<&keystore::SubscriptionKeys> for SubscriptionKeys {
    fn from(keys: &keystore::SubscriptionKeys) -> Self {
        SubscriptionKeys {
            room_id: keys.room_id.clone(),
            e2e_key: keys.e2e_key.clone(),
            old_room_keys: keys
                .old_room_keys
                .iter()
                .map(|old| OldRoomKey {
                    e2e_key_id: old.e2e_key_id.clone(),
                    ts: old.ts_ms as f64,
                    e2e_key: old.e2e_key.clone(),
                })
                .collect(),
        }
    }
}

pub(crate) fn content_of(fields: ContentFields) -> keystore::ContentFields {
    keystore::ContentFields {
        algorithm: fields.algorithm,
        kid: fields.kid,
        iv: fields.iv,
        ciphertext: fields.ciphertext,
    }
}

#[napi(object)]
pub struct Authorization {
    pub room_id: String,
    pub granted_by: String,
    pub granted_at: f64,
}

impl From<keystore::Authorization> for Authorization {
    fn from(a: keystore::Authorization) -> Self {
        Authorization { room_id: a.room_id, granted_by: a.granted_by, granted_at: a.granted_at as f64 }
    }
}

#[napi(object)]
pub struct LoadedKeys {
    pub current_kid: Option<String>,
    pub kids: Vec<String>,
    pub unreadable: u32,
    pub skipped: u32,
}

/// A message of the room offered as evidence about a suggested key.
#[napi(object)]
pub struct Proof {
    /// The message's sender (`u._id`).
    pub sender_id: String,
    pub content: ContentFields,
}

impl From<Proof> for keystore::Proof {
    fn from(proof: Proof) -> Self {
        keystore::Proof { sender_id: proof.sender_id, content: content_of(proof.content) }
    }
}

/// An old room key suggested with the current one (`suggestedOldRoomKeys` entry).
#[napi(object)]
pub struct SuggestedOldKey {
    #[napi(js_name = "e2eKeyId")]
    pub e2e_key_id: String,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: String,
    /// The room's newest messages under this old key's kid.
    pub proofs: Vec<Proof>,
}

/// What a suggested key is judged by (see the key store's acceptance rule).
#[napi(object)]
pub struct AcceptRequest {
    /// The room's `e2eKeyId`.
    pub expected_kid: String,
    /// The user id of the member who suggested the key.
    pub suggested_by: String,
    /// The room's newest messages under `expectedKid`.
    pub proofs: Vec<Proof>,
    pub old_room_keys: Vec<SuggestedOldKey>,
}

#[napi(object)]
pub struct KeyVerdict {
    pub kid: String,
    #[napi(ts_type = "'verified' | 'provisional' | 'rejected'")]
    pub status: String,
}

#[napi(object)]
pub struct AcceptResult {
    pub kid: String,
    #[napi(ts_type = "'verified' | 'provisional'")]
    pub status: String,
    pub old_room_keys: Vec<KeyVerdict>,
}

#[napi(object)]
pub struct IdentityInfo {
    pub app_id: String,
    pub app_user_id: String,
    pub key_version: f64,
    pub public_key: String,
    #[napi(ts_type = "'active' | 'revoked'")]
    pub state: String,
    pub kek_id: Option<String>,
    #[napi(ts_type = "'begun' | 'rewrapped' | 'published'")]
    pub rotation_step: Option<String>,
    pub created_at: f64,
    pub revoked_at: Option<f64>,
    pub revoked_by: Option<String>,
}

#[napi(object)]
pub struct RotationReport {
    pub key_version: f64,
    pub public_key: String,
    pub resumed: bool,
    pub rooms_rewritten: u32,
    pub keys_rewrapped: u32,
    pub keys_unreadable: u32,
}

#[napi(object)]
pub struct RekeyReport {
    pub resealed: u32,
    pub unchanged: u32,
}

#[napi(object)]
pub struct AuditFilter {
    pub app_id: Option<String>,
    pub room_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<f64>,
    pub limit: Option<u32>,
}

#[napi(object)]
pub struct AuditRecord {
    pub ts: f64,
    pub actor: String,
    pub action: String,
    pub app_id: Option<String>,
    pub room_id: Option<String>,
    pub kid: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub count: Option<f64>,
}

impl From<MessageFields> for keystore::MessageFields {
    fn from(message: MessageFields) -> Self {
        keystore::MessageFields {
            t: message.t,
            msg: message.msg,
            content: message.content.map(content_of),
            pinned_content: message.pinned_content.map(content_of),
        }
    }
}

impl From<keystore::EncryptedContent> for EncryptedContent {
    fn from(sealed: keystore::EncryptedContent) -> Self {
        EncryptedContent {
            algorithm: sealed.algorithm.to_owned(),
            kid: sealed.kid,
            iv: sealed.iv,
            ciphertext: sealed.ciphertext,
        }
    }
}

impl From<AcceptRequest> for keystore::AcceptOptions {
    fn from(request: AcceptRequest) -> Self {
        keystore::AcceptOptions {
            expected_kid: request.expected_kid,
            suggested_by: request.suggested_by,
            proofs: request.proofs.into_iter().map(Into::into).collect(),
            old_room_keys: request
                .old_room_keys
                .into_iter()
                .map(|old| keystore::SuggestedOldKey {
                    e2e_key_id: old.e2e_key_id,
                    e2e_key: old.e2e_key,
                    proofs: old.proofs.into_iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

impl From<keystore::Accepted> for AcceptResult {
    fn from(accepted: keystore::Accepted) -> Self {
        AcceptResult {
            kid: accepted.kid,
            status: accepted.status.as_str().to_owned(),
            old_room_keys: accepted
                .old_room_keys
                .into_iter()
                .map(|old| KeyVerdict { kid: old.kid, status: old.status.as_str().to_owned() })
                .collect(),
        }
    }
}

impl From<keystore::LoadedKeys> for LoadedKeys {
    fn from(loaded: keystore::LoadedKeys) -> Self {
        LoadedKeys {
            current_kid: loaded.current_kid,
            kids: loaded.kids,
            unreadable: loaded.unreadable,
            skipped: loaded.skipped,
        }
    }
}

impl From<keystore::IdentityInfo> for IdentityInfo {
    fn from(i: keystore::IdentityInfo) -> Self {
        IdentityInfo {
            app_id: i.app_id,
            app_user_id: i.app_user_id,
            key_version: i.key_version as f64,
            public_key: i.public_key,
            state: i.state,
            kek_id: i.kek_id,
            rotation_step: i.rotation_step,
            created_at: i.created_at as f64,
            revoked_at: i.revoked_at.map(|t| t as f64),
            revoked_by: i.revoked_by,
        }
    }
}

impl From<keystore::RotationReport> for RotationReport {
    fn from(report: keystore::RotationReport) -> Self {
        RotationReport {
            key_version: report.key_version as f64,
            public_key: report.public_key,
            resumed: report.resumed,
            rooms_rewritten: report.rooms_rewritten,
            keys_rewrapped: report.keys_rewrapped,
            keys_unreadable: report.keys_unreadable,
        }
    }
}

impl From<keystore::RekeyReport> for RekeyReport {
    fn from(report: keystore::RekeyReport) -> Self {
        RekeyReport { resealed: report.resealed, unchanged: report.unchanged }
    }
}

/// The query of an optional audit filter (none: everything).
pub(crate) fn audit_query(filter: Option<AuditFilter>) -> keystore::AuditQuery {
    {
        let filter =
            filter.unwrap_or(AuditFilter { app_id: None, room_id: None, action: None, since: None, limit: None });
        keystore::AuditQuery {
            app_id: filter.app_id,
            room_id: filter.room_id,
            action: filter.action,
            since_ms: filter.since.map(|t| t as i64),
            limit: filter.limit.unwrap_or(0),
        }
    }
}

impl From<keystore::AuditRecord> for AuditRecord {
    fn from(r: keystore::AuditRecord) -> Self {
        AuditRecord {
            ts: r.ts as f64,
            actor: r.actor,
            action: r.action,
            app_id: r.app_id,
            room_id: r.room_id,
            kid: r.kid,
            outcome: r.outcome,
            detail: r.detail,
            count: r.count.map(|c| c as f64),
        }
    }
}

/// A provisional room key some app holds in a room (no key material).
#[napi(object, object_from_js = false)]
pub struct ProvisionalKey {
    pub app_id: String,
    pub kid: String,
}
