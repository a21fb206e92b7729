//! Case bundles: one case stream and the identity entries its rules read, with the
//! signed identity heads (see [`crate::bundle::heads`]).

use std::io::Write;

use super::{
    inclusion_proof, write_entry, write_header, Chosen, ExportError, ExportNodes, ExportSummary,
    LogIdentity,
};
use crate::domain::StreamId;
use crate::store::{EventStore, StoredEntry};

/// A case bundle's content, gathered: what [`CaseBundle::write`] writes.
pub struct CaseBundle {
    checkpoint: Chosen,
    entries: Vec<StoredEntry>,
    after_checkpoint: u64,
    case_stream: String,
    /// Index of the case's last entry.
    last: u64,
}

/// Writes a case bundle (see [`gather_case`]).
pub fn write_case(
    store: &dyn EventStore,
    id: &LogIdentity,
    case_stream: &str,
    identity_streams: &[String],
    visible: u64,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    gather_case(store, id, case_stream, identity_streams, visible)?.write(store, id, out)
}

/// Gathers a case bundle: every entry of `case_stream` under the latest checkpoint (or the
/// one `id` asks for: see [`LogIdentity::witnessed`]), plus
/// the entries of the identity streams (`principal-*` and `agency-*`) whose index is below
/// the case's last entry, in index order. `identity_streams` are those of the entries below
/// `visible`; any created at or after it are found by reading the log from there. Every
/// refusal (no such case, a case past the checkpoint) comes from here, before anything is
/// written.
pub fn gather_case(
    store: &dyn EventStore,
    id: &LogIdentity,
    case_stream: &str,
    identity_streams: &[String],
    visible: u64,
) -> Result<CaseBundle, ExportError> {
    let chosen = id.bundle_checkpoint(store)?;
    let cp = &chosen.cp;
    let case = read_stream_below(store, case_stream, cp.size)?;
    // A case stream is short: its entries past the checkpoint are counted in one read.
    let after_checkpoint = store
        .read_stream(case_stream, case.len() as u64, usize::MAX >> 1)?
        .len() as u64;
    let last = case.last().map(|e| e.index).ok_or_else(|| {
        if after_checkpoint > 0 {
            ExportError::Uncovered {
                stream: case_stream.to_owned(),
                entries: after_checkpoint,
                checkpoint_size: cp.size,
                witnessed: id.witnessed,
            }
        } else {
            ExportError::NotFound(case_stream.to_owned())
        }
    })?;
    // `identity_streams` lists the streams of the entries below `visible`; the store may
    // already hold later ones (a writer commits before it publishes, and a node of a shared
    // log mirrors before it folds), where a case entry could name a newly registered signer
    // or agency: those are found in the log itself.
    let mut streams = identity_streams.to_vec();
    if last > visible {
        streams.extend(scan_identity_streams_from(store, visible, last)?);
        streams.sort();
        streams.dedup();
    }
    let mut entries = case;
    for s in &streams {
        entries.extend(read_stream_below(store, s, last)?);
    }
    entries.sort_by_key(|e| e.index);
    Ok(CaseBundle {
        checkpoint: chosen,
        entries,
        after_checkpoint,
        case_stream: case_stream.to_owned(),
        last,
    })
}

impl CaseBundle {
    /// Writes the bundle, each entry with its inclusion proof.
    pub fn write(
        self,
        store: &dyn EventStore,
        id: &LogIdentity,
        out: &mut dyn Write,
    ) -> Result<ExportSummary, ExportError> {
        let cp = &self.checkpoint.cp;
        // Signed for a case stream (the conformance suite exports other streams this way).
        let case = match self.case_stream.parse() {
            Ok(StreamId::Case(case)) => Some(case),
            _ => None,
        };
        let heads = id
            .signer
            .as_ref()
            .zip(case)
            .map(|(signer, case)| {
                crate::bundle::heads::sign_for(signer, cp, &self.entries, case, self.last + 1)
            })
            .transpose()?;
        let cosignatures = write_header(out, id, &self.checkpoint, heads.as_deref())?;
        let nodes = ExportNodes::new(store);
        for (i, e) in self.entries.iter().enumerate() {
            let proof = inclusion_proof(&nodes, e.index, cp.size)?;
            write_entry(out, i == 0, e, &proof)?;
        }
        out.write_all(b"\n]}\n")?;
        out.flush()?;
        Ok(ExportSummary {
            entries: self.entries.len() as u64,
            checkpoint_size: cp.size,
            after_checkpoint: self.after_checkpoint,
            cosignatures,
        })
    }
}

/// The entries of a stream with index below `end`, in revision order.
fn read_stream_below(
    store: &dyn EventStore,
    stream: &str,
    end: u64,
) -> Result<Vec<StoredEntry>, ExportError> {
    let mut out = Vec::new();
    loop {
        let chunk = store.read_stream(stream, out.len() as u64, 4096)?;
        let full = chunk.len() == 4096;
        let before = out.len();
        out.extend(chunk.into_iter().take_while(|e| e.index < end));
        if !full || out.len() - before < 4096 {
            return Ok(out);
        }
    }
}

/// The `principal-*` and `agency-*` streams among `names`: what a case bundle carries
/// besides the case.
pub fn identity_streams<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = names
        .filter(|s| crate::bundle::is_identity_stream(s))
        .cloned()
        .collect();
    v.sort();
    v
}

/// The identity streams with entries below `end`, found by scanning the log (for the CLI,
/// which has the store but no folded state).
pub fn scan_identity_streams(store: &dyn EventStore, end: u64) -> Result<Vec<String>, ExportError> {
    scan_identity_streams_from(store, 0, end)
}

/// The identity streams with entries from `start` to below `end`.
fn scan_identity_streams_from(
    store: &dyn EventStore,
    start: u64,
    end: u64,
) -> Result<Vec<String>, ExportError> {
    let mut names = std::collections::BTreeSet::new();
    let mut next = start;
    while next < end {
        let chunk = store.read_all(next, 8192)?;
        if chunk.is_empty() {
            break;
        }
        for e in chunk.iter().take_while(|e| e.index < end) {
            if crate::bundle::is_identity_stream(&e.stream) {
                names.insert(e.stream.clone());
            }
        }
        next += chunk.len() as u64;
    }
    Ok(names.into_iter().collect())
}
