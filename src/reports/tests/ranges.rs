//! An independent statement of the audit, for tests: the range of a hidden cell over every
//! table in whole numbers that agrees with what is shown, found as the minimum and maximum of
//! one integer program over the whole table (shown cells as variables pinned at their values,
//! hidden cells from their lower bound up), rather than the suppression's per-group programs
//! with shown cells as constants and cells pinned in turn.

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolveOutcome, Variable};

use crate::reports::suppression::{CellId, Table};

/// Far above any count in the tests: a maximum there means "unbounded".
const CEILING: i32 = 1_000_000;

/// The lower bound an attacker knows for a hidden cell: 0 where the rules may have hidden a
/// zero (a part of a hidden total, or the lesser side of an inequality with a hidden greater
/// side), else 1.
fn lower_bound(t: &Table, cell: CellId) -> i32 {
    let under_hidden_total = t
        .equations()
        .iter()
        .any(|e| t.is_suppressed(e.total) && e.parts.contains(&cell));
    let under_hidden_greater = t
        .inequalities()
        .iter()
        .any(|i| i.lesser.contains(&cell) && i.greater.iter().any(|g| t.is_suppressed(*g)));
    i32::from(!(under_hidden_total || under_hidden_greater))
}

/// The optimum of `target` in `direction`, with the target at most `cap` (a smaller search
/// for a yes-or-no question).
fn optimum(t: &Table, target: CellId, direction: OptimizationDirection, cap: i32) -> i64 {
    let mut p = Problem::new(direction);
    let vars: Vec<Variable> = t
        .cells()
        .map(|c| {
            let objective = if c == target { 1.0 } else { 0.0 };
            let value = t.value(c) as i32;
            let ceiling = if c == target { cap } else { CEILING };
            let bounds = if t.is_suppressed(c) {
                // A zero where the rule says 1 is one the audit's rules never hide (only
                // hidden here to ask what pins it): its true value stays a solution.
                (lower_bound(t, c).min(value), ceiling)
            } else {
                (value, value)
            };
            p.add_integer_var(objective, bounds)
        })
        .collect();
    let var = |c: &CellId| vars[t.cells().position(|x| x == *c).expect("a cell")];
    for e in t.equations() {
        let mut terms = vec![(var(&e.total), -1.0)];
        terms.extend(e.parts.iter().map(|c| (var(c), 1.0)));
        p.add_constraint(terms.as_slice(), ComparisonOp::Eq, 0.0);
    }
    for i in t.inequalities() {
        let mut terms: Vec<(Variable, f64)> = i.lesser.iter().map(|c| (var(c), 1.0)).collect();
        terms.extend(i.greater.iter().map(|c| (var(c), -(i.factor as f64))));
        let rhs = (i.factor * i.carried) as f64;
        p.add_constraint(terms.as_slice(), ComparisonOp::Le, rhs);
    }
    match p.solve() {
        Ok(SolveOutcome::Solution(s)) => s.objective().round() as i64,
        other => panic!("the true values are a solution, yet: {other:?}"),
    }
}

/// The smallest and largest value a hidden cell can take, given what is shown.
pub(super) fn range(t: &Table, cell: CellId) -> (i64, i64) {
    (
        optimum(t, cell, OptimizationDirection::Minimize, CEILING),
        optimum(t, cell, OptimizationDirection::Maximize, CEILING),
    )
}

/// No count from 1 to k−1 is shown, every one is hidden in a range covering 1..k−1, and no
/// hidden zero is shown to be 0 by the relations.
pub(super) fn assert_protected(t: &Table, k: u64) {
    // Nothing shown: the last resort of failing closed (relations that pin a cell whatever
    // is hidden). Failing closed also hides zeros outside the rules' places, so a reader of
    // such a table cannot take a hidden cell for one or more, which the ranges below assume.
    if t.cells().all(|c| t.is_suppressed(c)) {
        return;
    }
    // Whether a hidden zero can be 1: its maximum with it capped at 1 (a full maximum can
    // send branch and bound far up).
    let reaches_one = |t: &Table, cell| optimum(t, cell, OptimizationDirection::Maximize, 1) >= 1;
    let counts_hidden = t.with_every_count_hidden();
    for cell in t
        .cells()
        .filter(|c| t.is_suppressed(*c) && t.value(*c) == 0)
    {
        // A zero pinned by the relations and the shown zeros alone (a random table can have
        // one; a total whose parts are all shown as 0) stays 0 whatever count is hidden.
        let pinned = || !reaches_one(&counts_hidden, cell);
        assert!(
            reaches_one(t, cell) || pinned(),
            "{cell:?} is hidden but shown to be 0: {t:?}"
        );
    }
    for cell in t.cells().filter(|c| (1..k).contains(&t.value(*c))) {
        assert!(
            t.is_suppressed(cell),
            "{cell:?} = {} is shown",
            t.value(cell)
        );
        let (min, max) = range(t, cell);
        assert!(
            min <= 1 && max >= k as i64 - 1,
            "{cell:?} = {} is hidden in [{min}, {max}] only (k = {k}): {t:?}",
            t.value(cell)
        );
    }
}
