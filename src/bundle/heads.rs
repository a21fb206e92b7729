//! Identity heads: a statement the exporter of a case bundle signs with the log key, that
//! in the tree of the bundle's checkpoint the case stream holds exactly so many entries,
//! the last at index `before − 1`, and that among the log's first `before` entries each
//! principal and agency stream it names holds exactly so many entries.
//!
//! A case bundle cannot prove absence: contiguous revisions show that nothing is missing
//! before a stream's last entry in the bundle, not after it. A key revocation that was the
//! last entry of a signer's stream could be left out, and the case steps after it would
//! replay as valid; a consent withdrawal that was the case's last entry could be left out,
//! and the case would read as consented. With the heads, the verifier checks that the
//! bundle holds every attested entry; an exporter that leaves one out must also sign a
//! false count, which any full-log audit refutes with the signed note as evidence.
//! Transparency logs make a server accountable this way for what a proof cannot force it
//! to show.
//!
//! The note's text (a C2SP signed note, signed by the log key):
//!
//! ```text
//! caseledger identity heads v2
//! <origin>
//! <checkpoint size> <base64 checkpoint root>
//! <before>
//! <case stream> <count> (its entries in the whole tree; the last is at index before − 1)
//! <stream> <count>      (one line per identity stream, in byte order, count ≥ 1)
//! ```
//!
//! (Version 1, made by development builds for one day, had no case line; it is refused.)
//!
//! Its first line cannot be taken for a checkpoint's origin (the origin must be the log
//! key's name, and a checkpoint's second line is a number), nor a checkpoint for heads.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine as _};

use crate::domain::{CaseId, StreamId};
use crate::log::merkle::Hash;
use crate::log::note::{open, NoteSigner, NoteVerifier};
use crate::log::Checkpoint;
use crate::store::{StoreError, StoredCheckpoint, StoredEntry};

/// The first line of the note text.
const KIND: &str = "caseledger identity heads v2";

/// Most streams one note may name (a bound on what a verifier reads).
const MOST_STREAMS: usize = 1_000_000;

/// The attested counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeads {
    pub origin: String,
    /// Size and root of the checkpoint the bundle's proofs lead to.
    pub size: u64,
    pub root: Hash,
    /// The identity counts are of the entries with index below this; the case's last
    /// entry is at `before − 1`.
    pub before: u64,
    /// The case, and its number of entries in the whole tree (at least 1).
    pub case: CaseId,
    pub case_entries: u64,
    /// Identity stream name to its number of entries below `before` (each at least 1).
    pub counts: BTreeMap<String, u64>,
}

