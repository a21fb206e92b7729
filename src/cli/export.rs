//! `caseledger export`: writes a full-log bundle (default) or a case bundle from a data
//! directory. Reads the SQLite store only; safe while `serve` runs on the same directory.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use super::progress::{progress_bar, Unit};
use super::DataArg;
use crate::bundle::export::{self, LogIdentity};
use crate::datadir;
use crate::domain::CaseId;
use crate::witness::cosignatures::Log;
use crate::witness::feeder::Cosignatures;

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
    /// Prove the bundle against the newest checkpoint every witness cosigned, rather than the
    /// latest (which, beside a busy server, is often too new for them): the cosignatures
    /// `serve --witness` keeps (see `--cosignatures`). Without it, the latest checkpoint
    /// carries those kept for it, if any.
    #[arg(long)]
    pub witnessed: bool,
    /// The file of cosignatures `serve --witness` keeps (its `--cosignatures`). Default:
    /// cosignatures.db in the data directory.
    #[arg(long, env = "CASELEDGER_COSIGNATURES")]
    pub cosignatures: Option<PathBuf>,
    /// Show progress even when standard error is not a terminal (a log file, a CI job): a
    /// plain line every 5 seconds instead of a bar.
    #[arg(long)]
    pub progress: bool,
}

/// `caseledger export`. Run from a terminal and writing a file, the first Ctrl-C stops it
/// and removes the partial bundle; a second one removes it and quits at once.
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    export_until(args, None)
}

/// Sets `stop` on the first Ctrl-C; on the second, removes `partial` and exits (130).
/// Only for an export started from a terminal: a background job whose SIGINT is ignored
/// keeps it ignored (the handler would replace that).
fn stop_on_interrupt(stop: Arc<AtomicBool>, partial: PathBuf) {
    if !std::io::stdin().is_terminal() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("export-interrupt".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.store(true, Ordering::SeqCst);
                    eprintln!("\ninterrupted: stopping (Ctrl-C again to quit now)");
                    if tokio::signal::ctrl_c().await.is_ok() {
                        // Gone already if the export finished or unwound meanwhile.
                        let _ = std::fs::remove_file(&partial);
                        std::process::exit(130);
                    }
                }
            });
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "Ctrl-C will leave a partial bundle behind");
    }
}

/// A writer that fails once `stop` is set, so the export unwinds and its temporary file is
/// removed.
struct Stoppable<'a, W> {
    inner: W,
    stop: &'a AtomicBool,
}

impl<W: Write> Write for Stoppable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            // Not `Interrupted`, which `write_all` would retry.
            return Err(std::io::Error::other("interrupted"));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The export; `stop` (tests) stands for a Ctrl-C handler's flag, which is installed
