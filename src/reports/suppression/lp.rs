//! The linear program of one group of hidden cells, and the questions the audit asks of it.
//!
//! A primary cell is protected when some solution has it at 1 or below and some solution has
//! it at k−1 or above, in whole numbers. Asking the solver that one cell at a time costs two
//! solves per cell, which in a large group (a column of many agencies' small counts) adds up
//! to seconds. So a witness built from the true values is tried first (`exchange.rs`: the
//! cell moved to its end, other cells of its equations moved back). Then each end is asked of
//! all the cells left at once: minimise the sum of those still without a low witness, or
//! maximise the sum of `min(cell, k−1)` over those still without a high one; every cell at
//! its end in the optimum has its witness, and the question is asked again of the rest while
//! that helps. The few left are asked one by one: the problem is solved once (the true values
//! are a solution), and each cell is fixed at 1 or at k−1 and released, which microlp
//! re-solves from the previous basis.
//!
//! Only a solution in whole numbers is a witness. When a simplex answer has a fraction, the
//! one-by-one question is asked again with integer variables (branch and bound, bounded: an
//! answer it cannot find counts as none, so more is suppressed, never less). That is rare:
//! the relations have coefficients ±1 (7 for the domains), and their vertices are mostly
//! whole.

use std::collections::HashMap;

use microlp::{
    ComparisonOp, OptimizationDirection, Problem, Solution, SolveOptions, SolveOutcome, Variable,
};

use super::{CellId, Relations, Table};

/// How far from a whole number a solver's value may be and still count as one.
const WHOLE: f64 = 1e-6;
/// Branch-and-bound nodes allowed to find a whole-number solution.
const NODE_LIMIT: u64 = 2_000;
/// How many times the question is asked of all the cells at once, at most.
const ROUNDS: usize = 8;

/// Solver work one report's suppression may spend, in units of the square of a solve's
/// variables (measured: a solve's time grows about so, 6 to 9 ns per unit on a 2-core
/// machine of 2026, from 3,600 to 26,000 variables), summed over the solves; a bounded
/// branch-and-bound search counts as ten solves. About 10 s of a core. Past it,
/// `Table::suppress` hides the whole table, so no request holds a core for minutes. A count,
/// not a time: a request always gets the same answer whatever the machine's load.
pub(super) const BUDGET: u64 = 1_500_000_000;

/// Branch-and-bound searches count as this many solves.
const SEARCH_WEIGHT: u64 = 10;

thread_local! {
    /// Solver work spent by the suppression running on this thread.
    static SPENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// A smaller budget, for tests.
    static LIMIT: std::cell::Cell<u64> = const { std::cell::Cell::new(BUDGET) };
}

thread_local! {
    /// A solve since the last [`take_undecided`] ended without an answer (interrupted, or an
    /// error other than a proof of infeasibility): its "unprotected" is a guess.
    static UNDECIDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Tests: every solve of the group's program ends without an answer.
    #[cfg(test)]
    static FORCE_UNDECIDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a solve ended without an answer since the last call; clears the mark.
pub(super) fn take_undecided() -> bool {
    UNDECIDED.with(|u| u.replace(false))
}

fn undecided() {
    UNDECIDED.with(|u| u.set(true));
}

/// Runs `f` with every solve of a group's program ending without an answer (tests).
#[cfg(test)]
pub(crate) fn with_undecided_solves<R>(f: impl FnOnce() -> R) -> R {
    FORCE_UNDECIDED.with(|u| u.set(true));
    let result = f();
    FORCE_UNDECIDED.with(|u| u.set(false));
    result
}

/// Runs `f` with the budget set to `budget` on this thread.
#[cfg(test)]
pub(crate) fn with_budget<R>(budget: u64, f: impl FnOnce() -> R) -> R {
    LIMIT.with(|l| l.set(budget));
    let result = f();
    LIMIT.with(|l| l.set(BUDGET));
    result
}

/// Starts counting the solver work of one suppression.
pub(super) fn start_counting() {
    SPENT.with(|s| s.set(0));
}

/// Whether this thread's suppression has spent its [`BUDGET`].
pub(super) fn exhausted() -> bool {
    SPENT.with(|s| s.get()) > LIMIT.with(|l| l.get())
}

/// Counts a solve over `vars` variables, `times` over.
fn spend(vars: usize, times: u64) {
    let units = (vars as u64)
        .saturating_mul(vars as u64)
        .saturating_mul(times);
    SPENT.with(|s| s.set(s.get().saturating_add(units)));
}

/// `Σ coefficient · variable (=|≤) right-hand side`, variables by position in the group.
pub(super) type Row = (Vec<(usize, f64)>, ComparisonOp, f64);

/// Which end of 1..k−1 a cell must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// 1 or below.
    Low,
    /// k−1 or above.
    High,
}

