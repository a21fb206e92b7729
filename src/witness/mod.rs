//! A C2SP `tlog-witness`: it keeps, per log origin, the latest checkpoint it cosigned, and
//! cosigns a new one only if the log's key signed it and a consistency proof shows it
//! extends that one. The log's server submits each checkpoint (`feeder`); auditors pin the
//! witness's key and require its cosignature (`caseledger verify-checkpoint --witness`), so
//! a server showing two histories to two auditors would need the witness to sign both.
//!
//! `add-checkpoint` request: `old <size>\n`, up to 63 base64 consistency-proof lines, an empty
//! line, then the signed checkpoint note. Answers (the spec's): 200 with cosignature lines;
//! 400 malformed, or old size above the checkpoint's; 403 no signature by the origin's key;
//! 404 unknown origin; 409 the old size is not the one last cosigned (body: that size, as
//! `text/x.tlog.size`), or the same size with another root; 422 a proof that does not verify.

use base64::{engine::general_purpose::STANDARD, Engine as _};

use crate::log::cosignature::Witness;
use crate::log::merkle::Hash;
use crate::log::proof::verify_consistency;
use crate::log::{Checkpoint, NoteVerifier};

pub mod cosignatures;
pub mod feeder;
pub mod kept;
pub mod server;
pub mod state;

/// The most consistency-proof lines a request may carry (the spec's bound).
const MAX_PROOF: usize = 63;

/// A refused `add-checkpoint`, by the spec's status codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnknownLog(String),
    /// The witness's size for the log (the old size must be it).
    #[error("the latest cosigned checkpoint of this log has size {0}")]
    Conflict(u64),
    /// Same size, another root: two trees of one size, which the witness never cosigns.
    #[error("{0}")]
    Fork(String),
    #[error("{0}")]
    Unprovable(String),
    /// The witness's own state could not be read or written: nothing was cosigned.
    #[error("{0}")]
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status the spec gives it.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownLog(_) => 404,
            Refusal::Conflict(_) | Refusal::Fork(_) => 409,
            Refusal::Unprovable(_) => 422,
            Refusal::Unavailable(_) => 503,
        }
    }
}

/// A parsed `add-checkpoint` body.
#[derive(Debug)]
pub struct Submission {
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The signed note, as sent.
    pub note: String,
}

impl Submission {
    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<Self, Refusal> {
        let bad = |what: &str| Refusal::BadRequest(format!("add-checkpoint body: {what}"));
        let (head, note) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| *n == "0" || (!n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the first line must be `old <size>`, a decimal"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or_else(|| bad("a proof line is not base64 of 32 bytes"))?;
            proof.push(hash);
        }
        Ok(Self {
            old,
            proof,
            note: note.to_owned(),
        })
    }

    /// The request body, as a log sends it.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for h in &self.proof {
            body.push_str(&STANDARD.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }
}

/// What the witness last cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub size: u64,
    pub root: Hash,
}

/// A checkpoint the witness may cosign: parsed, and its note text as the log signed it
/// (extension lines included: a cosignature covers them).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub checkpoint: Checkpoint,
    pub text: String,
}

/// Checks `sub` against the log keys the witness follows and what it last cosigned for the
/// log (`latest`, none if never): the checkpoint it may cosign, or why not.
pub fn check(
    sub: &Submission,
    logs: &[NoteVerifier],
    latest: impl FnOnce(&str) -> Result<Option<Latest>, Refusal>,
) -> Result<Accepted, Refusal> {
    let accepted = authenticate(sub, logs)?;
    extends(sub, &accepted, latest(&accepted.checkpoint.origin)?)?;
    Ok(accepted)
}

/// What needs no record: the checkpoint is signed by a key the witness follows for its
/// origin (any of them, so a log can rotate its key), and the old size is not past it.
pub fn authenticate(sub: &Submission, logs: &[NoteVerifier]) -> Result<Accepted, Refusal> {
    let origin = sub.note.split('\n').next().unwrap_or_default();
    let keys: Vec<NoteVerifier> = logs
        .iter()
        .filter(|k| k.name() == origin)
        .cloned()
        .collect();
    if keys.is_empty() {
        return Err(Refusal::UnknownLog(format!(
            "this witness does not follow {origin:?}"
        )));
    }
    let opened = crate::log::open(&sub.note, &keys).map_err(|e| {
        Refusal::Forbidden(format!(
            "the checkpoint does not open with the log key: {e}"
        ))
    })?;
    let cp = Checkpoint::parse(&opened.text)
        .map_err(|e| Refusal::BadRequest(format!("not a checkpoint: {e}")))?;
    if sub.old > cp.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is above the checkpoint's size {}",
            sub.old, cp.size
        )));
    }
    Ok(Accepted {
        checkpoint: cp,
        text: opened.text,
    })
}

/// Whether `accepted` extends what was last cosigned (`latest`): `Ok(true)` when the record
/// must move to it, `Ok(false)` when it is the record already (cosigned again, as time
/// passes, without a write).
pub fn extends(
    sub: &Submission,
    accepted: &Accepted,
    latest: Option<Latest>,
) -> Result<bool, Refusal> {
    let cp = &accepted.checkpoint;
    let have = latest.as_ref().map_or(0, |l| l.size);
    if sub.old != have {
        return Err(Refusal::Conflict(have));
    }
    match latest {
        None if !sub.proof.is_empty() => Err(Refusal::BadRequest(
            "the proof must be empty from old size 0".into(),
        )),
        None => Ok(true),
        Some(l) if l.size == cp.size => match (l.root == cp.root, sub.proof.is_empty()) {
            (true, true) => Ok(false),
            (true, false) => Err(Refusal::BadRequest(
                "the proof must be empty at the same size".into(),
            )),
            (false, _) => Err(Refusal::Fork(format!(
                "a checkpoint of size {} with another root was cosigned before",
                cp.size
            ))),
        },
        Some(l) => verify_consistency(l.size, cp.size, &sub.proof, &l.root, &cp.root)
            .map(|()| true)
            .map_err(|e| {
                Refusal::Unprovable(format!("the consistency proof does not verify: {e}"))
            }),
    }
}

/// The cosignature lines answering an accepted checkpoint.
pub fn cosign(witness: &Witness, accepted: &Accepted, time: u64) -> String {
    witness.cosign(&accepted.text, time)
}

#[cfg(test)]
mod tests;
