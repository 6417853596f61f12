//! Golden vectors made by Rocket.Chat's real web client (tests/fixtures/rc-8.8): every positive
//! vector must decrypt byte-exactly and every negative one must behave as documented.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use rc_e2ee_core::content::{decrypt_content, ContentRef};
use rc_e2ee_core::file::{decrypt_file, sha256_hex};
use rc_e2ee_core::message::{decrypt_message, ensure_object, MessageRef};
use rc_e2ee_core::password_blob::{unwrap_private_key, wrap_private_key};
use rc_e2ee_core::{b64, unwrap_room_key, wrap_room_key, Error, RoomKey, RsaPrivateKey, RsaPublicKey};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/rc-8.8").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys() -> Value {
    fixture("rc-client-keys.json")
}

fn messages() -> Value {
    fixture("rc-client-v2.json")
}

fn s(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

fn user(keys: &Value, role: &str) -> RsaPrivateKey {
    let user = keys["users"].as_array().unwrap().iter().find(|u| u["role"] == role).unwrap();
    unwrap_private_key(s(&user["private_key_blob"]), s(&user["passphrase"]), s(&user["userId"])).unwrap()
}

fn room_key(vectors: &Value, name: &str) -> RoomKey {
    let entry = &vectors["room_keys"][name];
    RoomKey::from_jwk(&entry["jwk"].to_string(), s(&entry["kid"])).unwrap()
}

fn content_of(value: &Value) -> ContentRef<'_> {
    ContentRef {
        algorithm: value["algorithm"].as_str(),
        kid: value["kid"].as_str(),
        iv: value["iv"].as_str(),
        ciphertext: value["ciphertext"].as_str(),
    }
}