/// The program of one group: a variable per hidden cell (at least 0, or 1 where it cannot be
/// a hidden zero), a row per relation touching the group, shown cells as constants.
pub(super) struct Lp {
    pub(super) lower: Vec<f64>,
    pub(super) rows: Vec<Row>,
    /// The true values, a solution.
    pub(super) truth: Vec<f64>,
    /// For each variable, the rows it is in, with its coefficient there.
    pub(super) rows_of: Vec<Vec<(usize, f64)>>,
    /// For each row, the order its terms are tried in as partners (`exchange.rs`).
    pub(super) partner_order: Vec<Vec<usize>>,
    /// For each row, its right-hand side less its value at the true values (0 for an
    /// equation).
    pub(super) slack: Vec<f64>,
}

impl Lp {
    pub(super) fn new(relations: &Relations, table: &Table, group: &[CellId]) -> Self {
        let index: HashMap<CellId, usize> =
            group.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let lower: Vec<f64> = group
            .iter()
            .map(|c| f64::from(u8::from(!relations.may_be_zero(table, *c))))
            .collect();
        let rows: Vec<Row> = relations
            .touching(group)
            .into_iter()
            .map(|r| {
                let relation = &relations.all[r];
                let mut terms = Vec::new();
                // Σ lower − factor · Σ upper (=|≤) factor · carried, shown cells moved to
                // the right.
                let factor = relation.factor as f64;
                let mut rhs = factor * relation.carried as f64;
                for (cells, sign) in [(&relation.lower, 1.0), (&relation.upper, -factor)] {
                    for c in cells {
                        match index.get(c) {
                            Some(i) => terms.push((*i, sign)),
                            None => rhs -= sign * table.values[c.0] as f64,
                        }
                    }
                }
                let op = if relation.equal {
                    ComparisonOp::Eq
                } else {
                    ComparisonOp::Le
                };
                (terms, op, rhs)
            })
            .collect();
        let mut rows_of = vec![Vec::new(); group.len()];
        for (r, (terms, _, _)) in rows.iter().enumerate() {
            for (i, a) in terms {
                rows_of[*i].push((r, *a));
            }
        }
        let truth: Vec<f64> = group.iter().map(|c| table.values[c.0] as f64).collect();
        let partner_order = Self::partner_order(&rows, &rows_of, &truth, &lower);
        let slack = rows
            .iter()
            .map(|(terms, _, rhs)| rhs - terms.iter().map(|(i, a)| a * truth[*i]).sum::<f64>())
            .collect();
        Self {
            slack,
            lower,
            rows,
            truth,
            rows_of,
            partner_order,
        }
    }

    /// The problem: `direction` of `Σ cost(i) · variable i`, with integer or real variables,
    /// and variable `fixed.0` at `fixed.1`.
    fn problem(
        &self,
        direction: OptimizationDirection,
        cost: impl Fn(usize) -> f64,
        integer: bool,
        fixed: Option<(usize, f64)>,
    ) -> (Problem, Vec<Variable>) {
        let mut problem = Problem::new(direction);
        let vars: Vec<Variable> = (0..self.lower.len())
            .map(|i| {
                let (min, max) = match fixed {
                    Some((f, value)) if f == i => (value, value),
                    _ => (self.lower[i], f64::INFINITY),
                };
                if integer {
                    let max = max.min(f64::from(i32::MAX));
                    problem.add_integer_var(cost(i), (min as i32, max as i32))
                } else {
                    problem.add_var(cost(i), (min, max))
                }
            })
            .collect();
        for (terms, op, rhs) in &self.rows {
            let expr: Vec<(Variable, f64)> = terms.iter().map(|(i, a)| (vars[*i], *a)).collect();
            problem.add_constraint(expr.as_slice(), *op, *rhs);
        }
        (problem, vars)
    }

    fn solve(&self) -> Option<(Solution, Vec<Variable>)> {
        spend(self.lower.len(), 1);
        let (problem, vars) = self.problem(OptimizationDirection::Minimize, |_| 0.0, false, None);
        #[cfg(test)]
        if FORCE_UNDECIDED.with(|u| u.get()) {
            undecided();
            return None;
        }
        // The true values are a solution: no answer here is never a proof of anything.
        match problem.solve() {
            Ok(SolveOutcome::Solution(solution)) => Some((solution, vars)),
            _ => {
                undecided();
                None
            }
        }
    }

