//! `caseledger init` and `caseledger serve`.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::DataArg;
use crate::datadir::{self, InitOptions};
use crate::http::{AppState, Application, Limits, Writer, ANSWER_TIMEOUT};
use crate::ledger::{Clock, SystemClock};
use crate::reports::{ReportConfig, ReportService};
use crate::store::Backend;

use super::store_args::StoreArgs;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Checkpoint origin line (also the log key's name). Default: caseledger.local/<random>.
    #[arg(long)]
    pub origin: Option<String>,
    /// Id of the first admin principal.
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// Agency id of the admin and service principals.
    #[arg(long, default_value = "operator")]
    pub agency: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Address to listen on.
    #[arg(long, env = "CASELEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Initialise the data directory first if it holds no ledger (prints the admin token).
    #[arg(long)]
    pub init: bool,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CASELEDGER_WORKERS")]
    pub workers: Option<usize>,
    /// Largest single-event body, bytes (at most 16 MiB, so that every entry fits the
    /// offline verifier's bound on one value).
    #[arg(long, env = "CASELEDGER_MAX_EVENT_BYTES", default_value_t = 64 * 1024,
          value_parser = body_bytes)]
    pub max_event_bytes: usize,
    /// Seconds a write's body may take to arrive after its headers (408 after that).
    #[arg(long, env = "CASELEDGER_BODY_WAIT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_wait: u64,
    /// Largest batch body, bytes (1 KiB to 16 MiB: a write holds about three times its
    /// body, and one principal at most 64 MiB of body memory).
    #[arg(long, env = "CASELEDGER_MAX_BATCH_BYTES", default_value_t = 4 * 1024 * 1024,
          value_parser = body_bytes)]
    pub max_batch_bytes: usize,
    /// Small-cell suppression threshold of the reports: counts 1..k-1 are hidden (5 <= k <=
    /// 1000).
    #[arg(long, env = "CASELEDGER_SUPPRESSION_K", default_value_t = crate::reports::DEFAULT_K,
          value_parser = clap::value_parser!(u64)
              .range(crate::reports::MIN_K..=crate::reports::MAX_K))]
    pub suppression_k: u64,
    /// Which periods reports may cover: `any` range of days (DESIGN's contract), or only
    /// one whole calendar `month`, `quarter` or `year` that has ended, which stops
    /// evaluators from subtracting overlapping reports or polling today's figures.
    #[arg(
        long,
        env = "CASELEDGER_REPORT_PERIODS",
        value_enum,
        default_value = "any"
    )]
    pub report_periods: crate::reports::PeriodPolicy,
    /// Write a projection snapshot after this many new entries (checked every 10 s; 0 turns
    /// periodic snapshots off). One is also written at start-up and at shutdown.
    #[arg(long, env = "CASELEDGER_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,
    /// A C2SP tlog-witness to submit every new checkpoint to, as "<URL> <witness key>" (the
    /// URL its add-checkpoint lives under; the key `caseledger witness init` printed, or a
    /// file holding it).
    /// Repeat for more witnesses (`;` between them in the variable).
    #[arg(long = "witness", env = "CASELEDGER_WITNESS", value_delimiter = ';',
          value_parser = crate::witness::feeder::Target::parse)]
    pub witnesses: Vec<crate::witness::feeder::Target>,
    /// Where the witnesses' cosignatures are kept across restarts (a SQLite file, each
    /// node's own). Default: cosignatures.db in the data directory, or beside
    /// `--esdb-mirror` when given on a shared EventStoreDB log.
    #[arg(long, env = "CASELEDGER_COSIGNATURES")]
    pub cosignatures: Option<std::path::PathBuf>,
    /// Serve reads only: every write is refused with 503 `unavailable`. For the nodes beside
    /// the one writing node of a shared EventStoreDB log.
    #[arg(long, env = "CASELEDGER_READ_ONLY")]
    pub read_only: bool,
    /// With --read-only: forward each write to the writing node at this base URL
    /// (`http://host:port`) and answer with its response, instead of refusing it.
    #[arg(long, env = "CASELEDGER_FORWARD_WRITES")]
    pub forward_writes: Option<String>,
}

fn print_init(report: &datadir::InitReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("Initialised {}", report.data_dir);
        println!("  origin:          {}", report.origin);
        println!("  log key:         {}", report.log_key);
        println!("  admin principal: {}", report.admin_principal);
        println!("  admin key file:  {}", report.admin_key_file);
        println!("  admin token:     {}", report.admin_token);
        println!("Keep the token and key file secret; the token is shown only once.");
    }
    Ok(())
}

