//! A cheap witness that a cell can reach an end of 1..k−1, found without a solver: the true
//! values are a solution in whole numbers; move the cell to its end, and in each equation it
//! is in, move other hidden cells of that equation the other way until the sum is restored,
//! each within its room (its lower bound, and the slack of the inequalities it is in), and so
//! on for the other equations those cells are in. An inequality the moves overdraw (first
//! services above the services left) is relieved by moving another hidden cell of its
//! relieving side, with its equations restored in turn. If every relation the moved cells
//! are in still holds, that is a solution with the cell at its end. Most cells of a large group (a
//! column of many agencies' small counts under a shown total) have one, which spares a solve
//! per cell; when none is found, the solver decides.

use microlp::ComparisonOp;

use super::lp::{End, Lp, Row};

/// How far a sum may be from exact and still count as exact (the values are whole).
const EXACT: f64 = 1e-9;
/// Equations away from the cell's own that are restored in turn, at most.
const DEPTH: usize = 3;
/// Variables tried to move back, per equation.
const PARTNERS: usize = 64;
/// Variables tried to relieve an overdrawn inequality (each restores its own equations, so
/// fewer than for an equation keep the search small).
const RELIEVERS: usize = 8;

fn is_equation(row: &Row) -> bool {
    matches!(row.1, ComparisonOp::Eq)
}