fn message_of(value: &Value) -> MessageRef<'_> {
    MessageRef {
        t: value["t"].as_str(),
        msg: value["msg"].as_str(),
        content: value.get("content").map(content_of),
        pinned_content: value["attachments"].get(0).and_then(|a| a.get("content")).map(content_of),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn private_keys_unwrap_to_the_published_public_keys() {
    let keys = keys();
    for user_vector in keys["users"].as_array().unwrap() {
        let key = user(&keys, s(&user_vector["role"]));
        let expected = RsaPublicKey::from_rc_string(s(&user_vector["public_key"])).unwrap();
        assert_eq!(key.public_key(), &expected, "{}", user_vector["role"]);
    }
    let legacy = &keys["legacy_private_key_v1"];
    let key =
        unwrap_private_key(s(&legacy["private_key_blob"]), s(&legacy["passphrase"]), s(&legacy["userId"])).unwrap();
    let plain = RsaPrivateKey::from_jwk(s(&legacy["private_key_plain"])).unwrap();
    assert_eq!(key.public_key(), plain.public_key());

    for name in ["keychain_spec_pwdv1web", "keychain_spec_pwdv2web"] {
        let fixture = &keys["upstream_fixtures"][name];
        let key =
            unwrap_private_key(s(&fixture["persisted"]), s(&fixture["passphrase"]), s(&fixture["userId"])).unwrap();
        let expected = RsaPublicKey::from_rc_string(s(&fixture["public_key"])).unwrap();
        assert_eq!(key.public_key(), &expected, "{name}");
    }
}

#[test]
fn wrapped_private_key_reopens_with_a_latin1_password() {
    let keys = keys();
    let bob = &keys["users"][1];
    let key = RsaPrivateKey::from_jwk(s(&bob["private_key_plain"])).unwrap();
    let blob = wrap_private_key(&key, s(&bob["passphrase"]), s(&bob["userId"])).unwrap();
    let parsed: Value = serde_json::from_str(&blob).unwrap();
    // Members in the client's order: iv, ciphertext, salt, iterations.
    let positions: Vec<usize> =
        ["\"iv\":", "\"ciphertext\":", "\"salt\":", "\"iterations\":"].iter().map(|m| blob.find(m).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{blob}");
    assert_eq!(parsed["iterations"], 100_000);
    assert!(s(&parsed["salt"]).starts_with(&format!("v2:{}:", s(&bob["userId"]))));
    assert_eq!(b64::decode(s(&parsed["iv"]), "iv").unwrap().len(), 12);
    let again = unwrap_private_key(&blob, s(&bob["passphrase"]), s(&bob["userId"])).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    // The same password as UTF-8 bytes must not open it.
    let utf8_as_latin1: String = s(&bob["passphrase"]).bytes().map(char::from).collect();
    assert!(matches!(unwrap_private_key(&blob, &utf8_as_latin1, s(&bob["userId"])), Err(Error::BadPassword(_))));
}

#[test]
fn every_e2e_key_opens_with_its_kid() {
    let keys = keys();
    let (alice, bob) = (user(&keys, "alice"), user(&keys, "bob"));
    let rooms = &keys["rooms"];
    let r1 = &rooms["R1"];
    for (member, e2e_key) in [(&alice, &r1["E2EKey_alice"]), (&bob, &r1["E2ESuggestedKey_bob"])] {
        let key = unwrap_room_key(member, s(e2e_key)).unwrap();
        assert_eq!(key.kid(), s(&r1["kid"]));
    }
    let r2 = &rooms["R2_rotation"];
    for name in ["keyA", "keyB"] {
        assert_eq!(unwrap_room_key(&alice, s(&r2[name]["alice_E2EKey"])).unwrap().kid(), s(&r2[name]["kid"]));
    }
    let bob_sub = &r2["bob_subscription_used"];
    assert_eq!(unwrap_room_key(&bob, s(&bob_sub["E2EKey"])).unwrap().kid(), s(&r2["keyB"]["kid"]));
    for old in bob_sub["oldRoomKeys"].as_array().unwrap() {
        assert_eq!(unwrap_room_key(&bob, s(&old["E2EKey"])).unwrap().kid(), s(&old["e2eKeyId"]));
    }
    let r3 = &rooms["R3_legacy"];
    let legacy = unwrap_room_key(&bob, s(&r3["E2EKey_bob"])).unwrap();
    assert_eq!(legacy.kid(), s(&r3["kid"]));
    assert_eq!(legacy.algorithm().jwk_alg(), "A128CBC");
    // The legacy kid is the hex SHA-256 prefix of the JWK string; we never recompute it, but
    // the vector must say so for the fallback rules to make sense.
    assert_eq!(&sha256_hex(s(&r3["room_key_jwk_string"]).as_bytes())[..12], s(&r3["kid"]));
}

#[test]
fn unwrapped_room_keys_decrypt_their_rooms_messages() {
    let (keys, vectors) = (keys(), messages());
    let bob = user(&keys, "bob");
    let r1 = unwrap_room_key(&bob, s(&keys["rooms"]["R1"]["E2ESuggestedKey_bob"])).unwrap();
    for vector in vectors["messages_v2"].as_array().unwrap() {
        let plain = decrypt_message(&[&r1], &message_of(&vector["encrypted_message"])).unwrap();
        assert_eq!(text(&plain), s(&vector["plaintext_payload_ejson"]), "{}", vector["id"]);
    }
}

#[test]
fn v2_messages_decrypt_byte_exactly() {
    let vectors = messages();
    let r1 = room_key(&vectors, "R1");
    for vector in vectors["messages_v2"].as_array().unwrap() {
        let plain = decrypt_content(&[&r1], &content_of(&vector["encrypted_message"]["content"])).unwrap();
        assert_eq!(text(&plain), s(&vector["plaintext_payload_ejson"]), "{}", vector["id"]);
        ensure_object(&plain).unwrap();
    }
}

#[test]
fn rotation_messages_decrypt_through_the_old_key_by_kid() {
    let vectors = messages();
    let (current, old) = (room_key(&vectors, "R2_keyB_current"), room_key(&vectors, "R2_keyA_old"));
    for vector in vectors["rotation"]["messages"].as_array().unwrap() {
        let plain = decrypt_message(&[&current, &old], &message_of(&vector["encrypted_message"])).unwrap();
        let payload: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(payload["msg"], vector["input_message"]["msg"], "{}", vector["id"]);
    }
}

#[test]
fn v2_label_on_a_cbc_key_decrypts_as_cbc() {
    let vectors = messages();
    let r3 = room_key(&vectors, "R3_legacy");
    for vector in vectors["messages_v2_on_legacy_cbc_key"].as_array().unwrap() {
        let content = &vector["encrypted_message"]["content"];
        assert_eq!(b64::decode(s(&content["iv"]), "iv").unwrap().len(), 16);
        let plain = decrypt_message(&[&r3], &message_of(&vector["encrypted_message"])).unwrap();
        assert_eq!(text(&plain), s(&vector["plaintext_payload_ejson"]), "{}", vector["id"]);
    }
}

#[test]
fn legacy_v1_messages_decrypt_in_every_format() {
    let vectors = messages();
    let r3 = room_key(&vectors, "R3_legacy");
    for vector in vectors["messages_v1_legacy"].as_array().unwrap() {
        let plain = decrypt_message(&[&r3], &message_of(&vector["wire_message"])).unwrap();
        assert_eq!(text(&plain), s(&vector["aux_plaintext_payload"]), "{}", vector["id"]);
    }
}

#[test]
fn upstream_content_fixtures_decrypt() {
    let keys = keys();
    let fixtures = &keys["upstream_fixtures"];
    let v1 = &fixtures["content_spec_v1"];
    let key = RoomKey::from_jwk(&v1["room_key_jwk"].to_string(), "32c9e7917b78").unwrap();
    let plain = decrypt_content(&[&key], &content_of(&v1["msgv1web_content"])).unwrap();
    assert_eq!(text(&plain), s(&v1["msgv1web_expected_plaintext"]));
    let mobile = MessageRef { t: Some("e2e"), msg: v1["msgv1mob_msg"].as_str(), ..Default::default() };
    assert_eq!(text(&decrypt_message(&[&key], &mobile).unwrap()), s(&v1["msgv1mob_expected_plaintext"]));
    let v2 = &fixtures["content_spec_v2"];
    let key = RoomKey::from_jwk(&v2["room_key_jwk"].to_string(), s(&v2["msgv2web_content"]["kid"])).unwrap();
    let plain = decrypt_content(&[&key], &content_of(&v2["msgv2web_content"])).unwrap();
    assert_eq!(text(&plain), s(&v2["msgv2web_expected_plaintext"]));
}

#[test]
fn files_and_their_metadata_decrypt() {
    let vectors = messages();
    let r1 = room_key(&vectors, "R1");
    for vector in vectors["files"].as_array().unwrap() {
        let result = &vector["encryptFile_result"];
        let ciphertext = b64::decode(s(&vector["ciphertext_b64"]), "ct").unwrap();
        let plain = decrypt_file(&result["key"].to_string(), s(&result["iv"]), &ciphertext).unwrap();
        assert_eq!(b64::encode(&plain), s(&vector["plaintext_b64"]), "{}", vector["id"]);
        assert_eq!(sha256_hex(&plain), s(&result["hash"]));
        assert_eq!(sha256_hex(s(&vector["name"]).as_bytes()), s(&result["encrypted_file_name"]));

        let metadata = decrypt_content(&[&r1], &content_of(&vector["upload_metadata_content"])).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&metadata).unwrap(), vector["upload_metadata_plain"]);
        let message = decrypt_message(&[&r1], &message_of(&vector["message_wire"])).unwrap();
        assert_eq!(text(&message), s(&vector["message_content_plaintext_ejson"]));
    }
}