/// otherwise.
fn export_until(args: ExportArgs, stop: Option<Arc<AtomicBool>>) -> anyhow::Result<()> {
    let dir = &args.data.data;
    if !datadir::is_initialised(dir) {
        anyhow::bail!("{} holds no ledger", dir.display());
    }
    let signer = datadir::read_signer(dir)?;
    let case: Option<CaseId> = match &args.case {
        Some(case) => Some(case.parse().context("--case must be a case UUID")?),
        None => None,
    };
    let store = datadir::open_sqlite_beside(dir)?;
    let kept = (args.cosignatures.clone()).unwrap_or_else(|| dir.join(crate::witness::kept::FILE));
    let key = signer.verifier();
    let log = Log {
        key: &key,
        store: &*store,
    };
    let cosignatures = match Cosignatures::read(&kept, log) {
        Ok(c) => c,
        Err(e) if args.witnessed => anyhow::bail!("--witnessed: {e}"),
        Err(e) => {
            eprintln!("warning: the witnesses' cosignatures cannot be read ({e}); the bundle goes without them");
            None
        }
    };
    if args.witnessed && cosignatures.as_ref().is_none_or(|c| c.witnesses() == 0) {
        anyhow::bail!(
            "--witnessed: no witnesses' cosignatures are kept in {} (where `serve --witness` \
             keeps them by default on SQLite; see --cosignatures)",
            kept.display()
        );
    }
    let id = LogIdentity {
        cosignatures: cosignatures.map(Arc::new),
        witnessed: args.witnessed,
        ..LogIdentity::of(&signer)
    };
    let mut target = Target::open(&args.out, dir)?;
    let stop = stop.unwrap_or_else(|| {
        let stop = Arc::new(AtomicBool::new(false));
        if let Target::File { tmp, .. } = &target {
            stop_on_interrupt(stop.clone(), tmp.path().to_owned());
        }
        stop
    });
    let written = write_bundle(&*store, &id, case, &args, &mut target, &stop);
    let summary = match written {
        Err(_) if stop.load(Ordering::SeqCst) => {
            drop(target); // removes the temporary file
            anyhow::bail!("interrupted; the partial bundle was removed");
        }
        written => written?,
    };
    target.finish()?;
    let cosigned = match summary.cosignatures {
        0 => String::new(),
        1 => ", cosigned by 1 witness".to_owned(),
        n => format!(", cosigned by {n} witnesses"),
    };
    eprintln!(
        "exported {} entries (checkpoint size {}{cosigned}) to {}",
        summary.entries, summary.checkpoint_size, args.out
    );
    let n = summary.after_checkpoint;
    if n > 0 {
        let what = match (n, case.is_some()) {
            (1, true) => "entry of the case is",
            (1, false) => "entry is",
            (_, true) => "entries of the case are",
            (_, false) => "entries are",
        };
        let them = if n == 1 { "it" } else { "them" };
        match args.witnessed {
            true => eprintln!(
                "warning: {n} {what} past the witnessed checkpoint (size {}), so not in the \
                 bundle. The server submits each new checkpoint to its witnesses: export \
                 again once they cosigned a later one to include {them}.",
                summary.checkpoint_size,
            ),
            false => eprintln!(
                "warning: {n} {what} past the latest checkpoint (size {}), so not in the \
                 bundle: a bundle holds only what a signed checkpoint covers. A running server \
                 signs one within about a second of a write, and at start-up after a crash: \
                 export again to include {them}.",
                summary.checkpoint_size,
            ),
        }
    }
    Ok(())
}

/// Writes the bundle to `target`, failing once `stop` is set.
fn write_bundle(
    store: &dyn crate::store::EventStore,
    id: &LogIdentity,
    case: Option<CaseId>,
    args: &ExportArgs,
    target: &mut Target,
    stop: &AtomicBool,
) -> anyhow::Result<export::ExportSummary> {
    let mut out = BufWriter::with_capacity(
        1 << 20,
        Stoppable {
            inner: target.writer(),
            stop,
        },
    );
    let summary = match case {
        Some(case) => {
            let stream = format!("case-{case}");
            let last = store.read_stream(&stream, 0, usize::MAX >> 1)?;
            let end = last.last().map_or(0, |e| e.index);
            let identity = export::scan_identity_streams(store, end)?;
            export::write_case(store, id, &stream, &identity, end, &mut out)?
        }
        None => {
            let bar = progress_bar(Unit::Entries, args.progress);
            let s = export::write_full(store, id, &mut out, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            s
        }
    };
    out.flush().context("writing the bundle")?;
    drop(out);
    // A Ctrl-C after the last write: the bundle is whole, but the user asked to stop.
    anyhow::ensure!(!stop.load(Ordering::SeqCst), "interrupted");
    Ok(summary)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_export_leaves_no_file_behind() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = Arc::new(crate::ledger::SystemClock);
        datadir::init(dir.path(), &datadir::InitOptions::default(), clock).expect("init");
        let out_dir = tempfile::tempdir().expect("out");
        let out = out_dir.path().join("bundle.json");
        let args = |out: &Path| ExportArgs {
            data: DataArg {
                data: dir.path().to_owned(),
            },
            out: out.to_str().expect("path").to_owned(),
            case: None,
            witnessed: false,
            cosignatures: None,
            progress: false,
        };
        let stop = Arc::new(AtomicBool::new(true));
        let err = export_until(args(&out), Some(stop)).expect_err("interrupted");
        assert!(format!("{err:#}").contains("interrupted"), "{err:#}");
        let left: Vec<_> = std::fs::read_dir(out_dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Not interrupted, the same export writes the bundle.
        export_until(args(&out), Some(Arc::new(AtomicBool::new(false)))).expect("export");
        assert!(out.is_file());
    }

    #[test]
    fn a_stopped_writer_refuses_every_write() {
        let stop = AtomicBool::new(false);
        let mut w = Stoppable {
            inner: Vec::new(),
            stop: &stop,
        };
        w.write_all(b"first").expect("written");
        stop.store(true, Ordering::SeqCst);
        let err = w.write_all(b"second").expect_err("stopped");
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(w.inner, b"first");
    }
}
