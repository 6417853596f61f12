//! Rocket.Chat turns passwords, salts, JWK JSON and RSA plaintexts into bytes one UTF-16 code
//! unit per byte and throws on anything above U+00FF. Matching that, and not UTF-8, is what
//! makes a password like `Grüße` open the same blob in the browser and here.

use zeroize::Zeroizing;

/// The latin1 bytes of `text`, or `None` when a character is above U+00FF.
pub fn encode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    for ch in text.chars() {
        out.push(u8::try_from(u32::from(ch)).ok()?);
    }
    Some(out)
}

/// Each byte becomes the character with the same code point.
/// The string is allocated once at its exact length: a growing `String` would leave freed,
/// unzeroized copies of a decrypted key behind.
pub fn decode(bytes: &[u8]) -> Zeroizing<String> {
    let length = bytes.iter().map(|&b| char::from(b).len_utf8()).sum();
    let mut out = Zeroizing::new(String::with_capacity(length));
    out.extend(bytes.iter().map(|&b| char::from(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_upper_half_as_single_bytes() {
        assert_eq!(encode("Grüße").unwrap().as_slice(), b"Gr\xfc\xdfe");
        assert!(encode("price 10€").is_none());
        assert!(encode("😀").is_none());
    }

    #[test]
    fn finding_5_latin1_copy_is_allocated_once() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = decode(&bytes);
        assert_eq!(text.capacity(), text.len());
        assert_eq!(encode(&text).unwrap().as_slice(), bytes.as_slice());
    }

    proptest! {
        #[test]
        fn round_trips_every_byte_string(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = decode(&bytes);
            let encoded = encode(&text).unwrap();
            prop_assert_eq!(encoded.as_slice(), bytes.as_slice());
        }
    }
}
