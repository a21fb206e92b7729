//! Property test over random logs: no shown count lies in 1..k−1, no suppressed cell can be
//! recovered from a shown total and the shown cells of its row or column, every small cell's
//! range over what is shown covers 1..k−1, and every shown number equals a naive recount over
//! the log.

pub(super) mod generate;
mod naive;

use proptest::prelude::*;
use serde_json::Value;

use super::ranges::assert_protected;
use super::{day, reports};
use crate::domain::{CaseOutcome, DeclineReason, Domain, ReferralOutcome};
use crate::reports::layout::lay_out_both;
use crate::reports::Period;

/// `(true value, shown)` of a cell.
type Cell = (u64, bool);

fn cell(row: &Value, key: &str, truth: &naive::Naive, row_name: &str) -> Cell {
    (truth.count(row_name, key), row[key] != "suppressed")
}

/// The equations a reader could subtract along, written out independently of the layout.
fn agency_equations() -> Vec<(String, Vec<String>)> {
    let codes =
        |prefix: &str, all: Vec<&str>| all.iter().map(|c| format!("{prefix}_{c}")).collect();
    let yes_no = |prefix: &str| codes(prefix, vec!["yes", "no"]);
    vec![
        (
            "inquiries_answered".into(),
            codes("can_help", vec!["yes", "no", "unsure"]),
        ),
        (
            "inquiries_answered".into(),
            yes_no("trafficking_experience"),
        ),
        ("inquiries_answered".into(), yes_no("cultural_adaptation")),
        (
            "trafficking_experience_no".into(),
            yes_no("support_offered"),
        ),
        (
            "inquiries_answered".into(),
            yes_no("interpretation_offered"),
        ),
        (
            "referrals_declined".into(),
            codes(
                "declined",
                DeclineReason::ALL.iter().map(|c| c.as_str()).collect(),
            ),
        ),
        (
            "services_started".into(),
            codes(
                "services_started",
                Domain::ALL.iter().map(|c| c.as_str()).collect(),
            ),
        ),
        (
            "referrals_closed".into(),
            codes(
                "closed",
                ReferralOutcome::ALL.iter().map(|c| c.as_str()).collect(),
            ),
        ),
    ]
}

fn program_equations() -> Vec<(String, Vec<String>)> {
    let codes =
        |prefix: &str, all: Vec<&str>| all.iter().map(|c| format!("{prefix}_{c}")).collect();
    vec![
        (
            "cases_closed".into(),
            codes(
                "cases_closed",
                CaseOutcome::ALL.iter().map(|c| c.as_str()).collect(),
            ),
        ),
        (
            "inquiry_domains".into(),
            codes(
                "inquiry_domain",
                Domain::ALL.iter().map(|c| c.as_str()).collect(),
            ),
        ),
    ]
}

/// Under a shown total, the hidden parts (each at least 1) add up to the total minus the
/// shown parts, which anyone can compute: there must be none, or two or more adding up to k
/// or more, or else a hidden part is recoverable or pinned to a few values. A hidden total
/// hides the zeros of its breakdown and is not the sum of its shown parts.
fn check_equation(total: Cell, parts: &[Cell], k: u64, what: &str) {
    let hidden: Vec<u64> = parts.iter().filter(|p| !p.1).map(|p| p.0).collect();
    if total.1 {
        if !hidden.is_empty() {
            assert!(hidden.len() >= 2, "{what}: a hidden part is recoverable");
            assert!(
                hidden.iter().sum::<u64>() >= k,
                "{what}: the hidden parts {hidden:?} add up to less than k = {k}"
            );
        }
    } else if total.0 > 0 {
        assert!(
            parts.iter().all(|p| p.0 > 0 || !p.1),
            "{what}: a hidden total shows zeros in its breakdown"
        );
        assert!(
            !hidden.is_empty(),
            "{what}: a hidden total is the sum of its shown parts"
        );
    }
}

fn check_report(agencies: &Value, program: &Value, truth: &naive::Naive, k: u64) {
    let rows = agencies["agencies"].as_array().expect("rows");
    for row in rows {
        let name = row["agency"].as_str().expect("agency");
        truth.check_row(row, &agencies["fields"], name, k);
        for (total, parts) in agency_equations() {
            let parts: Vec<Cell> = parts.iter().map(|p| cell(row, p, truth, name)).collect();
            check_equation(
                cell(row, &total, truth, name),
                &parts,
                k,
                &format!("{name} {total}"),
            );
        }
    }
    let p = &program["program"];
    truth.check_row(p, &program["fields"], "program", k);
    for (total, parts) in program_equations() {
        let parts: Vec<Cell> = parts.iter().map(|c| cell(p, c, truth, "program")).collect();
        check_equation(cell(p, &total, truth, "program"), &parts, k, &total);
    }
    for (total, column) in [
        ("inquiries_sent", "inquiries_received"),
        ("referrals_made", "referrals_received"),
    ] {
        let parts: Vec<Cell> = rows
            .iter()
            .map(|r| cell(r, column, truth, r["agency"].as_str().expect("agency")))
            .collect();
        check_equation(cell(p, total, truth, "program"), &parts, k, total);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_logs_never_reveal_a_small_cell(
        seed in any::<u64>(),
        k in 5u64..=11,
        from in 1u32..=4,
        days in 0u32..=4,
    ) {
        let log = generate::random_log(seed);
        let to = from + days;
        let (agencies, program) = reports(&log.projection(), from, to, k);
        let truth = naive::recount(&log, from, to, k);
        check_report(&agencies, &program, &truth, k);
        // The table behind them, by the independent integer program of `ranges.rs`.
        let period = Period::new(day(from).date_naive(), day(to).date_naive()).expect("period");
        let laid = lay_out_both(&log.projection().period(&period), k);
        assert_protected(&laid.table, k);
    }
}
