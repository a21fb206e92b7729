//! The signatures of a bundle, for a raw-rate reference measured over the same signatures
//! (`caseledger bench-log --bundle`).

use std::io::Read;

use ed25519_dalek::{Signature, VerifyingKey};

use super::{Options, Verifier};
use crate::bundle::read;
use crate::log::note::NoteVerifier;

/// One signature as `verify_batch` takes it: message, signature, key.
pub type SignatureSample = (Vec<u8>, Signature, VerifyingKey);

/// The first `n` signatures of a bundle, in log order, with the keys the replay found
/// registered for them. Every entry read goes through all of the verifier's checks, its
/// signature included, and a failure is returned, so the sample holds valid signatures
/// only. (Of a bundle whose entries come before its header, the chunks held until the
/// header came are sampled from the last one on.)
pub fn signature_sample(
    reader: impl Read,
    key: &NoteVerifier,
    n: usize,
) -> anyhow::Result<Vec<SignatureSample>> {
    let mut v = Verifier::new(key, Options::default());
    v.signatures.sample = Some((n, Vec::with_capacity(n)));
    let streamed = read::stream_reusing(reader, super::CHUNK, None, &mut |item| {
        v.feed(item)
            && v.signatures
                .sample
                .as_ref()
                .is_some_and(|(n, sample)| sample.len() < *n)
    });
    v.reading_ended(streamed);
    let sample = v
        .signatures
        .sample
        .take()
        .map(|(_, s)| s)
        .unwrap_or_default();
    // Checks every signature read, so the sample holds only valid ones.
    match v.finish().failure {
        Some(f) => anyhow::bail!("the bundle does not verify: {f}"),
        None => Ok(sample),
    }
}
