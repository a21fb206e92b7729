//! `caseledger witness init|serve`: run a C2SP tlog-witness for one or more logs.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::log::cosignature::Witness;
use crate::witness::server::{build, WitnessService};
use crate::witness::state::WitnessState;

/// Arguments of `witness`.
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    #[command(subcommand)]
    pub command: WitnessCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WitnessCommand {
    /// Create a witness: its key (`witness.key`, mode 0600) and state in DIR; prints the
    /// witness key auditors pin and logs submit to.
    Init {
        /// The witness's directory.
        #[arg(long)]
        state: PathBuf,
        /// The witness's name (a URL without scheme is customary, e.g. witness.example/w1).
        #[arg(long)]
        name: String,
    },
    /// Print the witness key (public) of the witness in DIR, as `init` printed it: for
    /// deployments that hand it to the logs' servers at every start.
    Key {
        /// The witness's directory (from `witness init`).
        #[arg(long)]
        state: PathBuf,
    },
    /// Serve `POST /add-checkpoint` for the logs given.
    Serve {
        /// The witness's directory (from `witness init`).
        #[arg(long)]
        state: PathBuf,
        /// A log's verifier key (as `caseledger init` printed it), or a file holding it;
        /// repeat for more logs.
        #[arg(long = "log-key", required = true)]
        log_keys: Vec<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
}

const KEY_FILE: &str = "witness.key";
const STATE_FILE: &str = "witness.db";

fn read_witness(dir: &Path) -> anyhow::Result<Witness> {
    let path = dir.join(KEY_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `caseledger witness init`)", path.display()))?;
    Witness::parse(text.trim()).with_context(|| format!("{}: not a witness key", path.display()))
}

/// `caseledger witness`.
pub fn witness(args: WitnessArgs) -> anyhow::Result<()> {
    match args.command {
        WitnessCommand::Init { state, name } => {
            std::fs::create_dir_all(&state)
                .with_context(|| format!("creating {}", state.display()))?;
            let path = state.join(KEY_FILE);
            if path.exists() {
                anyhow::bail!(
                    "{} exists: this directory already holds a witness",
                    path.display()
                );
            }
            let witness = Witness::generate(&name).context("witness name")?;
            crate::envelope::write_new_private(
                &path,
                format!("{}\n", witness.secret_text()).as_bytes(),
            )
            .with_context(|| format!("writing {}", path.display()))?;
            WitnessState::create(&state.join(STATE_FILE)).context("creating the witness state")?;
            writeln!(std::io::stdout(), "{}", witness.public().to_text())?;
            Ok(())
        }
        WitnessCommand::Key { state } => {
            writeln!(
                std::io::stdout(),
                "{}",
                read_witness(&state)?.public().to_text()
            )?;
            Ok(())
        }
        WitnessCommand::Serve {
            state,
            log_keys,
            listen,
        } => {
            let witness = read_witness(&state)?;
            let logs = log_keys
                .iter()
                .map(|k| super::earlier::read_key(k))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let path = state.join(STATE_FILE);
            let db = WitnessState::open(&path).with_context(|| {
                format!(
                    "opening {} (made by `witness init`; a witness whose record is lost must \
                     not start afresh: it would cosign a fork of what it cosigned before. \
                     Retire its key and init a new witness)",
                    path.display()
                )
            })?;
            let listener =
                TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
            let bound = listener.local_addr()?;
            let svc = WitnessService {
                state: db,
                logs,
                witness,
                now: Arc::new(super::witnessed::now),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let server = build(svc, listener, 2)?;
                let _ = writeln!(std::io::stderr(), "caseledger witness listening on {bound}");
                server.await
            })?;
            Ok(())
        }
    }
}