/// `caseledger init`.
pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let opts = InitOptions {
        origin: args.origin,
        admin: args.admin,
        agency: args.agency,
    };
    let clock = Arc::new(SystemClock);
    let report = match args.store.is_shared() {
        true => args.store.init_shared(&args.data.data, &opts, clock)?,
        false => {
            // Refuses a --store that names no backend.
            args.store.open(&args.data.data)?;
            datadir::init_on(&args.data.data, &opts, clock, None)?
        }
    };
    print_init(&report, args.json)
}

/// How long a forwarded write's answer waits for this node to mirror the new entries, so the
/// client reads its own write from the node it wrote through.
const MIRROR_WAIT: Duration = Duration::from_secs(2);

/// `caseledger serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let dir = &args.data.data;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if args.forward_writes.is_some() && !args.read_only {
        anyhow::bail!(
            "--forward-writes is for a reading node: give --read-only (CASELEDGER_READ_ONLY=true) too"
        );
    }
    // Built (and so checked) before anything else runs or quotes its URL: one with a
    // password in it is refused unquoted. A forwarded write waits for this node to mirror
    // it only when the two nodes share a log.
    let mirror_wait = match args.store.is_shared() {
        true => MIRROR_WAIT,
        false => Duration::ZERO,
    };
    let writer = args
        .forward_writes
        .as_deref()
        .map(|base| Writer::new(base, ANSWER_TIMEOUT, mirror_wait))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // The first node of a shared log: the genesis entries go through a throwaway mirror, and
    // the node then opens its own, trusting the key `init` created.
    if args.init && args.store.is_shared() && !datadir::has_keys(dir) {
        let report = args
            .store
            .init_shared(dir, &InitOptions::default(), clock.clone())?;
        print_init(&report, false)?;
    }
    let backend = args.store.open(dir)?;
    if let (Some(url), Backend::Sqlite) = (&args.forward_writes, &backend) {
        tracing::warn!(
            writer = %url,
            "this node's SQLite log is its own: the writes it forwards land in the writer's \
             log and never show in this node's reads (share an EventStoreDB log instead)"
        );
    }
    let sqlite = matches!(backend, Backend::Sqlite);
    let (ledger, service_key) = match backend {
        Backend::Sqlite => {
            if args.init && !datadir::is_initialised(dir) {
                let report = datadir::init(dir, &InitOptions::default(), clock.clone())?;
                print_init(&report, false)?;
            }
            datadir::open(dir, clock.clone())?
        }
        Backend::Shared(store) => datadir::open_shared(dir, store, clock.clone())?,
    };
    let on_stop = ledger.clone();
    // The projection snapshot lives beside ledger.db; a shared EventStoreDB log has none.
    let snapshots = sqlite && args.snapshot_every > 0;
    let snapshotter = snapshots.then(|| {
        let every = std::time::Duration::from_secs(10);
        datadir::Snapshotter::start(dir, ledger.clone(), args.snapshot_every, every)
    });
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("binding {}", args.listen))?;
    let bound = listener.local_addr()?;
    let config = ReportConfig::new(args.suppression_k)?.with_periods(args.report_periods);
    let reports = ReportService::start(ledger.store().clone(), config, Some(ledger.metrics()));
    let names: std::collections::HashSet<&str> =
        args.witnesses.iter().map(|w| w.key.name()).collect();
    if names.len() != args.witnesses.len() {
        anyhow::bail!("two --witness entries name the same witness: give each witness once");
    }
    // A note takes at most 100 signature lines (note::MAX_SIGNATURES): the log's and 99.
    if args.witnesses.len() >= crate::log::note::MAX_SIGNATURES {
        anyhow::bail!("at most 99 --witness entries (a checkpoint carries at most 100 signatures)");
    }
    // Without witnesses no file is opened: nothing changes for a server that has none.
    let cosignatures = match args.witnesses.is_empty() {
        true => crate::witness::feeder::Cosignatures::new(0),
        false => cosignatures(&cosignatures_file(&args)?, &args.witnesses, &ledger),
    };
    let cosignatures = Arc::new(cosignatures);
    let _feeder = (!args.witnesses.is_empty()).then(|| {
        crate::witness::feeder::start(
            ledger.store().clone(),
            args.witnesses.clone(),
            cosignatures.clone(),
            Some(ledger.metrics()),
        )
    });
    let state = AppState {
        cosignatures,
        writer,
        bodies: Default::default(),
        reports,
        ledger,
        service_key,
        clock,
        limits: Limits {
            max_event_bytes: args.max_event_bytes,
            max_batch_bytes: args.max_batch_bytes,
            read_only: args.read_only,
            body_wait: std::time::Duration::from_secs(args.body_wait),
            ..Limits::default()
        },
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = Application::build(state, listener, workers)?;
        tracing::info!(port = app.port(), data = %dir.display(), "caseledger listening");
        // Printed after binding so scripts and tests started with port 0 learn the port.
        // Not `eprintln!`, which panics when stderr cannot be written (a full disk under the
        // log file): the server then runs without that line rather than not at all.
        let _ = writeln!(std::io::stderr(), "caseledger listening on {bound}");
        app.run_until_stopped().await
    })?;
    drop(snapshotter);
    if sqlite {
        datadir::save_snapshot(dir, &on_stop);
    }
    Ok(())
}

