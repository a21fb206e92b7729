//! Removing what an interrupted write left behind: a file written under a temporary name
//! (then renamed or linked into place) that a kill or a power loss stranded.

use std::path::Path;

/// Removes every file in `dir` whose name starts with `prefix`, warning about each that
/// cannot be removed (`what` names such a file in the warning). Call where no other process
/// writes such files in `dir` (under the data directory's writer lock).
pub fn remove(dir: &Path, prefix: &str, what: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(error = %err, file = %e.path().display(), "cannot remove {what}");
            }
        }
    }
}