    /// The first of the cells `audited` (positions in the group, in order) that cannot reach
    /// both 1 and k−1.
    pub(super) fn first_unprotected(
        &self,
        group: &[CellId],
        k: u64,
        audited: impl IntoIterator<Item = usize>,
    ) -> Option<CellId> {
        let audited: Vec<usize> = audited.into_iter().collect();
        let mut left = Vec::new();
        for end in [End::Low, End::High] {
            let mut cells = audited.clone();
            cells.retain(|i| !self.exchange(*i, end, k));
            self.witness_all(&mut cells, end, k);
            left.extend(cells.into_iter().map(|i| (i, end)));
        }
        left.sort_unstable_by_key(|(i, end)| (*i, *end == End::High));
        let (first, _) = *left.first()?;
        // Past the budget, no more solving: the caller hides the table.
        if exhausted() {
            return Some(group[first]);
        }
        let Some((mut solution, vars)) = self.solve() else {
            return Some(group[first]);
        };
        for (i, end) in left {
            // Past the budget a cell counts as unprotected: the caller then hides the table.
            if exhausted() {
                return Some(group[i]);
            }
            spend(self.lower.len(), 2);
            let value = match end {
                End::Low => 1.0,
                End::High => (k - 1) as f64,
            };
            solution = match self.reaches(solution, &vars, i, value) {
                (true, Some(next)) => next,
                _ => return Some(group[i]),
            };
            solution = match solution.unfix_var(vars[i]) {
                Ok((SolveOutcome::Solution(next), _)) => next,
                _ => match self.solve() {
                    Some((next, _)) => next,
                    None => return Some(group[i]),
                },
            };
        }
        None
    }

    /// Removes from `cells` those that a solution pushing all of them to `end` at once takes
    /// there, while that removes some.
    fn witness_all(&self, cells: &mut Vec<usize>, end: End, k: u64) {
        let high = (k - 1) as f64;
        for _ in 0..ROUNDS {
            if cells.is_empty() || exhausted() {
                return;
            }
            spend(self.lower.len(), 1);
            let mut pushed = vec![false; self.lower.len()];
            for i in cells.iter() {
                pushed[*i] = true;
            }
            let (problem, vars) = match end {
                End::Low => self.problem(
                    OptimizationDirection::Minimize,
                    |i| f64::from(u8::from(pushed[i])),
                    false,
                    None,
                ),
                End::High => {
                    let (mut problem, vars) =
                        self.problem(OptimizationDirection::Maximize, |_| 0.0, false, None);
                    // y ≤ cell and y ≤ k−1: the sum of the y is the sum of min(cell, k−1).
                    for i in cells.iter() {
                        let y = problem.add_var(1.0, (0.0, high));
                        problem.add_constraint([(y, 1.0), (vars[*i], -1.0)], ComparisonOp::Le, 0.0);
                    }
                    (problem, vars)
                }
            };
            let Some(solution) = problem.solve().ok().and_then(|o| o.into_solution().ok()) else {
                return;
            };
            if !whole(&solution) {
                return;
            }
            let before = cells.len();
            cells.retain(|i| match end {
                End::Low => solution[vars[*i]] > 1.0 + WHOLE,
                End::High => solution[vars[*i]] < high - WHOLE,
            });
            if cells.len() == before {
                return;
            }
        }
    }

    /// Whether variable `i` can take `value` in whole numbers, and the solution to go on from
    /// (with `i` fixed there, or as it was when it already held `value`).
    fn reaches(
        &self,
        solution: Solution,
        vars: &[Variable],
        i: usize,
        value: f64,
    ) -> (bool, Option<Solution>) {
        if (solution[vars[i]] - value).abs() < WHOLE && whole(&solution) {
            return (true, Some(solution));
        }
        match solution.fix_var(vars[i], value) {
            Ok(SolveOutcome::Solution(next)) => {
                let reached = whole(&next) || self.reaches_whole(i, value);
                (reached, Some(next))
            }
            Err(microlp::Error::Infeasible) => (false, None),
            _ => {
                undecided();
                (false, None)
            }
        }
    }

    /// Whether an integer solution has variable `i` at `value` (branch and bound).
    pub(super) fn reaches_whole(&self, i: usize, value: f64) -> bool {
        spend(self.lower.len(), SEARCH_WEIGHT);
        let (problem, _) = self.problem(
            OptimizationDirection::Minimize,
            |_| 0.0,
            true,
            Some((i, value)),
        );
        let mut options = SolveOptions::default();
        options.node_limit = Some(NODE_LIMIT);
        match problem.solve_with(options) {
            Ok(SolveOutcome::Solution(_)) => true,
            Err(microlp::Error::Infeasible) => false,
            _ => {
                undecided();
                false
            }
        }
    }
}

/// Whether every value of a solution is a whole number.
fn whole(solution: &Solution) -> bool {
    solution.iter().all(|(_, v)| (v - v.round()).abs() < WHOLE)
}
