//! `caseledger export`: writes a full-log bundle (default) or a case bundle from a data
//! directory. Reads the SQLite store only; safe while `serve` runs on the same directory.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

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
    let case: Option<CaseId> = match &args.case {
        Some(case) => Some(case.parse().context("--case must be a case UUID")?),
        None => None,
    };
    let store = datadir::open_sqlite(dir)?;
    let mut target = Target::open(&args.out, dir)?;
    let mut out = BufWriter::with_capacity(1 << 20, target.writer());
    let summary = match case {
        Some(case) => {
            let stream = format!("case-{case}");
            let last = store.read_stream(&stream, 0, usize::MAX >> 1)?;
            let end = last.last().map_or(0, |e| e.index);
            let identity = export::scan_identity_streams(store.as_ref(), end)?;
            export::write_case(store.as_ref(), &id, &stream, &identity, end, &mut out)?
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
    out.flush().context("writing the bundle")?;
    drop(out);
    target.finish()?;
    eprintln!(
        "exported {} entries (checkpoint size {}) to {}",
        summary.entries, summary.checkpoint_size, args.out
    );
    Ok(())
}

/// Where a bundle goes: standard output, or a file written whole or not at all (never over
/// a file of the data directory). The file is
/// written under a temporary name beside it (owner-only: a bundle holds the log's entries),
/// made durable and renamed over the target only once everything is written, so a failure
/// leaves an existing file as it was.
enum Target {
    /// Standard output, or a target that is not a regular file (`/dev/null`, a pipe):
    /// written as it is.
    Stream(Box<dyn Write>),
    File {
        tmp: tempfile::NamedTempFile,
        path: PathBuf,
        parent: PathBuf,
    },
}

impl Target {
    fn open(out: &str, data_dir: &Path) -> anyhow::Result<Self> {
        if out == "-" {
            return Ok(Self::Stream(Box::new(std::io::stdout())));
        }
        let path = PathBuf::from(out);
        let existing = std::fs::metadata(&path).ok();
        if existing
            .as_ref()
            .is_some_and(|m| !m.is_file() && !m.is_dir())
        {
            let stream = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .with_context(|| format!("opening {out}"))?;
            return Ok(Self::Stream(Box::new(stream)));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        // The data directory's files are the ledger's own (its database, keys, snapshot):
        // a bundle may go there under a new name, never over an existing file.
        let real = |p: &Path| p.canonicalize().with_context(|| format!("--out {out}"));
        if existing.is_some() && real(&parent)?.starts_with(real(data_dir)?) {
            anyhow::bail!(
                "--out {out} would replace a file inside the data directory {}, whose files are \
                 the ledger's own; write the bundle elsewhere or under a new name",
                data_dir.display()
            );
        }
        let tmp = tempfile::Builder::new()
            .prefix(".caseledger-export-")
            .tempfile_in(&parent)
            .with_context(|| format!("creating a file in {}", parent.display()))?;
        Ok(Self::File { tmp, path, parent })
    }

    fn writer(&mut self) -> Box<dyn Write + '_> {
        match self {
            Self::Stream(s) => Box::new(s),
            Self::File { tmp, .. } => Box::new(tmp.as_file_mut()),
        }
    }

    /// Makes the file durable and puts it in place (a failure before this removes it).
    fn finish(self) -> anyhow::Result<()> {
        let Self::File { tmp, path, parent } = self else {
            return Ok(());
        };
        tmp.as_file().sync_all().context("writing the bundle")?;
        tmp.persist(&path)
            .with_context(|| format!("moving the bundle to {}", path.display()))?;
        std::fs::File::open(&parent)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", parent.display()))?;
        Ok(())
    }
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