/// `--max-event-bytes` and `--max-batch-bytes`: 1 KiB to 16 MiB. An entry holds its
/// event's bytes and a little more, and `caseledger verify` refuses a bundle value over
/// `bundle::read::MAX_VALUE` (64 MiB); a write holds about three times its body of a
/// principal's 64 MiB share of body memory.
fn body_bytes(text: &str) -> Result<usize, String> {
    const MOST: usize = 16 << 20;
    let n: usize = text.parse().map_err(|e| format!("{e}"))?;
    if !(1024..=MOST).contains(&n) {
        return Err(format!("must be from 1024 to {MOST} bytes"));
    }
    Ok(n)
}

/// Where `serve --witness` keeps the cosignatures: `--cosignatures`, or by default the
/// node's own file: in the data directory on SQLite, beside its mirror (`--esdb-mirror`,
/// named after it) on a shared EventStoreDB log, whose nodes share one data directory
/// (read-only in compose). Never one of the ledger's own files.
fn cosignatures_file(args: &ServeArgs) -> anyhow::Result<std::path::PathBuf> {
    use crate::witness::kept::FILE;
    let dir = &args.data.data;
    let mirror = (args.store.esdb_mirror.clone())
        .unwrap_or_else(|| dir.join(crate::store::esdb_mirror::MIRROR_FILE));
    let file = match (&args.cosignatures, &args.store.esdb_mirror) {
        (Some(file), _) => file.clone(),
        (None, Some(mirror)) if args.store.is_shared() => mirror.with_extension(FILE),
        (None, _) => dir.join(FILE),
    };
    let real = |p: &std::path::Path| p.canonicalize().ok();
    let ledgers = [
        dir.join(datadir::DB_FILE),
        dir.join(datadir::LOG_KEY_FILE),
        dir.join(datadir::SERVICE_KEY_FILE),
        mirror,
    ];
    let ours = real(&file).is_some_and(|f| ledgers.iter().any(|l| real(l) == Some(f.clone())));
    if ours {
        anyhow::bail!(
            "--cosignatures {} names one of the ledger's own files (its database, a key, \
             the mirror): give the cosignatures a file of their own",
            file.display()
        );
    }
    Ok(file)
}

/// The cosignatures `serve --witness` collects from `witnesses` (at least one), kept in
/// `path` (those kept by an earlier start for these witnesses are served at once). The
/// file only holds copies of witnesses' statements, so it never stops the server: a
/// damaged one is moved aside and a new one started; one that cannot be written (a
/// read-only directory, a full disk) leaves the cosignatures in memory, with a warning.
fn cosignatures(
    path: &std::path::Path,
    witnesses: &[crate::witness::feeder::Target],
    ledger: &crate::ledger::Ledger,
) -> crate::witness::feeder::Cosignatures {
    use crate::witness::cosignatures::Log;
    use crate::witness::feeder::Cosignatures;
    let in_memory = Cosignatures::new(witnesses.len());
    let keys: Vec<_> = witnesses.iter().map(|w| w.key.clone()).collect();
    let key = ledger.note_signer().verifier();
    let log = Log {
        key: &key,
        store: ledger.store().as_ref(),
    };
    let damaged = |e: &rusqlite::Error| {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, NotADatabase | DatabaseCorrupt))
    };
    let opened: anyhow::Result<Cosignatures> = match Cosignatures::kept(path, &keys, log) {
        Err(e) if damaged(&e) => {
            let stamp = chrono::Utc::now().timestamp();
            let aside = path.with_extension(format!("db.unreadable-{stamp}"));
            tracing::warn!(error = %e, file = %path.display(), aside = %aside.display(),
                "the witnesses' cosignatures are damaged: moved aside, starting a new file");
            match std::fs::rename(path, &aside) {
                Ok(()) => {
                    for suffix in ["-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                    Cosignatures::kept(path, &keys, log).map_err(Into::into)
                }
                Err(moving) => Err(moving.into()),
            }
        }
        other => other.map_err(Into::into),
    };
    opened.unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), file = %path.display(),
            "the witnesses' cosignatures cannot be kept in this file (set --cosignatures): \
             they are kept in memory only, and lost at a restart");
        in_memory
    })
}
