//! The verification report: what was checked, and the first failure named precisely.

use serde::Serialize;

/// Which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The document is not a `caseledger-bundle/v1` bundle.
    Format,
    /// The bundle names a log key other than the one given to the verifier.
    LogKey,
    /// The checkpoint is malformed or its signature does not verify under the log key.
    Checkpoint,
    /// Entry indexes are not strictly increasing from 0, or exceed the checkpoint size.
    Order,
    /// The entry bytes are not a valid v1 entry (layout, envelope or event schema).
    Entry,
    /// The entry's inclusion proof does not lead to the checkpoint root.
    InclusionProof,
    /// A full log's entries do not hash to the checkpoint root.
    Root,
    /// The bundle does not hold the whole log although that was required.
    Completeness,
    /// The stream's revisions are not contiguous from 0.
    Revision,
    /// `recorded_at` went backwards.
    RecordedAt,
    /// An event id appears twice.
    DuplicateEvent,
    /// The DSSE signature does not verify under the signer's registered key.
    Signature,
    /// A DESIGN §2.4 rule, replayed with the server's own `decide`, refuses the entry.
    Rule,
    /// The bundle's checkpoint does not extend an earlier one given with `--since`.
    Consistency,
    /// The identity heads are not signed by the log key, are not for this checkpoint, or
    /// attest entries the bundle does not hold (or not those it holds).
    IdentityHeads,
    /// Fewer of the pinned witnesses than required cosigned the checkpoint, or a
    /// cosignature by a pinned witness does not verify.
    Witnesses,
    /// A file or key given on the command line cannot be used (reported with `--json`, so
    /// that a script reads a report whatever went wrong).
    Input,
}

impl Check {
    /// The wire spelling, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Format => "format",
            Check::LogKey => "log_key",
            Check::Checkpoint => "checkpoint",
            Check::Order => "order",
            Check::Entry => "entry",
            Check::InclusionProof => "inclusion_proof",
            Check::Root => "root",
            Check::Completeness => "completeness",
            Check::Revision => "revision",
            Check::RecordedAt => "recorded_at",
            Check::DuplicateEvent => "duplicate_event",
            Check::Signature => "signature",
            Check::Rule => "rule",
            Check::Consistency => "consistency",
            Check::IdentityHeads => "identity_heads",
            Check::Witnesses => "witnesses",
            Check::Input => "input",
        }
    }
}

/// The first thing that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Leaf index of the failing entry (absent for bundle-level failures).
    pub index: Option<u64>,
    pub stream: Option<String>,
    pub revision: Option<u64>,
    pub check: Check,
    /// The problem code for rule failures (e.g. `consent_required`).
    pub code: Option<&'static str>,
    pub message: String,
}

impl Failure {
    /// A bundle-level failure.
    pub fn bundle(check: Check, message: impl Into<String>) -> Self {
        Self {
            index: None,
            stream: None,
            revision: None,
            check,
            code: None,
            message: message.into(),
        }
    }

    /// A failure at one entry, before its stream is known.
    pub fn at(index: u64, check: Check, message: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            ..Self::bundle(check, message)
        }
    }

    /// Names the entry's stream and revision.
    pub fn in_stream(mut self, stream: &str, revision: u64) -> Self {
        self.stream = Some(stream.to_owned());
        self.revision = Some(revision);
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "entry {i}")?,
            None => f.write_str("bundle")?,
        }
        if let (Some(s), Some(r)) = (&self.stream, self.revision) {
            write!(f, " (stream {s}, revision {r})")?;
        }
        write!(f, ": {} check failed", self.check.as_str())?;
        if let Some(c) = self.code {
            write!(f, " [{c}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Whether the bundle held the whole log or a part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Every entry from 0 to the checkpoint size; the root was recomputed.
    Full,
    /// A subset (a case bundle): each entry proven included, replayed from genesis.
    Partial,
}

/// Where a principal stream ends in a bundle, and the last entry that relied on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamEnd {
    pub stream: String,
    /// Revision and index of its last entry in the bundle.
    pub revision: u64,
    pub index: u64,
    /// Index of the last entry signed by the principal, or of a case entry naming it as
    /// coordinator.
    pub needed_until: u64,
}

/// Identity heads that held for a bundle (see [`crate::bundle::heads`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadsHeld {
    /// The case stream: all its entries in the heads' tree are in the bundle.
    pub case: String,
    /// The size of the tree the heads count in.
    pub tree_size: u64,
    /// The principal and agency entries below this index are all in the bundle.
    pub before: u64,
}

/// The outcome of `verify` (`--json` prints it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub ok: bool,
    pub origin: Option<String>,
    pub kind: Option<Kind>,
    pub checkpoint_size: Option<u64>,
    /// Standard base64 of the checkpoint root.
    pub checkpoint_root: Option<String>,
    /// Entries checked before the first failure (all of them when `ok`).
    pub entries: u64,
    pub signatures: u64,
    pub streams: usize,
    /// The case streams present in the bundle.
    pub cases: Vec<String>,
    /// Sizes of the earlier checkpoints (`--since`) the bundle's checkpoint was shown to
    /// extend.
    pub consistent_with: Vec<u64>,
    /// A partial bundle's index of its last case entry.
    pub last_case_index: Option<u64>,
    /// A partial bundle's principal streams that its entries rely on (every signer, named
    /// coordinators) whose last entry in it comes before the last entry relying on them: an entry of theirs in between could have been left out (see docs/verify.md).
    /// Empty for a full-log bundle, and when identity heads cover them.
    pub open_identity_streams: Vec<StreamEnd>,
    /// When the bundle carries identity heads signed by the log key and it holds every
    /// entry they attest (any bundle kind): the index below which they count (see
    /// docs/verify.md).
    pub identity_heads_before: Option<u64>,
    /// ...and the case stream whose every entry in the tree the bundle then holds (both
    /// of the bundle's own heads, else of the first given with `--heads`).
    pub identity_heads_case: Option<String>,
    /// Every identity heads note that held: the bundle's own, then those given with
    /// `--heads`.
    pub heads_held: Vec<HeadsHeld>,
    /// The pinned witnesses (`--witness`) whose cosignature of the checkpoint counted.
    pub witnessed_by: Vec<crate::log::cosignature::Cosigned>,
    /// The checkpoint member the verified checkpoint was read from (not in the JSON report).
    #[serde(skip)]
    pub checkpoint_note: String,
    pub failure: Option<Failure>,
}
