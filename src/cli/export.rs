//! `caseledger export`: writes a full-log bundle (default) or a case bundle from a data
//! directory. Reads the SQLite store only; safe while `serve` runs on the same directory.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::DataArg;
use crate::bundle::export::{self, LogIdentity};
use crate::datadir;
use crate::domain::CaseId;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Where to write the bundle (`-` for standard output).
    #[arg(long)]
    pub out: String,
    /// Export one case (its stream plus the identity entries it depends on) instead of
    /// the whole log.
    #[arg(long)]
    pub case: Option<String>,
    /// Show a progress bar even when standard error is not a terminal.
    #[arg(long)]
    pub progress: bool,
}

/// `caseledger export`.
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let dir = &args.data.data;
    if !datadir::is_initialised(dir) {
        anyhow::bail!("{} holds no ledger", dir.display());
    }
    let signer = datadir::read_signer(dir)?;
    let id = LogIdentity {
        origin: signer.name().to_owned(),
        log_key: signer.verifier().to_text(),
    };
    let store = datadir::open_sqlite(dir)?;
    let mut out: Box<dyn Write> = if args.out == "-" {
        Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
    } else {
        let path = PathBuf::from(&args.out);
        let f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Box::new(BufWriter::with_capacity(1 << 20, f))
    };
    let summary = match &args.case {
        Some(case) => {
            let case: CaseId = case.parse().context("--case must be a case UUID")?;
            let stream = format!("case-{case}");
            let last = store.read_stream(&stream, 0, usize::MAX >> 1)?;
            let end = last.last().map_or(0, |e| e.index);
            let identity = export::scan_identity_streams(store.as_ref(), end)?;
            export::write_case(store.as_ref(), &id, &stream, &identity, &mut out)?
        }
        None => {
            let bar = progress_bar(args.progress);
            let s = export::write_full(store.as_ref(), &id, &mut out, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            s
        }
    };
    eprintln!(
        "exported {} entries (checkpoint size {}) to {}",
        summary.entries, summary.checkpoint_size, args.out
    );
    Ok(())
}

/// A progress bar on standard error, hidden unless it is a terminal or `forced`.
pub(super) fn progress_bar(forced: bool) -> ProgressBar {
    if !(forced || std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
