//! DSSE PAE and RFC 8032 vectors from the reference implementations, plus envelope parsing.

use super::*;
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dsse.json"
    ))
    .expect("tests/vectors/dsse.json");
    serde_json::from_str(&text).expect("vector JSON")
}

#[test]
fn pae_matches_dsse_reference_examples() {
    let v = vectors();
    for ex in v["pae_examples"].as_array().expect("examples") {
        let got = pae(
            ex["payload_type"].as_str().expect("type"),
            ex["payload_utf8"].as_str().expect("payload").as_bytes(),
        );
        assert_eq!(got, ex["pae_utf8"].as_str().expect("pae").as_bytes());
    }
}

#[test]
fn rfc8032_test_1_signs_and_verifies() {
    let v = &vectors()["rfc8032_test1"];
    let hex32 = |k: &str| -> [u8; 32] {
        hex::decode(v[k].as_str().expect("hex"))
            .expect("hex")
            .try_into()
            .expect("32 bytes")
    };
    let key = SigningKey::from_bytes(&hex32("secret_key_hex"));
    assert_eq!(key.verifying_key().to_bytes(), hex32("public_key_hex"));
    let msg = hex::decode(v["message_hex"].as_str().expect("msg")).expect("hex");
    let sig = key.sign(&msg);
    assert_eq!(
        hex::encode(sig.to_bytes()),
        v["signature_hex"].as_str().expect("sig")
    );
    key.verifying_key()
        .verify_strict(&msg, &sig)
        .expect("verifies");
}

fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

#[test]
fn signed_envelope_round_trips_and_verifies() {
    let key = test_key();
    let wire = sign(b"{\"x\":1}", &key);
    let json = serde_json::to_vec(&wire).expect("json");
    let env = Envelope::parse(&json).expect("parses");
    assert_eq!(env.payload(), b"{\"x\":1}");
    assert_eq!(env.keyid(), &KeyId::of(key.verifying_key().as_bytes()));
    env.verify(&key.verifying_key()).expect("verifies");
    assert_eq!(env.to_wire(), wire);
}

#[test]
fn payloads_of_every_padding_decode_into_their_signed_message() {
    let key = test_key();
    for len in [0, 1, 2, 3, 4, 5, 9, 10, 99, 100, 1000, 1001, 1002] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let env = Envelope::from_wire(&sign(&payload, &key)).expect("decodes");
        assert_eq!(env.payload(), &payload[..], "{len} bytes");
        assert_eq!(
            env.signed_message(),
            pae(PAYLOAD_TYPE, &payload),
            "{len} bytes"
        );
        env.verify(&key.verifying_key()).expect("verifies");
    }
    // Unpadded, non-canonical final bits, stray padding: refused as before.
    for bad in ["QQ", "QR==", "QQ=", "Q===", "QQ==QQ==", "QUJD\n"] {
        let mut wire = sign(b"A", &key);
        wire.payload = bad.into();
        assert!(
            matches!(Envelope::from_wire(&wire), Err(EnvelopeError::Invalid(_))),
            "{bad}"
        );
    }
    let mut wire = sign(b"A", &key);
    wire.payload = "QU*D".into();
    let err = Envelope::from_wire(&wire).expect_err("refused").to_string();
    assert!(
        err.contains("payload is not standard base64: Invalid symbol 42, offset 2."),
        "the decoder's own words, nothing else: {err}"
    );
}

#[test]
fn taking_the_signed_message_leaves_the_envelope_without_one() {
    let key = test_key();
    let mut env = Envelope::from_wire(&sign(b"{\"x\":1}", &key)).expect("decodes");
    let message = env.take_signed_message();
    assert_eq!(message, pae(PAYLOAD_TYPE, b"{\"x\":1}"));
    assert!(env.signed_message().is_empty());
}

#[test]
fn tampered_payload_fails_verification() {
    let key = test_key();
    let mut wire = sign(b"{\"x\":1}", &key);
    wire.payload = B64.encode(b"{\"x\":2}");
    let env = Envelope::from_wire(&wire).expect("shape ok");
    assert!(matches!(
        env.verify(&key.verifying_key()),
        Err(EnvelopeError::BadSignature(_))
    ));
}

#[test]
fn malformed_envelopes_are_refused() {
    let key = test_key();
    let good = sign(b"{}", &key);
    let mut no_sig = good.clone();
    no_sig.signatures.clear();
    let mut two_sigs = good.clone();
    two_sigs.signatures.push(good.signatures[0].clone());
    let mut bad_type = good.clone();
    bad_type.payload_type = "text/plain".into();
    let mut bad_b64 = good.clone();
    bad_b64.payload = "%%%".into();
    let mut bad_keyid = good.clone();
    bad_keyid.signatures[0].keyid = "ABC".into();
    let mut short_sig = good;
    short_sig.signatures[0].sig = B64.encode([1u8; 10]);
    for wire in [no_sig, two_sigs, bad_b64, bad_keyid, short_sig] {
        assert!(matches!(
            Envelope::from_wire(&wire),
            Err(EnvelopeError::Invalid(_))
        ));
    }
    assert!(matches!(
        Envelope::from_wire(&bad_type),
        Err(EnvelopeError::PayloadType(_))
    ));
    assert!(Envelope::parse(b"{\"payloadType\":1}").is_err());
    assert!(Envelope::parse(b"not json").is_err());
}

#[test]
fn an_envelope_or_signature_spelled_as_an_array_is_refused() {
    let key = test_key();
    let wire = sign(b"{\"x\":1}", &key);
    let object = serde_json::to_value(&wire).expect("json");
    assert!(Envelope::parse(object.to_string().as_bytes()).is_ok());
    let (keyid, sig) = (&wire.signatures[0].keyid, &wire.signatures[0].sig);
    let arrays = [
        serde_json::json!([wire.payload_type, wire.payload, [{"keyid": keyid, "sig": sig}]]),
        serde_json::json!({"payloadType": wire.payload_type, "payload": wire.payload,
            "signatures": [[keyid, sig]]}),
    ];
    for spelled in arrays {
        let err = Envelope::parse(spelled.to_string().as_bytes()).expect_err("refused");
        assert!(
            matches!(&err, EnvelopeError::Invalid(m) if m.contains("expected a JSON object")),
            "{err}"
        );
    }
}