#[test]
fn pinned_system_message_decrypts_its_attachment() {
    let vectors = messages();
    let r1 = room_key(&vectors, "R1");
    let plain = decrypt_message(&[&r1], &message_of(&vectors["pinned"]["message"])).unwrap();
    let payload: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(payload["msg"], vectors["pinned"]["decrypted_attachment_text"]);
}

/// What this implementation does with each negative vector: the error code, or the text it
/// decrypts to where Rocket.Chat safely falls back.
fn expected_outcome(id: &str) -> Result<&'static str, &'static str> {
    match id {
        "neg-unknown-kid" | "neg-already-done" => Ok("Hello, Rocket.Chat E2EE!"),
        "neg-tampered-ciphertext"
        | "neg-tampered-tag"
        | "neg-tampered-iv"
        | "neg-kid-of-old-key"
        | "neg-kid-of-current-key-old-ct"
        | "neg-truncated-iv-8"
        | "neg-truncated-ciphertext"
        | "neg-e2ekey-corrupt-rsa" => Err("E2EE_DECRYPT_FAILED"),
        "neg-empty-iv"
        | "neg-empty-kid"
        | "neg-base64-invalid-char"
        | "neg-base64-misplaced-padding"
        | "neg-base64url-alphabet" => Err("E2EE_BAD_ENVELOPE"),
        "neg-unknown-algorithm-message" | "neg-unknown-algorithm-decode" | "neg-megolm-algorithm-decode" => {
            Err("E2EE_UNSUPPORTED_ALGORITHM")
        }
        "neg-plaintext-not-object" => Err("E2EE_BAD_PAYLOAD"),
        "neg-e2ekey-too-short" | "neg-privkey-malformed" => Err("E2EE_BAD_KEY"),
        "neg-privkey-wrong-passphrase" | "neg-privkey-v1-wrong-userid" | "neg-passphrase-non-latin1" => {
            Err("E2EE_BAD_PASSWORD")
        }
        other => panic!("negative vector {other} has no expected outcome: add one"),
    }
}

