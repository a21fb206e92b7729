//! `caseledger verify`: checks a bundle offline against the log's verifier key. Exit status
//! 0 only when every check holds; otherwise the first failure is printed and the exit
//! status is non-zero.

use std::path::PathBuf;

use anyhow::Context;

pub(crate) use super::earlier::read_key;
use super::earlier::{extends_text, since, EarlierArgs};
use super::progress::{progress_bar, Unit};
use super::witnessed::{cosigned_text, WitnessArgs};
use crate::verify::{self, Options, Report};

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle file (`-` for standard input).
    pub bundle: String,
    /// The log's verifier key (`<name>+<hash>+<base64>`, as `init` printed it), or a file
    /// holding it. Only this key is trusted; the bundle's own `log_key` must match it.
    #[arg(long)]
    pub log_key: String,
    /// Print a machine-readable JSON report on standard output.
    #[arg(long)]
    pub json: bool,
    /// Check each signature with `verify_strict` instead of batch verification.
    #[arg(long)]
    pub strict: bool,
    /// Fail unless the bundle holds the whole log (a full-log export).
    #[arg(long)]
    pub full: bool,
    /// Fail when a partial bundle (a case bundle) carries no identity heads, which show
    /// that no entry was left out of it (this server's case bundles carry them).
    #[arg(long)]
    pub require_heads: bool,
    #[command(flatten)]
    pub earlier: EarlierArgs,
    /// Identity heads kept from a case bundle (the case bundle itself, or its
    /// `identity_heads` note): checked against this bundle too. For a later checkpoint the
    /// bundle must hold the whole log, which must extend the heads' tree and hold exactly
    /// the entries they attest: how a full-log audit refutes or confirms them. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub heads: Vec<PathBuf>,
    /// Show progress even when standard error is not a terminal (a log file, a CI job): a
    /// plain line every 5 seconds instead of a bar.
    #[arg(long)]
    pub progress: bool,
    #[command(flatten)]
    pub witnesses: WitnessArgs,
}

/// `caseledger verify`.
pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let report = match checked(&args) {
        Ok(report) => report,
        // With --json a script reads a report whatever went wrong.
        Err(e) if args.json => Report {
            failure: Some(verify::Failure::bundle(
                verify::Check::Input,
                format!("{e:#}"),
            )),
            ..Report::default()
        },
        Err(e) => return Err(e),
    };
    print(&report, args.json)?;
    match &report.failure {
        None => Ok(()),
        Some(f) => anyhow::bail!("verification failed at {}", super::one_line(&f.to_string())),
    }
}

/// The report on the bundle, once its inputs could be read.
fn checked(args: &VerifyArgs) -> anyhow::Result<Report> {
    let key = read_key(&args.log_key)?;
    let opts = Options {
        strict: args.strict,
        require_full: args.full,
        require_heads: args.require_heads,
    };
    let since = since(&args.earlier, &args.heads, &key)?;
    let policy = args.witnesses.policy()?;
    let mut report = if args.bundle == "-" {
        verify::verify_reader_since(std::io::stdin(), &key, opts, since)
    } else {
        let path = PathBuf::from(&args.bundle);
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let meta = file.metadata().ok();
        if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
            anyhow::bail!("{} is a directory, not a bundle", path.display());
        }
        let bar = progress_bar(Unit::Bytes, args.progress);
        bar.set_length(meta.map_or(0, |m| m.len()));
        let report = verify::verify_reader_since(bar.wrap_read(file), &key, opts, since);
        bar.finish_and_clear();
        report
    };
    // The witnesses are asked about the very checkpoint member the verification read.
    if !policy.is_empty() && report.failure.is_none() {
        match policy.witnessed(&report.checkpoint_note) {
            Ok(cosigned) => report.witnessed_by = cosigned,
            Err(f) => {
                report.ok = false;
                report.failure = Some(f);
            }
        }
    }
    Ok(report)
}

fn print(r: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            super::json_terminal_safe(&serde_json::to_string_pretty(r)?)
        );
    } else {
        print!("{}", super::terminal_safe(&text(r)));
    }
    Ok(())
}

/// The human-readable report. A partial bundle says what it cannot prove.
fn text(r: &Report) -> String {
    let Some(f) = &r.failure else {
        let full = r.kind == Some(verify::Kind::Full);
        let mut out = format!(
            "OK: {} bundle of {} entries ({} signatures, {} streams) verified against the \
             checkpoint of {} (size {}, root {})\n",
            if full { "full-log" } else { "partial" },
            r.entries,
            r.signatures,
            r.streams,
            r.origin.as_deref().unwrap_or("?"),
            r.checkpoint_size.unwrap_or(0),
            r.checkpoint_root.as_deref().unwrap_or("?"),
        );
        out.push_str(&extends_text("Its checkpoint", &r.consistent_with));
        out.push_str(&cosigned_text(&r.witnessed_by));
        for h in r.heads_held.iter().filter(|_| full) {
            out.push_str(&format!(
                "Identity heads for {} hold: the log holds exactly the entries the log key \
                 attested (the case's in the tree of size {}, each principal and agency \
                 stream's below index {}), so a case bundle that verified with them left \
                 nothing out.\n",
                h.case, h.tree_size, h.before
            ));
        }
        if !full && !r.cases.is_empty() {
            out.push_str(&format!(
                "Case streams in it: {}\n",
                listed(r.cases.iter().cloned())
            ));
        }
        if !full {
            out.push_str(&identity_note(r));
            if r.identity_heads_before.is_none() {
                out.push_str(
                    "Note: a partial bundle (such as a case bundle) proves its entries, their \
                     signatures, and the rules replayed over the entries it holds. It cannot \
                     prove that no entry was left out of it: a later entry of the case (a \
                     consent withdrawal), or an identity entry of the kind named above. For \
                     that, verify a full-log export with --full.\n",
                );
            }
        }
        return out;
    };
    format!("FAILED: {}\n", super::one_line(&f.to_string()))
}