impl Lp {
    /// For each row, its terms (by position) in the order they are tried for moving back:
    /// variables in fewest rows first (they disturb least), then those with most room above
    /// their lower bound.
    pub(super) fn partner_order(
        rows: &[Row],
        rows_of: &[Vec<(usize, f64)>],
        truth: &[f64],
        lower: &[f64],
    ) -> Vec<Vec<usize>> {
        rows.iter()
            .map(|(terms, _, _)| {
                let mut order: Vec<usize> = (0..terms.len()).collect();
                order.sort_by(|x, y| {
                    let key = |j: usize| {
                        let v = terms[j].0;
                        (rows_of[v].len(), -(truth[v] - lower[v]))
                    };
                    key(*x)
                        .partial_cmp(&key(*y))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                order
            })
            .collect()
    }

    /// Whether moving variable `t` to `end`, and others back, keeps every relation.
    pub(super) fn exchange(&self, t: usize, end: End, k: u64) -> bool {
        let value = match end {
            End::Low => 1.0,
            End::High => (k - 1) as f64,
        };
        let delta = value - self.truth[t];
        let reached = match end {
            End::Low => delta >= 0.0,
            End::High => delta <= 0.0,
        };
        if reached {
            return true;
        }
        let mut moves = vec![(t, delta)];
        for (r, _) in &self.rows_of[t] {
            if is_equation(&self.rows[*r]) && !self.take_back(*r, &mut moves, DEPTH) {
                return false;
            }
        }
        // Inequalities the moves overdraw (a first-service count above the services left
        // after one agency's count went down): another cell of the relieving side moves.
        let mut touched: Vec<usize> = moves
            .iter()
            .flat_map(|(v, _)| self.rows_of[*v].iter().map(|(r, _)| *r))
            .filter(|r| !is_equation(&self.rows[*r]))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for r in touched {
            if !self.relieve(r, &mut moves) {
                return false;
            }
        }
        self.holds(&moves)
    }

    /// The change of row `r` that `moves` make.
    fn change(&self, r: usize, moves: &[(usize, f64)]) -> f64 {
        moves
            .iter()
            .filter_map(|(v, d)| {
                self.rows_of[*v]
                    .iter()
                    .find(|(q, _)| *q == r)
                    .map(|(_, a)| a * d)
            })
            .sum()
    }

    /// Adds to `moves` moves of other variables of inequality `r` that bring it back within
    /// its slack, in partner order, each within its room and in whole steps, with their
    /// equations restored; whether it is within its slack.
    fn relieve(&self, r: usize, moves: &mut Vec<(usize, f64)>) -> bool {
        let terms = &self.rows[r].0;
        let mut over = self.change(r, moves) - self.slack[r];
        for j in self.partner_order[r].iter().take(RELIEVERS) {
            if over <= EXACT {
                break;
            }
            let (v, b) = terms[*j];
            if moves.iter().any(|(m, _)| *m == v) {
                continue;
            }
            let want = (over / b.abs()).ceil();
            let d = if b < 0.0 {
                want.min(self.room(v, true))
            } else {
                -want.min(self.room(v, false))
            };
            if d.abs() < EXACT {
                continue;
            }
            if self.try_move(v, d, r, moves, DEPTH) {
                // Moves restoring an equation may be in this row too.
                over = self.change(r, moves) - self.slack[r];
            }
        }
        over <= EXACT
    }

    /// Adds to `moves` moves of other variables of equation `r` that restore its sum, in
    /// partner order, each within its room; whether the sum is restored. A variable moved in
    /// another equation too has that equation restored in turn, up to `depth` equations away
    /// (a total moved with its part moves a part of each of its other breakdowns).
    fn take_back(&self, r: usize, moves: &mut Vec<(usize, f64)>, depth: usize) -> bool {
        let terms = &self.rows[r].0;
        let mut off = self.change(r, moves);
        for j in self.partner_order[r].iter().take(PARTNERS) {
            if off.abs() < EXACT {
                break;
            }
            let (v, b) = terms[*j];
            if moves.iter().any(|(m, _)| *m == v) {
                continue;
            }
            let d = (-off / b).clamp(-self.room(v, false), self.room(v, true));
            if d.abs() < EXACT {
                continue;
            }
            if self.try_move(v, d, r, moves, depth) {
                off += b * d;
            }
        }
        off.abs() < EXACT
    }

    /// Adds the move of `v` by `d` (made for row `from`) and restores `v`'s other equations
    /// in turn, up to `depth` equations away; if one cannot be restored, takes it all back.
    /// Whether the move stands.
    fn try_move(
        &self,
        v: usize,
        d: f64,
        from: usize,
        moves: &mut Vec<(usize, f64)>,
        depth: usize,
    ) -> bool {
        let mark = moves.len();
        moves.push((v, d));
        let restored = self.rows_of[v]
            .iter()
            .filter(|(q, _)| *q != from && is_equation(&self.rows[*q]))
            .all(|(q, _)| depth > 0 && self.take_back(*q, moves, depth - 1));
        if !restored {
            moves.truncate(mark);
        }
        restored
    }

    /// How far variable `v` can move up (or down) alone, in whole steps: down to its lower
    /// bound, and within the slack of each inequality the move tightens.
    fn room(&self, v: usize, up: bool) -> f64 {
        let mut room = if up {
            f64::INFINITY
        } else {
            self.truth[v] - self.lower[v]
        };
        for (r, c) in &self.rows_of[v] {
            if !is_equation(&self.rows[*r]) && (*c > 0.0) == up {
                room = room.min((self.slack[*r] / c.abs()).floor());
            }
        }
        room.max(0.0)
    }

    /// Whether the true values with `moves` added keep every row they touch, and every
    /// variable at or above its lower bound.
    fn holds(&self, moves: &[(usize, f64)]) -> bool {
        // A witness is in whole numbers: every move is (equations have coefficients ±1, and
        // relieving rounds up), and this keeps it so should that change.
        if moves
            .iter()
            .any(|(i, d)| self.truth[*i] + d < self.lower[*i] - EXACT || d.fract().abs() > EXACT)
        {
            return false;
        }
        // Each touched row's change, from the moved variables alone.
        let mut change: Vec<(usize, f64)> = moves
            .iter()
            .flat_map(|(i, d)| self.rows_of[*i].iter().map(move |(r, a)| (*r, a * d)))
            .collect();
        change.sort_unstable_by_key(|(r, _)| *r);
        change.chunk_by(|x, y| x.0 == y.0).all(|row| {
            let (r, by) = (row[0].0, row.iter().map(|(_, c)| c).sum::<f64>());
            match self.rows[r].1 {
                ComparisonOp::Eq => by.abs() < EXACT,
                _ => by <= self.slack[r] + EXACT,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::suppression::{CellId, Relations, Table};
    use proptest::prelude::*;

    proptest! {
        /// A witness is a solution: whenever the exchange finds one, the solver finds a
        /// whole-number solution with the cell at that end. Tables: first services ≤ three
        /// hidden services counts, each the total of two parts (hidden or shown), the first
        /// two under a shown column total; zeros hidden only under a hidden total, as the
        /// rules hide them (the audit's lower bounds assume so).
        #[test]
        fn every_witness_is_a_whole_number_solution(
            parts in proptest::collection::vec((0u64..9, 0u64..9, any::<bool>(), any::<bool>()), 3),
            first_share in 0u64..=100,
        ) {
            let mut t = Table::new();
            let mut services = Vec::new();
            let mut hidden = Vec::new();
            for (a, b, a_hidden, b_hidden) in &parts {
                let (pa, pb) = (t.cell(*a), t.cell(*b));
                let total = t.cell(a + b);
                t.equation(total, vec![pa, pb]);
                services.push(total);
                // Zeros hidden only where the rules hide them: under a hidden total.
                let total_hidden = a + b > 0;
                if total_hidden {
                    hidden.push(total);
                }
                for (cell, h) in [(pa, *a_hidden), (pb, *b_hidden)] {
                    if h && (total_hidden || t.value(cell) > 0) {
                        hidden.push(cell);
                    }
                }
            }
            let sum: u64 = services.iter().map(|c| t.value(*c)).sum();
            let first = t.cell(sum * first_share / 100);
            t.at_most(vec![first], services.clone());
            let column = t.cell(t.value(services[0]) + t.value(services[1]));
            t.equation(column, services[..2].to_vec());
            for c in &hidden {
                t.suppressed[c.0] = true;
            }
            hidden.sort_unstable();
            let relations = Relations::new(&t);
            let lp = Lp::new(&relations, &t, &hidden);
            for (i, cell) in hidden.iter().enumerate() {
                for (end, value) in [(End::Low, 1.0), (End::High, 10.0)] {
                    let at = t.value(*cell) as f64;
                    let moved = match end { End::Low => at > 1.0, End::High => at < 10.0 };
                    if moved && lp.exchange(i, end, 11) {
                        prop_assert!(lp.reaches_whole(i, value), "{:?} at {value}: {t:?}", CellId(cell.0));
                    }
                }
            }
        }
    }

    #[test]
    fn an_overdrawn_inequality_is_relieved_by_another_cell_of_its_greater_side() {
        // 20 first services ≤ 5 + 9 + 8 services, all three hidden: moving the 5 to 1
        // overdraws the slack of 2, and moving the 9 up by 2 makes it good again.
        let mut t = Table::new();
        let first = t.cell(20);
        let services = [t.cell(5), t.cell(9), t.cell(8)];
        t.at_most(vec![first], services.to_vec());
        for c in services {
            t.suppressed[c.0] = true;
        }
        let relations = Relations::new(&t);
        let lp = Lp::new(&relations, &t, &services);
        assert!(lp.exchange(0, End::Low, 11));
        assert!(lp.exchange(0, End::High, 11));
        // With the other two shown, the inequality pins the 5 at 3 or more: no witness.
        t.suppressed[services[1].0] = false;
        t.suppressed[services[2].0] = false;
        let lp = Lp::new(&relations, &t, &services[..1]);
        assert!(!lp.exchange(0, End::Low, 11));
    }
}