#[test]
fn negative_vectors_are_rejected_or_fall_back_safely() {
    let (keys, vectors) = (keys(), messages());
    let bob = user(&keys, "bob");
    let r1 = room_key(&vectors, "R1");
    let r2 = [room_key(&vectors, "R2_keyB_current"), room_key(&vectors, "R2_keyA_old")];
    for case in vectors["negative"].as_array().unwrap() {
        let id = s(&case["id"]);
        let inputs = &case["inputs"];
        let outcome: Result<String, Error> = match s(&case["kind"]) {
            "message" => {
                let message = &inputs["message"];
                let ring: Vec<&RoomKey> =
                    if message["rid"] == "pubR2rotAt3Nn8Vy4" { r2.iter().collect() } else { vec![&r1] };
                decrypt_message(&ring, &message_of(message))
                    .and_then(|p| ensure_object(&p).map(|()| p))
                    .map(|p| serde_json::from_slice::<Value>(&p).unwrap()["msg"].as_str().unwrap().to_owned())
            }
            "decode" | "decrypt" => decrypt_content(&[&r1], &content_of(&inputs["payload"]))
                .and_then(|p| ensure_object(&p).map(|()| String::from_utf8(p.to_vec()).unwrap())),
            "importGroupKey" => unwrap_room_key(&bob, s(&inputs["key"])).map(|k| k.kid().to_owned()),
            "decryptKey" => unwrap_private_key(s(&inputs["blob"]), s(&inputs["passphrase"]), s(&inputs["userId"]))
                .map(|_| "opened".to_owned()),
            "encryptKey" => {
                let key = RsaPrivateKey::generate().unwrap();
                wrap_private_key(&key, s(&inputs["passphrase"]), s(&inputs["userId"]))
            }
            kind => panic!("unknown negative kind {kind}"),
        };
        match (expected_outcome(id), outcome) {
            (Ok(text), Ok(got)) => assert_eq!(got, text, "{id}"),
            (Err(code), Err(error)) => assert_eq!(error.code(), code, "{id}: {error}"),
            (expected, got) => panic!("{id}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn wrap_room_key_produces_what_the_member_opens() {
    let keys = keys();
    let bob = user(&keys, "bob");
    let bob_public = RsaPublicKey::from_rc_string(s(&keys["users"][1]["public_key"])).unwrap();
    let vectors = messages();
    for name in ["R1", "R3_legacy"] {
        let key = room_key(&vectors, name);
        let wrapped = wrap_room_key(&key, &bob_public).unwrap();
        assert!(wrapped.starts_with(key.kid()));
        assert_eq!(wrapped.len() - key.kid().len(), 344);
        let opened = unwrap_room_key(&bob, &wrapped).unwrap();
        assert_eq!(opened.algorithm(), key.algorithm());
        let (iv, ciphertext) = opened.encrypt(b"{\"msg\":\"x\"}").unwrap();
        let (iv, ciphertext) = (b64::encode(&iv), b64::encode(&ciphertext));
        let content = ContentRef::v2(key.kid(), &iv, &ciphertext);
        assert_eq!(decrypt_content(&[&key], &content).unwrap().as_slice(), b"{\"msg\":\"x\"}");
    }
}