impl IdentityHeads {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{KIND}\n{}\n{} {}\n{}\n{} {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            self.before,
            StreamId::Case(self.case),
            self.case_entries
        );
        for (stream, count) in &self.counts {
            text.push_str(&format!("{stream} {count}\n"));
        }
        text
    }

    /// The signed note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, String> {
        if self.origin != signer.name() {
            return Err(format!(
                "origin {} is not the log key's name {}",
                self.origin,
                signer.name()
            ));
        }
        signer.sign(&self.to_text()).map_err(|e| e.to_string())
    }

    /// Opens a signed note with the log key and parses it strictly. The error completes
    /// "the identity heads …".
    pub fn open(note: &str, key: &NoteVerifier) -> Result<Self, String> {
        let opened = open(note, std::slice::from_ref(key))
            .map_err(|e| format!("do not verify under the log key: {e}"))?;
        let heads = Self::parse(&opened.text).map_err(|e| format!("are malformed: {e}"))?;
        if heads.origin != key.name() {
            return Err(format!(
                "name the origin {:?}, not the log key's name {:?}",
                heads.origin,
                key.name()
            ));
        }
        Ok(heads)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let body = text.strip_suffix('\n').ok_or("must end with a newline")?;
        let mut lines = body.split('\n');
        let mut next = |what: &str| lines.next().ok_or(format!("missing {what} line"));
        match next("first")? {
            KIND => {}
            "caseledger identity heads v1" => {
                return Err(
                    "version 1 (made by development builds on 2026-12-05 and 06, \
                            without the case line) is no longer read: export the case again"
                        .into(),
                )
            }
            _ => return Err(format!("the first line is not {KIND:?}")),
        }
        let origin = next("origin")?.to_owned();
        let (size, root) = next("checkpoint")?
            .split_once(' ')
            .ok_or("the checkpoint line is `<size> <root>`")?;
        let size = number(size, "checkpoint size")?;
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or("the checkpoint root is not 32 bytes of base64")?;
        let before = number(next("before")?, "before")?;
        if before == 0 {
            return Err("before is 0: the case's last entry is at index before − 1".into());
        }
        let (case, case_entries) = next("case")?
            .split_once(' ')
            .ok_or("the case line is `<case stream> <count>`")?;
        let case_entries = number(case_entries, "case count")?;
        let case = match case.parse() {
            Ok(StreamId::Case(id)) if case_entries > 0 => id,
            _ => {
                return Err(format!(
                    "{case:?} {case_entries}: not a case stream with entries"
                ))
            }
        };
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for line in lines {
            let (stream, count) = line
                .split_once(' ')
                .ok_or("a stream line is `<stream> <count>`")?;
            let count = number(count, "count")?;
            let named = matches!(
                stream.parse(),
                Ok(StreamId::Principal(_) | StreamId::Agency(_))
            );
            if !named || count == 0 {
                return Err(format!(
                    "{stream:?} {count}: not an identity stream with entries"
                ));
            }
            if counts
                .last_key_value()
                .is_some_and(|(last, _)| last.as_str() >= stream)
            {
                return Err("streams are not in strictly increasing byte order".into());
            }
            if counts.len() == MOST_STREAMS {
                return Err(format!("more than {MOST_STREAMS} streams"));
            }
            counts.insert(stream.to_owned(), count);
        }
        Ok(Self {
            origin,
            size,
            root,
            before,
            case,
            case_entries,
            counts,
        })
    }
}

/// The signed identity heads of a case bundle's `entries` under checkpoint `cp`, as the
/// exporter gathers them: every entry of `case` in the tree, the last at `before − 1`, and
/// every identity entry below `before`.
pub(super) fn sign_for(
    signer: &NoteSigner,
    cp: &StoredCheckpoint,
    entries: &[StoredEntry],
    case: CaseId,
    before: u64,
) -> Result<String, StoreError> {
    let case_stream = StreamId::Case(case).to_string();
    let cp = Checkpoint::open_signed(&cp.note, &signer.verifier())
        .map_err(|e| StoreError::Corrupt(format!("the stored checkpoint: {e}")))?;
    let mut counts = BTreeMap::new();
    let mut case_entries = 0;
    for e in entries {
        if e.stream == case_stream {
            case_entries += 1;
        } else if super::is_identity_stream(&e.stream) {
            *counts.entry(e.stream.clone()).or_insert(0) += 1;
        }
    }
    let heads = IdentityHeads {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        before,
        case,
        case_entries,
        counts,
    };
    heads.sign(signer).map_err(StoreError::Corrupt)
}

