//! Export bundles (DESIGN §4.1): one JSON document an auditor can check offline with
//! `caseledger verify`, holding the log's checkpoint and entries with their inclusion proofs.
//!
//! Two kinds share the format:
//! - a **full-log bundle** holds every entry from index 0 up to the checkpoint size;
//! - a **case bundle** holds every entry of one case stream plus every `principal-*` and
//!   `agency-*` entry whose index is below the case's last entry. That is the simplest sound
//!   choice for "the identity entries needed to check signers, keys, roles and agencies at each
//!   step": it starts at the genesis entry (index 0 is always the first admin's registration),
//!   and every identity stream it carries is a complete prefix, so a key revocation or a
//!   deactivation recorded before a case step is in the bundle.
//!
//! Writers put `entries` last so readers can stream; [`read`] accepts any member order.

mod chunk;
pub mod export;

/// Whether `stream` is a principal or agency stream: what a case bundle carries besides
/// the case, and what its identity heads count.
pub fn is_identity_stream(stream: &str) -> bool {
    stream.starts_with("principal-") || stream.starts_with("agency-")
}
pub mod heads;
mod members;
pub mod read;

use serde::{Deserialize, Serialize};

/// The value of the `format` member.
pub const FORMAT: &str = "caseledger-bundle/v1";

/// One entry: its leaf index, its exact bytes and its inclusion proof against the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub index: u64,
    /// The entry's stored bytes, as a JSON string (entries are UTF-8 JSON).
    pub entry: String,
    /// Standard base64 RFC 9162 audit path, deepest sibling first.
    pub proof: Vec<String>,
}

/// Everything in a bundle but its entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BundleHeader {
    pub format: String,
    /// The log's origin line.
    pub origin: String,
    /// The log's signed-note verifier key, as the exporter claims it.
    pub log_key: String,
    /// The signed checkpoint note the proofs lead to.
    pub checkpoint: String,
}

/// A whole bundle in memory: small case bundles, tests and hand-built bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub origin: String,
    pub log_key: String,
    pub checkpoint: String,
    /// Signed identity heads (a case bundle; see [`heads`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_heads: Option<String>,
    pub entries: Vec<BundleEntry>,
}

impl Bundle {
    /// The header members.
    pub fn header(&self) -> BundleHeader {
        BundleHeader {
            format: self.format.clone(),
            origin: self.origin.clone(),
            log_key: self.log_key.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}
