//! `caseledger verify-checkpoint`: checks a checkpoint on its own against the log's verifier
//! key and the checkpoints an auditor kept. Two auditors who compare their checkpoints this
//! way (each passing the other's with `--since`, with the server's consistency proof) would
//! catch a log that shows them different histories; an auditor who checks the server's
//! latest checkpoint before an export catches a rolled-back log before reading any bundle.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::earlier::{extends_text, note_text, read_key, read_small, since, EarlierArgs, SMALL};
use super::witnessed::{cosigned_text, WitnessArgs};
use crate::log::cosignature::Cosigned;
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
    #[command(flatten)]
    pub witnesses: WitnessArgs,
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
        println!(
            "{}",
            super::json_terminal_safe(&serde_json::to_string_pretty(&report)?)
        );
    } else {
        print!("{}", super::terminal_safe(&text_of(&report)));
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
    let policy = args.witnesses.policy()?;
    Ok(match Checkpoint::open_signed(&note_text(&text), &key) {
        Err(e) => refused(
            Check::Checkpoint,
            format!("not a checkpoint signed by the log key: {e}"),
        ),
        Ok(cp) => {
            let extended = earlier.extended_by(&cp);
            let witnessed = policy.witnessed(&note_text(&text));
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

/// A failure without an entry or a bundle to name: the check and the message.
fn failed(f: &Failure) -> String {
    format!(
        "{} check failed: {}",
        f.check.as_str(),
        super::one_line(&f.message)
    )
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
    out.push_str(&cosigned_text(&r.witnessed_by));
    out
}
