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
    let text = std::fs::read_to_string(arg).with_context(|| {
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
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
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
            "--consistency {} is a proof from size {}, but no --since checkpoint has that size",
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
    let start = reader.fill_buf().context("reading it")?;
    let bom = if start.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let blank = start[bom..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let note = if start.get(bom + blank) == Some(&b'{') {
        reader.consume(bom);
        serde_json::from_reader::<_, Member>(reader)
            .context("not a bundle")?
            .identity_heads
            .context("the bundle has no identity_heads")?
    } else {
        let mut text = String::new();
        reader.read_to_string(&mut text).context("reading it")?;
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