/// A decimal without sign or leading zeros.
fn number(text: &str, what: &str) -> Result<u64, String> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    match text.parse() {
        Ok(n) if canonical => Ok(n),
        _ => Err(format!("{what} {text:?} is not a decimal number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(signer: &NoteSigner) -> IdentityHeads {
        IdentityHeads {
            origin: signer.name().to_owned(),
            size: 12,
            root: [7; 32],
            before: 10,
            case: "0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60"
                .parse()
                .expect("a case id"),
            case_entries: 4,
            counts: [
                ("agency-a".to_owned(), 2),
                ("principal-maria".to_owned(), 3),
            ]
            .into(),
        }
    }

    const CASE: &str = "case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60";

    #[test]
    fn the_text_names_the_case_after_before_then_the_identity_streams() {
        let signer = NoteSigner::generate("example.org/log").expect("key");
        assert_eq!(
            heads(&signer).to_text(),
            format!(
                "caseledger identity heads v2\nexample.org/log\n12 {}\n10\n{CASE} 4\n\
                 agency-a 2\nprincipal-maria 3\n",
                STANDARD.encode([7; 32])
            )
        );
    }

    #[test]
    fn signed_heads_open_under_the_log_key_only() {
        let signer = NoteSigner::generate("example.org/log").expect("key");
        let h = heads(&signer);
        let note = h.sign(&signer).expect("signed");
        assert_eq!(IdentityHeads::open(&note, &signer.verifier()), Ok(h));
        let other = NoteSigner::generate("example.org/log").expect("key");
        assert!(IdentityHeads::open(&note, &other.verifier()).is_err());
        // Any change to the text breaks the signature.
        let edited = note.replace("principal-maria 3", "principal-maria 2");
        assert!(IdentityHeads::open(&edited, &signer.verifier()).is_err());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let signer = NoteSigner::generate("example.org/log").expect("key");
        let good = heads(&signer).to_text();
        let opened = |text: &str| {
            let note = signer.sign(text).expect("signed");
            IdentityHeads::open(&note, &signer.verifier()).expect_err("refused")
        };
        assert!(opened(&good.replace(KIND, "caseledger identity heads v1"))
            .contains("are malformed: version 1 (made by development builds"));
        assert!(opened(&good.replace("\n10\n", "\n0\n")).contains("before is 0"));
        let other = NoteSigner::generate("example.org/log").expect("key");
        let note = other.sign(&good).expect("signed");
        let e = IdentityHeads::open(&note, &signer.verifier()).expect_err("refused");
        assert!(e.starts_with("do not verify under the log key"), "{e}");
    }

    #[test]
    fn heads_and_checkpoints_cannot_be_taken_for_each_other() {
        let signer = NoteSigner::generate("example.org/log").expect("key");
        let note = heads(&signer).sign(&signer).expect("signed");
        assert!(Checkpoint::open_signed(&note, &signer.verifier()).is_err());
        let cp = Checkpoint {
            origin: signer.name().to_owned(),
            size: 3,
            root: [1; 32],
        }
        .sign(&signer)
        .expect("checkpoint");
        assert!(IdentityHeads::open(&cp, &signer.verifier()).is_err());
    }

    #[test]
    fn malformed_texts_are_refused() {
        let signer = NoteSigner::generate("example.org/log").expect("key");
        let good = heads(&signer).to_text();
        for bad in [
            good.replace("agency-a 2\n", "agency-a 0\n"),
            good.replace("agency-a 2\n", "case-x 2\n"),
            good.replace("agency-a 2\n", &format!("{CASE} 2\n")),
            good.replace(
                "agency-a 2\nprincipal-maria 3\n",
                "principal-maria 3\nagency-a 2\n",
            ),
            good.replace("\n10\n", "\n010\n"),
            good.replace("\n10\n", "\n-1\n"),
            good.replace("12 ", "12"),
            good.replace(KIND, "caseledger identity heads v1"),
            good.replace(KIND, "caseledger identity heads v3"),
            // The case line: missing, not a case, no entries, malformed count.
            good.replace(&format!("{CASE} 4\n"), ""),
            good.replace(&format!("{CASE} 4\n"), "agency-x 4\n"),
            good.replace(&format!("{CASE} 4\n"), &format!("{CASE} 0\n")),
            good.replace(&format!("{CASE} 4\n"), &format!("{CASE} 04\n")),
            good.replace(&format!("{CASE} 4\n"), &format!("{CASE}-x 4\n")),
            good.replace(&format!("{CASE} 4\n"), &format!("{CASE}\n")),
            good.replace("\n10\n", "\n0\n"),
            // Identity streams that cannot exist.
            good.replace("agency-a 2\n", "agency-A 2\n"),
            good.replace("agency-a 2\n", "agency- 2\n"),
        ] {
            let note = signer.sign(&bad).expect("signed");
            assert!(
                IdentityHeads::open(&note, &signer.verifier()).is_err(),
                "{bad}"
            );
        }
    }
}
