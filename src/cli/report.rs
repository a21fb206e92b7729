//! `caseledger report agencies|program`: the oversight reports from a data directory, without
//! a server. The projection is folded from the log, then the report is read from it.

use anyhow::Context;

use super::DataArg;
use crate::datadir;
use crate::reports::follower::fold_store;
use crate::reports::render::{to_csv, JsonReport};
use crate::reports::{self, Period, ReportConfig, ReportKind};

/// Which report.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// One row per agency.
    Agencies,
    /// Programme totals.
    Program,
}

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    /// JSON with a legend of every field.
    Json,
    /// RFC 4180 CSV.
    Csv,
}

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The report.
    #[arg(value_enum)]
    pub which: Which,
    #[command(flatten)]
    pub data: DataArg,
    /// First UTC day, YYYY-MM-DD (inclusive).
    #[arg(long)]
    pub from: String,
    /// Last UTC day, YYYY-MM-DD (inclusive).
    #[arg(long)]
    pub to: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: OutputFormat,
    /// Small-cell suppression threshold (5 to 1000).
    #[arg(long, env = "CASELEDGER_SUPPRESSION_K", default_value_t = reports::DEFAULT_K,
          value_parser = clap::value_parser!(u64).range(reports::MIN_K..=reports::MAX_K))]
    pub suppression_k: u64,
}

/// `caseledger report`.
pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let config = ReportConfig::new(args.suppression_k)?;
    let period = Period::parse(Some(&args.from), Some(&args.to))?;
    if !datadir::is_initialised(&args.data.data) {
        anyhow::bail!(
            "{} holds no ledger (looked for {})",
            args.data.data.display(),
            datadir::DB_FILE
        );
    }
    let store = datadir::open_sqlite_beside(&args.data.data)
        .with_context(|| format!("opening {}", args.data.data.display()))?;
    let projection = fold_store(store.as_ref())?;
    let kind = match args.which {
        Which::Agencies => ReportKind::Agencies,
        Which::Program => ReportKind::Program,
    };
    let report = reports::build(&projection, kind, &period, &config);
    match args.format {
        OutputFormat::Json => super::print_out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&JsonReport(&report))?
        )),
        OutputFormat::Csv => super::print_out(&to_csv(&report)),
    }
}