/// What a partial bundle shows of the principal streams its entries rely on (every signer,
/// named coordinators): those that go on past the last entry relying on them are complete up
/// to it; an entry of the others between their end and that entry (a key revocation, a
/// deactivation) could have been left out without a trace, and the rules were replayed
/// without it.
fn identity_note(r: &Report) -> String {
    if let Some(before) = r.identity_heads_before {
        let case = r.identity_heads_case.as_deref().unwrap_or("the case");
        let size = r.checkpoint_size.unwrap_or(0);
        return format!(
            "Identity heads: the log key attests how many entries {case} holds in the tree of \
             size {size} (the last at index {}) and how many each principal and agency stream \
             in the bundle holds below index {before}, and the bundle holds them all: no later \
             case entry (a consent withdrawal) in that tree and no key revocation or \
             deactivation before its case entries was left out, or the log key signed a false \
             count, which a full-log audit would refute (keep the bundle as evidence).{}\n",
            before.saturating_sub(1),
            match r.consistent_with.is_empty() {
                true =>
                    " Entries after that tree are not covered: to know it is recent, pass \
                         --since a checkpoint fetched just before the export.",
                false => " Entries after that tree are not covered.",
            }
        );
    }
    let open = &r.open_identity_streams;
    if r.last_case_index.is_none() && open.is_empty() {
        return String::new();
    }
    if open.is_empty() {
        return "The principal streams of every signer in it and of its cases' coordinators go \
                on past the last entry relying on them: none of their entries before it was \
                left out.\n"
            .to_owned();
    }
    let named = listed(open.iter().map(|e| {
        format!(
            "{} (ends at revision {}, index {}; relied on at index {})",
            e.stream, e.revision, e.index, e.needed_until
        )
    }));
    format!(
        "Signers' and coordinators' streams that end before an entry relying on them: \
         {named}. An entry of theirs in between (a key revocation, a deactivation) would not \
         show here, and the rules were replayed without it.\n"
    )
}

/// The first five of `items` joined by commas, then how many more there are.
fn listed(items: impl ExactSizeIterator<Item = String>) -> String {
    const LISTED: usize = 5;
    let more = items.len().saturating_sub(LISTED);
    let shown: Vec<String> = items.take(LISTED).collect();
    match more {
        0 => shown.join(", "),
        n => format!("{} and {n} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_bundle_says_what_it_cannot_prove() {
        let mut r = Report {
            ok: true,
            origin: None,
            kind: Some(verify::Kind::Partial),
            checkpoint_size: None,
            checkpoint_root: None,
            entries: 3,
            signatures: 3,
            streams: 2,
            cases: vec![],
            consistent_with: vec![],
            last_case_index: None,
            open_identity_streams: vec![],
            identity_heads_before: None,
            identity_heads_case: None,
            heads_held: vec![],
            witnessed_by: vec![],
            checkpoint_note: String::new(),
            failure: None,
        };
        assert!(text(&r).starts_with("OK: partial bundle"));
        assert!(text(&r).contains("cannot prove that no entry was left out"));
        assert!(!text(&r).contains("principal streams"));
        // Where the streams its case entries rely on end: each that stops before one named.
        r.last_case_index = Some(9);
        assert!(text(&r).contains("coordinators go on past the last entry relying on them"));
        r.open_identity_streams = vec![verify::StreamEnd {
            stream: "principal-cw".into(),
            revision: 1,
            index: 4,
            needed_until: 9,
        }];
        let open = "streams that end before an entry relying on them: principal-cw (ends at \
                    revision 1, index 4; relied on at index 9). An entry of theirs";
        assert!(text(&r).contains(open));
        // Identity entries rely on their signers too: named in a bundle without case entries.
        r.last_case_index = None;
        assert!(text(&r).contains(open));
        r.identity_heads_before = Some(10);
        r.identity_heads_case = Some("case-1".into());
        r.checkpoint_size = Some(12);
        assert!(text(&r).contains(
            "the log key attests how many entries case-1 holds in the tree of size 12 (the last \
             at index 9) and how many each principal and agency stream in the bundle holds \
             below index 10"
        ));
        assert!(text(&r).contains("no later case entry (a consent withdrawal) in that tree"));
        assert!(text(&r).contains("pass --since a checkpoint fetched just before the export"));
        r.consistent_with = vec![12];
        assert!(!text(&r).contains("pass --since"));
        assert!(text(&r).contains("Its checkpoint extends the earlier checkpoint(s) of size 12"));
        r.consistent_with.clear();
        assert!(!text(&r).contains("cannot prove"));
        assert!(!text(&r).contains("principal-cw"));
        assert!(!text(&r).contains("Case streams"));
        // The cases it holds are named, so that an auditor sees which case was checked.
        r.cases = (1..=7).map(|n| format!("case-{n}")).collect();
        assert!(text(&r)
            .contains("Case streams in it: case-1, case-2, case-3, case-4, case-5 and 2 more\n"));
        r.cases.truncate(1);
        assert!(text(&r).contains("Case streams in it: case-1\n"));
        r.kind = Some(verify::Kind::Full);
        assert!(text(&r).starts_with("OK: full-log bundle"));
        assert!(!text(&r).contains("Note:"));
    }
}
