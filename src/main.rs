//! The `caseledger` binary: parses the command line and hands over to the library.

use clap::Parser;

// The start-up fold, rebuild and the offline verifier decode entries on several threads and
// free them on another; glibc malloc spends a quarter of that time in cross-thread frees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // A log line that cannot be written (a full disk under the log file, a closed pipe)
        // is dropped. With internal errors on, tracing reports it with `eprintln!`, which
        // panics when stderr cannot be written: the thread logging (the ledger writer, on
        // its own "commit failed" line) would die with it.
        .log_internal_errors(false)
        // Colour only for a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match caseledger::cli::run(caseledger::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {}",
                caseledger::cli::terminal_safe(&format!("{e:#}"))
            );
            std::process::ExitCode::FAILURE
        }
    }
}
