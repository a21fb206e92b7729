//! Starting the real `caseledger serve` binary on a random port, for the tests that kill it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_caseledger");

/// A started server, killed (SIGKILL) and reaped when dropped, so a test that fails leaves
/// no server running on a temporary directory deleted under it. Derefs to its [`Child`].
pub struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `caseledger serve --listen 127.0.0.1:0` on `data`; returns the server and its base
/// URL, read from the "listening on" line it prints once bound.
#[allow(dead_code)] // not every test binary starts a plain server
pub fn start_server(data: &Path) -> (Server, String) {
    start_server_with(data, &[])
}

/// [`start_server`] with more `serve` arguments.
pub fn start_server_with(data: &Path, args: &[&str]) -> (Server, String) {
    start_logging(data, args, "warn", true)
}

/// [`start_server`] logging at `RUST_LOG=level`, whose stderr is closed once it has said
/// where it listens: every later log line fails to be written (`EPIPE`), as on a full disk
/// under its log file.
#[allow(dead_code)]
pub fn start_server_unheard(data: &Path, level: &str) -> (Server, String) {
    start_logging(data, &[], level, false)
}

fn start_logging(data: &Path, args: &[&str], level: &str, drain: bool) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args);
    start_command(command, "caseledger listening on ", level, drain)
}

/// Starts `caseledger witness serve --listen <listen>` (`127.0.0.1:0` for any free port) on
/// the witness directory `state` for the log whose verifier key is `log_key`; the witness
/// and its base URL.
#[allow(dead_code)]
pub fn start_witness(state: &Path, log_key: &str, listen: &str) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .args(["witness", "serve", "--listen", listen, "--log-key", log_key])
        .arg("--state")
        .arg(state);
    start_command(command, "caseledger witness listening on ", "info", true)
}

/// Runs `command` until it prints `ready` and the address it listens on.
fn start_command(mut command: Command, ready: &str, level: &str, drain: bool) -> (Server, String) {
    let mut child = command
        .env("RUST_LOG", level)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start caseledger");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited early").expect("line");
        if let Some(addr) = line.strip_prefix(ready) {
            break addr.to_owned();
        }
    };
    if drain {
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
    }
    (Server(child), format!("http://{addr}"))
}

/// Runs `caseledger init --json --data <data>`; its JSON report.
#[allow(dead_code)] // not every test binary initialises a data directory this way
pub fn init_json(data: &Path) -> serde_json::Value {
    let out = run_ok(
        Command::new(BIN)
            .args(["init", "--json", "--data"])
            .arg(data),
    );
    serde_json::from_slice(&out).expect("init --json")
}

/// Runs a command to its end, asserting it succeeded (its standard error otherwise); its
/// standard output.
#[allow(dead_code)]
pub fn run_ok(command: &mut Command) -> Vec<u8> {
    let out = command.output().expect("run caseledger");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
