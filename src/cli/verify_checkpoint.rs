//! `caseledger verify-checkpoint`: checks a checkpoint on its own against the log's verifier
//! key and the checkpoints an auditor kept. Two auditors who compare their checkpoints this
//! way (each passing the other's with `--since`, with the server's consistency proof) would
//! catch a log that shows them different histories; an auditor who checks the server's
//! latest checkpoint before an export catches a rolled-back log before reading any bundle.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::earlier::{extends_text, note_text, read_key, read_small, since, EarlierArgs, SMALL};
use crate::log::cosignature::{cosignatures, Cosigned, WitnessKey};
use crate::log::Checkpoint;
use crate::verify::{Check, Failure};

/// Arguments of `verify-checkpoint`.
#[derive(Debug, clap::Args)]
pub struct VerifyCheckpointArgs {
    /// The checkpoint: its signed note, as `GET /v1/log/checkpoint` serves it (or a
    /// bundle's `checkpoint` member saved as text).
    pub checkpoint: PathBuf,
    /// The log's verifier key (`<name>+<hash>+<base64>`, as `init` printed it), or a file
    /// holding it.
    #[arg(long)]
    pub log_key: String,
    #[command(flatten)]
    pub earlier: EarlierArgs,
    /// A witness's key (`<name>+<hex id>+<base64>`, as `caseledger witness init` printed it),
    /// or a file holding it: the checkpoint must carry its cosignature (C2SP
    /// tlog-cosignature). Repeatable.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the `--witness` keys must have cosigned (default: all of them).
    #[arg(long = "witness-threshold")]
    pub witness_threshold: Option<usize>,
    /// Count only cosignatures made at most this many seconds ago (by this machine's
    /// clock): a server that froze its view keeps serving old ones.
    #[arg(long = "witness-max-age")]
    pub witness_max_age: Option<u64>,
    /// Print a machine-readable JSON report on standard output.
    #[arg(long)]
    pub json: bool,
}

/// The outcome (`--json` prints it).
#[derive(Debug, Default, serde::Serialize)]
pub struct CheckpointReport {
    pub ok: bool,
    pub origin: Option<String>,
    pub checkpoint_size: Option<u64>,
    /// Standard base64 of the root.
    pub checkpoint_root: Option<String>,
    /// Sizes of the earlier checkpoints (`--since`) it was shown to extend.
    pub consistent_with: Vec<u64>,
    /// The pinned witnesses (`--witness`) whose cosignature verified, and when they signed.
    pub witnessed_by: Vec<Cosigned>,
    pub failure: Option<Failure>,
}

/// `caseledger verify-checkpoint`.
pub fn verify_checkpoint(args: VerifyCheckpointArgs) -> anyhow::Result<()> {
    let report = match checked(&args) {
        Ok(report) => report,
        // With --json a script reads a report whatever went wrong.
        Err(e) if args.json => refused(Check::Input, format!("{e:#}")),
        Err(e) => return Err(e),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text_of(&report));
    }
    match &report.failure {
        None => Ok(()),
        Some(f) => anyhow::bail!("verification failed: {}", failed(f)),
    }
}

/// A report of `check` failing.
fn refused(check: Check, message: String) -> CheckpointReport {
    CheckpointReport {
        failure: Some(Failure::bundle(check, message)),
        ..CheckpointReport::default()
    }
}

