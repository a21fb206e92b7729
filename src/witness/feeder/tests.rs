use super::*;
use crate::witness::cosignatures::KEPT;

fn cp(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        note: format!("log\n{size}\nroot\n\n— log sig\n"),
    }
}

#[test]
fn only_a_line_by_the_pinned_key_over_this_checkpoint_is_taken() {
    use crate::log::cosignature::Witness;
    use ed25519_dalek::SigningKey;
    let w = Witness::from_signing_key("w.example/1", SigningKey::from_bytes(&[1; 32])).unwrap();
    let impostor =
        Witness::from_signing_key("w.example/1", SigningKey::from_bytes(&[2; 32])).unwrap();
    let key = w.public().clone();
    let text = "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let log = crate::log::NoteSigner::from_signing_key("log", SigningKey::from_bytes(&[3; 32]));
    let note = log.unwrap().sign(text).unwrap();
    let good = w.cosign(text, 7);
    // Several lines under the witness's name: the one by its pinned key is taken.
    let body = format!("{}{good}", impostor.cosign(text, 7));
    assert_eq!(pick_line(&note, &body, &key), Ok(good.clone()));
    // None by the pinned key, garbage, or a cosignature of another checkpoint: none.
    let other = text.replace("\n5\n", "\n6\n");
    for body in [
        impostor.cosign(text, 7),
        "garbage\n".to_owned(),
        String::new(),
        w.cosign(&other, 7),
    ] {
        assert!(pick_line(&note, &body, &key).is_err(), "{body:?}");
    }
}

#[test]
fn lines_are_kept_for_their_checkpoint_only() {
    let c = Cosignatures::new(2);
    c.publish(&cp(5), 1, "— w1 a\n".into());
    assert_eq!(c.witnessed(), None, "one of two witnesses");
    c.publish(&cp(5), 0, "— w0 b\n".into());
    // In witness order, appended to that checkpoint only.
    let five = format!("{}— w0 b\n— w1 a\n", cp(5).note);
    assert_eq!(c.attach(&cp(5).note), five);
    assert_eq!(c.attach(&cp(6).note), cp(6).note);
    assert_eq!(c.witnessed(), Some(five.clone()));
    // A newer checkpoint cosigned by one witness: the older one keeps its lines and
    // stays the witnessed one; a late line for it still lands.
    c.publish(&cp(6), 1, "— w1 c\n".into());
    assert_eq!(c.attach(&cp(6).note), format!("{}— w1 c\n", cp(6).note));
    assert_eq!(c.witnessed(), Some(five));
    c.publish(&cp(6), 0, "— w0 d\n".into());
    let six = format!("{}— w0 d\n— w1 c\n", cp(6).note);
    assert_eq!(c.witnessed(), Some(six.clone()));
    // Only the newest few are kept; a line for one older than all of them is dropped.
    for size in 7..7 + KEPT as u64 {
        c.publish(&cp(size), 0, "— w0 e\n".into());
    }
    assert_eq!(c.attach(&cp(6).note), cp(6).note);
    c.publish(&cp(5), 1, "— w1 f\n".into());
    assert_eq!(c.attach(&cp(5).note), cp(5).note);
    assert_eq!(c.witnessed(), None, "none of the kept ones has both");
    assert_eq!(Cosignatures::default().witnessed(), None);
}
