//! Progress on standard error for long commands (`export`, `verify`): a bar redrawn in
//! place on a terminal; with `--progress` and standard error not a terminal (a log file, a
//! CI job), one plain line every few seconds instead, which a log can keep.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// Seconds between two progress lines when standard error is not a terminal.
const EVERY: Duration = Duration::from_secs(5);

/// What a bar counts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Unit {
    Bytes,
    Entries,
}

/// A progress bar on standard error: drawn when it is a terminal; otherwise hidden unless
/// `forced`, then printed as a line every [`EVERY`] (the first at once).
pub(super) fn progress_bar(unit: Unit, forced: bool) -> ProgressBar {
    use std::io::IsTerminal;
    let counts = match unit {
        Unit::Bytes => "{bytes}/{total_bytes}",
        Unit::Entries => "{human_pos}/{human_len} entries",
    };
    if std::io::stderr().is_terminal() {
        let template = format!("{{elapsed_precise}} [{{bar:40}}] {counts} eta {{eta}}");
        return styled(ProgressBar::new(0), &template);
    }
    if !forced {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(0),
        ProgressDrawTarget::term_like_with_hz(Box::new(Lines::new(std::io::stderr(), EVERY)), 1),
    );
    let template = format!("progress: {counts} ({{percent}}%) after {{elapsed}}, eta {{eta}}");
    styled(bar, &template)
}

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// A "terminal" that prints each drawn line as a line of its own, at most one per `every`,
/// and ignores cursor moves: what a bar redrawn in place becomes in a file.
struct Lines<W> {
    out: Mutex<(W, Option<Instant>)>,
    every: Duration,
}

impl<W> Lines<W> {
    fn new(out: W, every: Duration) -> Self {
        Self {
            out: Mutex::new((out, None)),
            every,
        }
    }
}

impl<W> std::fmt::Debug for Lines<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lines")
    }
}

impl<W: Write + Send> TermLike for Lines<W> {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, line: &str) -> std::io::Result<()> {
        self.write_str(line)
    }
    /// The bar's text; the carriage returns of a redraw and empty text print nothing.
    fn write_str(&self, text: &str) -> std::io::Result<()> {
        let text = text.trim_matches(['\r', '\n']);
        if text.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (w, last) = &mut *out;
        if last.is_some_and(|t| t.elapsed() < self.every) {
            return Ok(());
        }
        *last = Some(Instant::now());
        writeln!(w, "{text}")
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A shared buffer standing in for standard error.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_bar_redrawn_in_place_becomes_a_line_now_and_then() {
        let out = Shared::default();
        let lines = Lines::new(out.clone(), Duration::from_millis(200));
        let bar = ProgressBar::with_draw_target(
            Some(100),
            ProgressDrawTarget::term_like(Box::new(lines)),
        );
        let bar = styled(bar, "progress: {pos}/{len}");
        let started = Instant::now();
        for n in 1..=100u64 {
            bar.set_position(n);
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = started.elapsed();
        bar.finish_and_clear();
        let text = String::from_utf8(out.0.lock().expect("buffer").clone()).expect("utf-8");
        let printed: Vec<&str> = text.lines().collect();
        assert!(printed[0].starts_with("progress: 1/100"), "{text}");
        assert!(
            printed.iter().all(|l| l.starts_with("progress: ")),
            "{text}"
        );
        // One line at once, then at most one per 200 ms.
        let most = 1 + (took.as_millis() / 200) as usize;
        assert!(
            (2..=most).contains(&printed.len()),
            "{} lines in {took:?}: {text}",
            printed.len()
        );
        assert!(!text.contains('\r'));
    }
}