/// The report on the checkpoint, once the inputs could be read.
fn checked(args: &VerifyCheckpointArgs) -> anyhow::Result<CheckpointReport> {
    let key = read_key(&args.log_key)?;
    let text = read_small(&args.checkpoint, SMALL)?;
    let earlier = since(&args.earlier, &[], &key)?;
    let pinned = witness_keys(&args.witnesses)?;
    let threshold = args.witness_threshold.unwrap_or(pinned.len());
    if threshold > pinned.len() {
        anyhow::bail!(
            "--witness-threshold {threshold} is more than the {} witnesses given",
            pinned.len()
        );
    }
    if threshold == 0 && args.witness_threshold.is_some() {
        anyhow::bail!("--witness-threshold 0 would check nothing; leave out --witness instead");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let policy = Policy {
        pinned,
        threshold,
        oldest: args.witness_max_age.map(|age| now.saturating_sub(age)),
    };
    Ok(match Checkpoint::open_signed(&note_text(&text), &key) {
        Err(e) => refused(
            Check::Checkpoint,
            format!("not a checkpoint signed by the log key: {e}"),
        ),
        Ok(cp) => {
            let extended = earlier.extended_by(&cp);
            let witnessed = witnessed(&note_text(&text), &policy);
            let witnessed_by = witnessed.as_ref().map_or_else(|_| Vec::new(), Clone::clone);
            let failure = extended.as_ref().err().cloned().or(witnessed.err());
            CheckpointReport {
                ok: failure.is_none(),
                origin: Some(cp.origin.clone()),
                checkpoint_size: Some(cp.size),
                checkpoint_root: Some(B64.encode(cp.root)),
                consistent_with: extended.unwrap_or_default(),
                witnessed_by,
                failure,
            }
        }
    })
}

/// The `--witness` keys, each given as key text or as a file holding it: each witness once,
/// and no two keys under one name (which would make one of them uncountable).
fn witness_keys(given: &[String]) -> anyhow::Result<Vec<WitnessKey>> {
    let mut keys: Vec<WitnessKey> = Vec::new();
    for k in given {
        let key = match WitnessKey::parse(k.trim()) {
            Ok(key) => key,
            Err(_) if std::path::Path::new(k).is_file() => {
                let text = read_small(std::path::Path::new(k), SMALL)?;
                WitnessKey::parse(text.trim()).map_err(|e| {
                    anyhow::anyhow!("--witness {k:?}: the file holds no witness key: {e}")
                })?
            }
            Err(e) => anyhow::bail!("--witness {k:?}: not a witness key (nor a file): {e}"),
        };
        match keys.iter().find(|have| have.name() == key.name()) {
            Some(have) if *have == key => {}
            Some(_) => anyhow::bail!("two --witness keys are named {}", key.name()),
            None => keys.push(key),
        }
    }
    Ok(keys)
}

/// What the witnesses must show.
struct Policy {
    pinned: Vec<WitnessKey>,
    threshold: usize,
    /// The oldest cosignature time counted (`--witness-max-age`).
    oldest: Option<u64>,
}

/// The cosignatures by pinned witnesses on `note`, if at least `threshold` verify (and are
/// recent enough).
fn witnessed(note: &str, policy: &Policy) -> Result<Vec<Cosigned>, Failure> {
    let fail = |m: String| Failure::bundle(Check::Witnesses, m);
    let found = cosignatures(note, &policy.pinned).map_err(|e| fail(format!("{e}")))?;
    let (recent, stale): (Vec<Cosigned>, Vec<Cosigned>) = found
        .into_iter()
        .partition(|c| policy.oldest.is_none_or(|oldest| c.time >= oldest));
    if recent.len() < policy.threshold {
        let missing: Vec<&str> = policy
            .pinned
            .iter()
            .map(WitnessKey::name)
            .filter(|n| !recent.iter().any(|c| c.witness == *n))
            .collect();
        let stale_note = match stale.is_empty() {
            true => String::new(),
            false => {
                let names: Vec<&str> = stale.iter().map(|c| c.witness.as_str()).collect();
                format!(" (too old: {})", names.join(", "))
            }
        };
        let recent_enough = match policy.oldest {
            Some(_) => "recent enough ",
            None => "",
        };
        return Err(fail(format!(
            "{} of the {} pinned witnesses cosigned the checkpoint, {} required; no \
             {recent_enough}cosignature by {}{stale_note}",
            recent.len(),
            policy.pinned.len(),
            policy.threshold,
            missing.join(", ")
        )));
    }
    Ok(recent)
}

/// A failure without an entry or a bundle to name: the check and the message.
fn failed(f: &Failure) -> String {
    format!("{} check failed: {}", f.check.as_str(), f.message)
}

/// The human-readable report.
fn text_of(r: &CheckpointReport) -> String {
    if let Some(f) = &r.failure {
        return format!("FAILED: {}\n", failed(f));
    }
    let mut out = format!(
        "OK: the checkpoint of {} (size {}, root {}) is signed by the log key.\n",
        r.origin.as_deref().unwrap_or("?"),
        r.checkpoint_size.unwrap_or(0),
        r.checkpoint_root.as_deref().unwrap_or("?"),
    );
    out.push_str(&extends_text("It", &r.consistent_with));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for c in &r.witnessed_by {
        let ago = match c.time.checked_sub(now) {
            Some(ahead) if ahead > 0 => format!("{ahead} s in this machine's future"),
            _ => format!("{} s ago", now - c.time),
        };
        out.push_str(&format!(
            "Cosigned by witness {} at {} (POSIX seconds; {ago}).\n",
            c.witness, c.time
        ));
    }
    out
}
