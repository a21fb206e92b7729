//! The signatures of a bundle, for a raw-rate reference measured over the same signatures
//! (`caseledger bench-log --bundle`).

use std::io::Read;

use ed25519_dalek::{Signature, VerifyingKey};

use super::{Item, Options, Verifier};
use crate::bundle::read;
use crate::log::note::NoteVerifier;

/// One signature as `verify_batch` takes it: message, signature, key.
pub type SignatureSample = (Vec<u8>, Signature, VerifyingKey);

/// The first `n` signatures of a bundle, in log order, with the keys the replay found
/// registered for them. The entries before them go through every check but the signature
/// check; a failure among them is returned.
pub fn signature_sample(
    reader: impl Read,
    key: &NoteVerifier,
    n: usize,
) -> anyhow::Result<Vec<SignatureSample>> {
    let mut v = Verifier::new(key, Options::default());
    let mut sample = Vec::with_capacity(n);
    let streamed = read::stream_reusing(reader, super::CHUNK, None, &mut |item| {
        let entries = matches!(item, Item::Entries(_));
        if !v.feed(item) {
            return false;
        }
        // After a chunk, `deferred` holds its signature jobs (checked with the next chunk).
        if entries {
            let room = n - sample.len();
            sample.extend(
                v.deferred
                    .iter()
                    .take(room)
                    .map(|j| (j.message.clone(), j.signature, j.key)),
            );
        }
        sample.len() < n
    });
    if let Some(f) = v.failure.take() {
        anyhow::bail!("the bundle does not verify: {f}");
    }
    match streamed {
        Ok(()) | Err(read::ReadError::Stopped) => Ok(sample),
        Err(read::ReadError::Invalid(m)) => anyhow::bail!("the bundle is not readable: {m}"),
    }
}
