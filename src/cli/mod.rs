//! The `caseledger` command line (DESIGN §7). Each subcommand lives in its own file.

mod bench;
mod bench_cases;
mod bench_cases_append;
mod bench_log;
mod bench_reports;
pub mod demo;
mod demo_server;
mod earlier;
mod export;
mod keys;
mod progress;
mod rebuild;
mod report;
mod serve;
mod store_args;
mod token;
mod verify;
mod verify_checkpoint;
mod witness;
mod witnessed;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// caseledger: an event-sourced, tamper-evident audit ledger for consent, inquiries and
/// referrals in anti-trafficking casework.
#[derive(Debug, Parser)]
#[command(name = "caseledger", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory: log key, first admin (entry 0), service principal, a token.
    Init(serve::InitArgs),
    /// Run the HTTP API.
    Serve(serve::ServeArgs),
    /// Generate a principal key file (mode 0600).
    Keygen(keys::KeygenArgs),
    /// Make a DSSE envelope from event JSON and a key file.
    Sign(keys::SignArgs),
    /// Sign event JSON and POST it to a server.
    Submit(keys::SubmitArgs),
    /// Measure append throughput over HTTP against the raw Ed25519 verify rate.
    Bench(bench::BenchArgs),
    /// Write a bundle for offline verification: the full log, or one case (`--case`).
    Export(export::ExportArgs),
    /// Check a bundle offline against the log's verifier key (exit 0 only if all holds).
    Verify(verify::VerifyArgs),
    /// Check a checkpoint against the log's verifier key and earlier checkpoints (consistency).
    VerifyCheckpoint(verify_checkpoint::VerifyCheckpointArgs),
    /// Measure proofs, offline verification and the append cost of the tree and checkpoints.
    BenchLog(bench_log::BenchLogArgs),
    /// Print an oversight report (small-cell suppressed) from a data directory.
    Report(report::ReportArgs),
    /// Time oversight reports over a synthetic 1M-event projection.
    BenchReports(bench_reports::BenchReportsArgs),
    /// Measure projection rebuild time from a large log and the case rules' share of append cost.
    BenchCases(bench_cases::BenchCasesArgs),
    /// Write a complete example case through the HTTP API, printing each step.
    Demo(demo::DemoArgs),
    /// Discard the projection snapshot and fold the whole log again.
    Rebuild(rebuild::RebuildArgs),
    /// Issue a bearer token from the data directory (server stopped): a lost admin token.
    Token(token::TokenArgs),
    /// Run a C2SP tlog-witness that cosigns a log's checkpoints only if they extend the last one.
    Witness(witness::WitnessArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(a) => serve::init(a),
        Command::Serve(a) => serve::serve(a),
        Command::Keygen(a) => keys::keygen(a),
        Command::Sign(a) => keys::sign(a),
        Command::Submit(a) => keys::submit(a),
        Command::Bench(a) => bench::bench(a),
        Command::Export(a) => export::export(a),
        Command::Verify(a) => verify::verify(a),
        Command::VerifyCheckpoint(a) => verify_checkpoint::verify_checkpoint(a),
        Command::BenchLog(a) => bench_log::bench_log(a),
        Command::Report(a) => report::report(a),
        Command::BenchReports(a) => bench_reports::bench_reports(a),
        Command::BenchCases(a) => bench_cases::bench_cases(a),
        Command::Demo(a) => demo::demo(a),
        Command::Rebuild(a) => rebuild::rebuild(a),
        Command::Token(a) => token::token(a),
        Command::Witness(a) => witness::witness(a),
    }
}

/// Whether `c` could rewrite what a terminal shows: a control character other than newline
/// and tab, or one that reorders or hides text (bidirectional overrides and isolates, the
/// marks).
fn rewrites_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with each character [`rewrites_terminal`] holds spelled by `escape`.
fn escaped(text: &str, escape: impl Fn(char, &mut String)) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(rewrites_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match rewrites_terminal(c) {
            true => escape(c, &mut out),
            false => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `text` fit for a terminal: the characters that could rewrite it are spelled as `\u{..}`
/// escapes. Reports and errors quote what a bundle or a server said, and an escape sequence
/// in it could otherwise clear a `FAILED` line and print an `OK` in its place.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c, out| out.extend(c.escape_unicode()))
}

/// JSON text fit for a terminal, meaning the same: serde_json escapes only U+0000 to
/// U+001F, so DEL, the C1 controls and bidirectional overrides are spelled `\uXXXX` here
/// (all are in the Basic Multilingual Plane, and occur only inside strings).
pub fn json_terminal_safe(json: &str) -> std::borrow::Cow<'_, str> {
    escaped(json, |c, out| {
        out.push_str(&format!("\\u{:04x}", u32::from(c)))
    })
}

/// A failure as one line: it quotes what a bundle said, which may hold line breaks (a
/// member named `x\nOK: …` would print a forged OK line under the FAILED one). Printed
/// through [`terminal_safe`], which spells the other control characters.
pub fn one_line(text: &str) -> String {
    text.replace('\n', "\\n")
}

/// Prints `text` to standard output. A reader that went away (`| head`) ends the output
/// quietly, as it does for other command-line tools, instead of a panic.
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `--data` with its environment variable and default.
#[derive(Debug, clap::Args)]
pub struct DataArg {
    /// Data directory.
    #[arg(
        long = "data",
        env = "CASELEDGER_DATA",
        default_value = "./caseledger-data"
    )]
    pub data: PathBuf,
}
