//! What `verify` and `verify-checkpoint` check a checkpoint against: earlier checkpoints an
//! auditor kept, the consistency proofs between them, and identity heads kept from case
//! bundles; and reading the log's verifier key.

use std::path::PathBuf;

use anyhow::Context;

use crate::bundle::heads::IdentityHeads;
use crate::log::note::NoteVerifier;
use crate::log::Checkpoint;
use crate::verify;

/// Earlier checkpoints and the consistency proofs to them.
#[derive(Debug, clap::Args)]
pub struct EarlierArgs {
    /// An earlier checkpoint of this log (its signed note, as `GET /v1/log/checkpoint` served
    /// it), kept from a previous audit: the checkpoint checked must extend it. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub since: Vec<PathBuf>,
    /// The consistency proof from an earlier checkpoint's size to the one checked (the JSON
    /// of `GET /v1/log/proof/consistency?from=&to=`): needed for each `--since` of a smaller
    /// size, unless the bundle verified holds the log's first entries up to it. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub consistency: Vec<PathBuf>,
}

/// The log's verifier key, given as text or as a file holding it.
pub(crate) fn read_key(arg: &str) -> anyhow::Result<NoteVerifier> {
    if let Ok(k) = NoteVerifier::parse(arg.trim()) {
        return Ok(k);
    }
    let text = read_small(std::path::Path::new(arg), SMALL).with_context(|| {
        format!("--log-key is neither a verifier key nor a readable file: {arg}")
    })?;
    NoteVerifier::parse(text.trim()).with_context(|| format!("{arg}: not a verifier key"))
}

/// The earlier checkpoints (each must verify under the log key), consistency proofs, and
/// kept identity heads.
pub fn since(
    args: &EarlierArgs,
    heads: &[PathBuf],
    key: &NoteVerifier,
) -> anyhow::Result<verify::Since> {
    let read = |p: &PathBuf| read_small(p, SMALL);
    let earlier = args
        .since
        .iter()
        .map(|p| {
            Checkpoint::open_signed(&note_text(&read(p)?), key).with_context(|| {
                format!(
                    "--since {}: not a checkpoint signed by the log key",
                    p.display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let heads = heads
        .iter()
        .map(|p| kept_heads(p, key).with_context(|| format!("--heads {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let proofs = args
        .consistency
        .iter()
        .map(|p| {
            serde_json::from_str(&read(p)?).with_context(|| {
                format!(
                    "--consistency {}: not a consistency proof ({{\"from\", \"to\", \"hashes\"}})",
                    p.display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<verify::ConsistencyProof>>>()?;
    // A proof no --since (or --heads) uses is a mistake in the command, not to be ignored.
    let sizes: Vec<u64> = (earlier.iter().map(|e| e.size))
        .chain(heads.iter().map(|h| h.1.size))
        .collect();
    if let Some((p, path)) = proofs
        .iter()
        .zip(&args.consistency)
        .find(|(p, _)| !sizes.contains(&p.from))
    {
        anyhow::bail!(
            "--consistency {} is a proof from size {}, but no --since checkpoint (or --heads \
             tree) has that size",
            path.display(),
            p.from
        );
    }
    // The bundle's checkpoint must extend each heads' tree, as it must an earlier checkpoint.
    Ok(heads
        .into_iter()
        .fold(verify::Since::new(earlier, proofs), |since, (note, h)| {
            let tree = Checkpoint {
                origin: h.origin,
                size: h.size,
                root: h.root,
            };
            since.with_heads(note, tree)
        }))
}

/// A signed note as saved in a file: without a byte order mark, with LF line ends (a note
/// is signed over LF text), ending in exactly one newline (a file saved by hand, or by `jq
/// -r`, may carry more, or none).
pub fn note_text(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    format!("{}\n", text.replace("\r\n", "\n").trim_end())
}

/// The most a checkpoint, a consistency proof or a verifier key file may hold.
pub const SMALL: u64 = 1 << 20;
/// The most an identity heads note may hold (a line per identity stream).
const NOTE: u64 = 64 << 20;

/// A small text file (a checkpoint, a proof), refused past `limit` bytes rather than read
/// whole whatever it is (`/dev/zero`, a bundle given by mistake).
pub fn read_small(path: &std::path::Path, limit: u64) -> anyhow::Result<String> {
    use std::io::Read;
    let read = || -> anyhow::Result<String> {
        let mut text = String::new();
        std::fs::File::open(path)?
            .take(limit + 1)
            .read_to_string(&mut text)?;
        anyhow::ensure!(
            text.len() as u64 <= limit,
            "it holds more than {} KiB",
            limit >> 10
        );
        Ok(text)
    };
    read().with_context(|| format!("reading {}", path.display()))
}

/// Identity heads from a kept case bundle, or a note; opened under the log key. A bundle is
/// read as a stream (a full one given by mistake is not held in memory).
fn kept_heads(path: &PathBuf, key: &NoteVerifier) -> anyhow::Result<(String, IdentityHeads)> {
    use std::io::{BufRead, Read};
    #[derive(serde::Deserialize)]
    struct Member {
        identity_heads: Option<String>,
    }
    let file = std::fs::File::open(path).context("opening it")?;
    let mut reader = std::io::BufReader::new(file);
    // The first byte after a byte order mark and white space, however many reads that takes
    // (a pipe may hand over white space alone first); what was skipped is not needed.
    let mut first = true;
    let opening = loop {
        let buf = reader.fill_buf().context("reading it")?;
        let bom = if first && buf.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        first = false;
        let blank = bom
            + buf[bom..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let next = buf.get(blank).copied();
        reader.consume(blank);
        if next.is_some() || blank == 0 {
            break next;
        }
    };
    let note = if opening == Some(b'{') {
        serde_json::from_reader::<_, Member>(reader)
            .context("not a bundle")?
            .identity_heads
            .context("the bundle has no identity_heads")?
    } else {
        let mut text = String::new();
        let mut bounded = reader.take(NOTE + 1);
        bounded.read_to_string(&mut text).context("reading it")?;
        anyhow::ensure!(
            text.len() as u64 <= NOTE,
            "more than {} MiB: not a note",
            NOTE >> 20
        );
        note_text(&text)
    };
    let heads =
        IdentityHeads::open(&note, key).map_err(|e| anyhow::anyhow!("the identity heads {e}"))?;
    Ok((note, heads))
}

/// The sentence that says which earlier checkpoints `subject` (the checkpoint verified)
/// extends (none when no `--since` was shown).
pub fn extends_text(subject: &str, sizes: &[u64]) -> String {
    if sizes.is_empty() {
        return String::new();
    }
    let sizes: Vec<String> = sizes.iter().map(u64::to_string).collect();
    format!(
        "{subject} extends the earlier checkpoint(s) of size {}: no entry they covered was \
         changed, dropped or reordered since.\n",
        sizes.join(", ")
    )
}
