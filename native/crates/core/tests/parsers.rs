//! Property tests: every parser takes arbitrary input without panicking, and every failure is a
//! typed error whose message quotes none of the input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use proptest::prelude::*;
use rc_e2ee_core::content::{decrypt_v1, ContentRef};
use rc_e2ee_core::message::{decrypt_message, MessageRef};
use rc_e2ee_core::password_blob::unwrap_private_key;
use rc_e2ee_core::{file, unwrap_room_key, Error, RoomKey, RsaPrivateKey, RsaPublicKey};
use std::sync::OnceLock;

fn member() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::generate().unwrap())
}

fn room_key() -> RoomKey {
    RoomKey::from_jwk(r#"{"kty":"oct","alg":"A256GCM","k":"tavSjyZez2DrpBNY6ujgTT6K6LiC7PyJCi7cFblign8"}"#, "k")
        .unwrap()
}

/// The message of an error never repeats a long input back.
fn check_quiet(error: &Error, input: &str) {
    let message = error.to_string();
    if input.len() >= 8 {
        assert!(!message.contains(input), "error {message:?} quotes its input");
    }
}

/// JSON-ish text: valid JSON values, JWK-like objects and raw noise.
fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        any::<Vec<u8>>().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        (".{0,20}", ".{0,60}", ".{0,60}").prop_map(|(kty, n, e)| format!(r#"{{"kty":{kty:?},"n":{n:?},"e":{e:?}}}"#)),
        (".{0,12}", "[A-Za-z0-9_-]{0,64}").prop_map(|(alg, k)| format!(r#"{{"kty":"oct","alg":{alg:?},"k":{k:?}}}"#)),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn key_parsers_never_panic(text in jsonish()) {
        for result in [
            RsaPublicKey::from_rc_string(&text).map(|_| ()),
            RsaPrivateKey::from_jwk(&text).map(|_| ()),
            RoomKey::from_jwk(&text, "kid").map(|_| ()),
            file::decrypt_file(&text, "AAAAAAAAAAAAAAAAAAAAAA==", b"data").map(|_| ()),
        ] {
            if let Err(error) = result {
                check_quiet(&error, &text);
            }
        }
    }

    #[test]
    fn e2e_key_parser_never_panics(prefix in ".{0,40}", body in "[A-Za-z0-9+/=é!]{0,400}") {
        let text = format!("{prefix}{body}");
        let error = unwrap_room_key(member(), &text).unwrap_err();
        check_quiet(&error, &text);
    }

    #[test]
    fn private_key_blob_parser_never_panics(
        iv in "[A-Za-z0-9+/=]{0,24}",
        ciphertext in "[A-Za-z0-9+/=]{0,64}",
        salt in ".{0,20}",
        iterations in prop_oneof![Just(-1.0f64), Just(0.0), 1.0..20.0, Just(1.5), Just(1e12)],
        binary in proptest::option::of("[A-Za-z0-9+/=]{0,80}"),
    ) {
        let blob = match binary {
            Some(binary) => serde_json::json!({ "$binary": binary }).to_string(),
            None => serde_json::json!({ "iv": iv, "ciphertext": ciphertext, "salt": salt, "iterations": iterations }).to_string(),
        };
        let error = unwrap_private_key(&blob, "password", "user").map(|_| ()).unwrap_err();
        check_quiet(&error, &blob);
    }

    #[test]
    fn message_parsers_never_panic(t in prop_oneof![Just("e2e".to_owned()), Just("message_pinned_e2e".to_owned()), ".{0,10}"],
                                   msg in ".{0,120}", algorithm in prop_oneof![Just("rc.v1.aes-sha2".to_owned()), Just("rc.v2.aes-sha2".to_owned()), ".{0,16}"],
                                   kid in ".{0,40}", iv in "[A-Za-z0-9+/=]{0,24}", ciphertext in "[A-Za-z0-9+/=]{0,120}") {
        let key = room_key();
        let content = ContentRef { algorithm: Some(&algorithm), kid: Some(&kid), iv: Some(&iv), ciphertext: Some(&ciphertext) };
        let message = MessageRef { t: Some(&t), msg: Some(&msg), content: Some(content), pinned_content: Some(content) };
        let _ = decrypt_message(&[&key], &message);
        let _ = decrypt_v1(&[&key], &msg);
    }
}

#[test]
fn room_key_debug_shows_only_public_facts() {
    let key = room_key();
    let shown = format!("{key:?}");
    assert!(shown.contains("A256Gcm") && shown.contains("\"k\""));
    assert!(!shown.contains("tavSjyZez2DrpBNY6ujgTT6K6LiC7PyJCi7cFblign8"));
}
