//! DSSE v1 envelopes carrying one Ed25519 signature (DESIGN §2.1): pre-authentication
//! encoding, signing, strict verification, and the JSON key files principals sign with.

mod keyfile;

pub use keyfile::{remove_key_leftovers, write_new_private, KeyFile, KeyFileError};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::domain::KeyId;

/// The only payload type the ledger accepts.
pub const PAYLOAD_TYPE: &str = "application/vnd.caseledger.event.v1+json";

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`,
/// lengths as ASCII decimal byte counts. The signature covers these bytes, never the base64 text.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    pae_prefix(&mut out, payload_type, payload.len());
    out.extend_from_slice(payload);
    out
}

/// Everything the pre-authentication encoding puts before a body of `len` bytes.
fn pae_prefix(out: &mut Vec<u8>, payload_type: &str, len: usize) {
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
}

/// Decodes the standard base64 `text` of a body straight into its pre-authentication
/// encoding (one buffer, no copy): the encoding and where the body starts in it.
fn decode_into_pae(
    payload_type: &str,
    text: &str,
) -> Result<(Vec<u8>, usize), base64::DecodeSliceError> {
    // The body's length, exact for every text the padded standard alphabet accepts.
    let pad = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    let len = (text.len() / 4 * 3).saturating_sub(pad);
    let mut out = Vec::with_capacity(len + payload_type.len() + 32);
    pae_prefix(&mut out, payload_type, len);
    let at = out.len();
    out.resize(at + base64::decoded_len_estimate(text.len()), 0);
    let n = B64.decode_slice(text, &mut out[at..])?;
    out.truncate(at + n);
    if n != len {
        // Not reached for accepted text; the prefix is rebuilt rather than trusted.
        let body = out.split_off(at);
        let out = pae(payload_type, &body);
        let at = out.len() - body.len();
        return Ok((out, at));
    }
    Ok((out, at))
}

/// The envelope as it travels on the wire (strict: unknown members are rejected, and so is
/// serde's spelling of a struct as an array of its fields: DSSE envelopes are JSON objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireEnvelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<WireSignature>,
}

/// One DSSE signature entry (a JSON object, like the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireSignature {
    pub keyid: String,
    pub sig: String,
}

/// The derived readers of the wire types' members; the wire types read only JSON objects.
mod members {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Envelope {
        #[serde(rename = "payloadType")]
        pub payload_type: String,
        pub payload: String,
        pub signatures: Vec<super::WireSignature>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Signature {
        pub keyid: String,
        pub sig: String,
    }
}

impl<'de> Deserialize<'de> for WireEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: members::Envelope = crate::domain::bounded::object_only(d)?;
        Ok(Self {
            payload_type: m.payload_type,
            payload: m.payload,
            signatures: m.signatures,
        })
    }
}

impl<'de> Deserialize<'de> for WireSignature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: members::Signature = crate::domain::bounded::object_only(d)?;
        Ok(Self {
            keyid: m.keyid,
            sig: m.sig,
        })
    }
}

/// Why an envelope was refused before any ledger rule ran.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// 400 `invalid_envelope`: not a DSSE envelope we accept (shape, base64, signature count).
    #[error("{0}")]
    Invalid(String),
    /// 400 `invalid_envelope`: the payloadType is not the caseledger event type.
    #[error("payloadType must be `{PAYLOAD_TYPE}`, got `{0}`")]
    PayloadType(String),
    /// 401 `bad_signature`: the signature does not verify under the key named by keyid.
    #[error("signature does not verify for keyid {0}")]
    BadSignature(String),
}

/// An envelope whose shape is checked and whose fields are decoded, but whose signature is
/// not yet verified (the key must first be looked up by `keyid`).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The pre-authentication encoding, which ends with the payload bytes.
    message: Vec<u8>,
    /// Where the payload starts in `message`.
    payload_at: usize,
    keyid: KeyId,
    signature: Signature,
}

impl Envelope {
    /// Parses envelope JSON strictly: one signature, our payload type, valid base64 fields.
    pub fn parse(json: &[u8]) -> Result<Self, EnvelopeError> {
        let wire: WireEnvelope = serde_json::from_slice(json)
            .map_err(|e| EnvelopeError::Invalid(format!("envelope: {e}")))?;
        Self::from_wire(&wire)
    }

    /// Decodes an already-deserialised wire envelope.
    pub fn from_wire(wire: &WireEnvelope) -> Result<Self, EnvelopeError> {
        let sigs: Vec<(&str, &str)> = wire
            .signatures
            .iter()
            .map(|s| (s.keyid.as_str(), s.sig.as_str()))
            .collect();
        Self::from_parts(&wire.payload_type, &wire.payload, &sigs)
    }

    /// Decodes an envelope from its fields' texts: the payload type, the base64 payload and
    /// each signature's `(keyid, sig)`.
    pub fn from_parts(
        payload_type: &str,
        payload: &str,
        signatures: &[(&str, &str)],
    ) -> Result<Self, EnvelopeError> {
        if payload_type != PAYLOAD_TYPE {
            return Err(EnvelopeError::PayloadType(payload_type.to_owned()));
        }
        let [(keyid, sig)] = signatures else {
            return Err(EnvelopeError::Invalid(format!(
                "exactly one signature is required, got {}",
                signatures.len()
            )));
        };
        let (message, payload_at) = decode_into_pae(payload_type, payload).map_err(|e| {
            let why = match e {
                base64::DecodeSliceError::DecodeError(e) => e.to_string(),
                other => other.to_string(),
            };
            EnvelopeError::Invalid(format!("payload is not standard base64: {why}"))
        })?;
        let keyid = KeyId::parse(keyid).map_err(|_| {
            EnvelopeError::Invalid("signatures[0].keyid must be 64 lowercase hex".into())
        })?;
        let mut sig_bytes = [0u8; 66];
        let n = B64
            .decode_slice(sig, &mut sig_bytes)
            .map_err(|e| EnvelopeError::Invalid(format!("signatures[0].sig is not base64: {e}")))?;
        let signature = Signature::from_slice(&sig_bytes[..n]).map_err(|_| {
            EnvelopeError::Invalid("signatures[0].sig must be a 64-byte Ed25519 signature".into())
        })?;
        Ok(Self {
            message,
            payload_at,
            keyid,
            signature,
        })
    }

    /// The signed payload bytes (the event JSON), exactly as the client sent them.
    pub fn payload(&self) -> &[u8] {
        &self.message[self.payload_at..]
    }

    /// The key the client claims to have signed with.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The bytes the signature covers (the DSSE pre-authentication encoding).
    pub fn signed_message(&self) -> &[u8] {
        &self.message
    }

    /// The signed message, given up without a copy (for a signature checked later). The
    /// envelope is left with an empty payload and message.
    pub fn take_signed_message(&mut self) -> Vec<u8> {
        self.payload_at = 0;
        std::mem::take(&mut self.message)
    }

    /// Strict Ed25519 verification (rejects small-order keys and non-canonical signatures).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), EnvelopeError> {
        key.verify_strict(self.signed_message(), &self.signature)
            .map_err(|_| EnvelopeError::BadSignature(self.keyid.to_string()))
    }

    /// The canonical wire form the server stores inside a log entry. It is rebuilt from the
    /// decoded parts so that every entry spells its envelope the same way; the signature
    /// covers the payload bytes, which are carried unchanged.
    pub fn to_wire(&self) -> WireEnvelope {
        WireEnvelope {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload: B64.encode(self.payload()),
            signatures: vec![WireSignature {
                keyid: self.keyid.to_string(),
                sig: B64.encode(self.signature.to_bytes()),
            }],
        }
    }
}

/// Signs payload bytes into a wire envelope (client side: CLI, tests, demo, benchmarks).
pub fn sign(payload: &[u8], key: &SigningKey) -> WireEnvelope {
    let keyid = KeyId::of(key.verifying_key().as_bytes());
    let sig = key.sign(&pae(PAYLOAD_TYPE, payload));
    WireEnvelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: B64.encode(payload),
        signatures: vec![WireSignature {
            keyid: keyid.to_string(),
            sig: B64.encode(sig.to_bytes()),
        }],
    }
}

#[cfg(test)]
mod tests;
