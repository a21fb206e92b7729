//! Small-cell suppression over a table of counts and the relations between them.
//!
//! A table declares every relation a reader could reason along: equations `total = part +
//! part + …` (a breakdown in a row, or a column of agencies summing to a programme total) and
//! inequalities `a + b + … ≤ c + …` that hold in the data model (an agency cannot answer more
//! inquiries than it received, when the period covers their sending; see `bounds.rs`).
//!
//! Primary: every count from 1 to k−1 is suppressed. Then two steps, repeated until the audit
//! passes (cells are only ever added, so it ends, and nothing suppressed is shown again):
//!
//! 1. Rules per relation (`rules.rs`), cheap and local. A hidden total hides the zeros of its
//!    breakdown, and a hidden cell on the greater side of an inequality hides the zeros on its
//!    lesser side: shown zeros beside one hidden part would tell that every counted event
//!    falls in that part (a zero that another relation shows to be 0 anyway stays shown).
//!    Under a shown total the hidden parts must be none, or two or more adding up to k or
//!    more; else the smallest non-zero shown part (or the total) goes too.
//! 2. An exact audit by linear programming (`audit.rs`, `lp.rs`, `exchange.rs`), as tau-argus
//!    offers, since chains of relations defeat rules applied one relation at a time: `30 =
//!    te_yes + te_no` with `te_no = 29 + support_no` pins `te_yes` to 1 though no single
//!    equation does. For each group of hidden cells linked by relations, with the shown cells
//!    as constants, it asks whether every primary cell could be 1 (or less) and could be k−1
//!    (or more), in whole numbers: the attacker must learn nothing beyond "suppressed". If
//!    not, one more shown cell near the cell is suppressed (`choice.rs`) and both steps run
//!    again. A hidden zero is audited too, for its upper end only: it must be able to be 1
//!    or more, else the relations show it 0 and with it that every event its total counts
//!    falls in the other parts (what hiding it was for). A complement (at least k) is not:
//!    recovering it tells nothing about a small count.
//!
//! What the audit assumes the attacker knows: the shown values, every relation, that counts
//! are whole numbers, and which hidden cells could be zero. The marker does not tell primary
//! from complementary cells, but zeros are only ever hidden by the rules of step 1, so a
//! hidden cell that is not a part of a hidden total, nor on the lesser side of an inequality
//! with a hidden greater side, is at least 1 (a primary cell, or a non-zero complement).
//! That knowledge matters: `11 = a + b + c` with 1, 1 and 9 all hidden leaves `a ≤ 9` once
//! `b, c ≥ 1`, where `≥ 0` would allow 11. So those cells get a lower bound of 1 and the
//! others 0. For the audited cell itself it makes no difference (its range includes its true
//! value, at least 1); it is for the cells around it. This is also why an inequality's
//! zeros are hidden with its greater side: `received ≥ accepted + declined` with both small
//! parts known to be at least 1 would tell `received ≥ 2`.
//!
//! Not modelled: an attacker who replays the choice of complements (e.g. "the cheapest shown
//! cell was taken, so this one was not cheaper"), as tau-argus does not; the exact value of
//! a complement; and several reports combined (see docs/reports.md).

mod audit;
mod choice;
mod exchange;
mod lp;
mod relations;
mod rules;

use relations::Relations;

#[cfg(test)]
pub(crate) use lp::with_budget;

/// A cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId(usize);

/// An equation: `total` is the sum of `parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    /// The total.
    pub total: CellId,
    /// Its parts.
    pub parts: Vec<CellId>,
}

/// An inequality: the cells `lesser` add up to at most `factor` times the cells `greater`
/// plus `carried`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inequality {
    /// The smaller side.
    pub lesser: Vec<CellId>,
    /// What the greater side is multiplied by (1 but for counts per domain: at most 7 per
    /// event).
    pub factor: u64,
    /// The greater side.
    pub greater: Vec<CellId>,
    /// A known constant on the greater side, multiplied with it: what was still open when
    /// the period began (inquiries not yet answered, referrals not yet accepted...), which
    /// a reader of earlier reports may know exactly.
    pub carried: u64,
}

/// Counts, their suppression flags, and the relations between them.
#[derive(Debug, Clone, Default)]
pub struct Table {
    values: Vec<u64>,
    suppressed: Vec<bool>,
    equations: Vec<Equation>,
    inequalities: Vec<Inequality>,
    /// An inequality declared was broken by the true values: a bug upstream (a carried
    /// constant too small, say), which would leave the audit knowing less than a reader.
    broken: bool,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a count.
    pub fn cell(&mut self, value: u64) -> CellId {
        self.values.push(value);
        self.suppressed.push(false);
        CellId(self.values.len() - 1)
    }

    /// Declares that `total` is the sum of `parts`.
    pub fn equation(&mut self, total: CellId, parts: Vec<CellId>) {
        debug_assert_eq!(
            self.value(total),
            self.sum(&parts),
            "an equation's parts must sum to its total"
        );
        self.equations.push(Equation { total, parts });
    }

    /// Declares that the cells `lesser` add up to at most the cells `greater`: a relation
    /// that always holds in the data model, not one that happens to hold. If the true values
    /// break it anyway (a bug upstream), it is left out and [`Table::suppress`] hides the whole
    /// table: the audit would know less than a reader.
    pub fn at_most(&mut self, lesser: Vec<CellId>, greater: Vec<CellId>) {
        self.at_most_times(lesser, 1, greater);
    }

    /// Declares that the cells `lesser` add up to at most `factor` times the cells `greater`
    /// (as [`Table::at_most`]).
    pub fn at_most_times(&mut self, lesser: Vec<CellId>, factor: u64, greater: Vec<CellId>) {
        self.at_most_carried(lesser, factor, greater, 0);
    }

    /// Declares that the cells `lesser` add up to at most `factor` times the cells `greater`
    /// plus the constant `carried` (as [`Table::at_most`]).
    pub fn at_most_carried(
        &mut self,
        lesser: Vec<CellId>,
        factor: u64,
        greater: Vec<CellId>,
        carried: u64,
    ) {
        let holds = self.sum(&lesser) <= factor * (self.sum(&greater) + carried);
        debug_assert!(holds, "an inequality must hold for the true values");
        self.broken |= !holds;
        if holds {
            self.inequalities.push(Inequality {
                lesser,
                factor,
                greater,
                carried,
            });
        }
    }

    fn sum(&self, cells: &[CellId]) -> u64 {
        cells.iter().map(|c| self.value(*c)).sum()
    }

    /// The true value of a cell.
    pub fn value(&self, id: CellId) -> u64 {
        self.values[id.0]
    }

    /// The table with every non-zero count hidden too (the zeros hidden now stay hidden,
    /// the others shown): what a hidden zero would be pinned to however many complements
    /// were added (zeros are never complements).
    pub(crate) fn with_every_count_hidden(&self) -> Table {
        let mut t = self.clone();
        for (hidden, value) in t.suppressed.iter_mut().zip(&t.values) {
            *hidden |= *value > 0;
        }
        t
    }

    /// Whether a cell is suppressed.
    pub fn is_suppressed(&self, id: CellId) -> bool {
        self.suppressed[id.0]
    }

    /// Every cell, in the order added.
    pub fn cells(&self) -> impl Iterator<Item = CellId> {
        (0..self.values.len()).map(CellId)
    }

    /// The declared equations.
    pub fn equations(&self) -> &[Equation] {
        &self.equations
    }

    /// The declared inequalities.
    pub fn inequalities(&self) -> &[Inequality] {
        &self.inequalities
    }

    /// Whether a cell is suppressed for its own small count (a primary cell).
    fn is_primary(&self, id: CellId, k: u64) -> bool {
        self.suppressed[id.0] && (1..k).contains(&self.values[id.0])
    }

    /// Applies primary and complementary suppression with threshold `k`. A table whose hidden
    /// cells come to form a group larger than the audit takes (`audit::MAX_GROUP`) is hidden
    /// whole.
    pub fn suppress(&mut self, k: u64) {
        self.suppress_within(k, audit::MAX_GROUP);
    }

    fn suppress_within(&mut self, k: u64, max_group: usize) {
        if self.broken {
            tracing::error!(
                "a report's counts break a relation declared between them (a bug); every \
                 cell is hidden"
            );
            self.suppressed = vec![true; self.values.len()];
            return;
        }
        for (value, hidden) in self.values.iter().zip(self.suppressed.iter_mut()) {
            *hidden = (1..k).contains(value);
        }
        let relations = Relations::new(self);
        let mut audit = audit::Audit::default();
        lp::start_counting();
        loop {
            self.apply_rules(k, &relations);
            if lp::exhausted() {
                self.hide_all_past_budget();
                break;
            }
            if let Some(cells) = audit::oversized(self, &relations, max_group) {
                tracing::warn!(
                    cells,
                    limit = max_group,
                    "a report's hidden cells form a group too large to audit; every cell is \
                     hidden (a longer period, with larger counts, may be audited)"
                );
                self.suppressed.iter_mut().for_each(|s| *s = true);
                break;
            }
            let unprotected = audit.unprotected(self, k, &relations);
            // Past the budget an audit's "protected" may rest on answers cut short: only a
            // table hidden whole is sure.
            if lp::exhausted() {
                self.hide_all_past_budget();
                break;
            }
            if unprotected.is_empty() {
                break;
            }
            let (mut picks, mut stuck) = (Vec::new(), Vec::new());
            for (target, group) in &unprotected {
                match choice::complement(self, k, &relations, *target, group) {
                    Some(pick) => picks.push(pick),
                    None => stuck.push(group.as_slice()),
                }
            }
            let picked = !picks.is_empty();
            for pick in picks {
                self.suppressed[pick.0] = true;
            }
            // Relations that narrow a cell whatever else is hidden leave nothing to pick (a
            // carried constant beside a shown zero: answers of an agency that received none
            // in the period): fail closed rather than publish the cell unprotected.
            if !picked && !self.fail_closed(&relations, &stuck) {
                break;
            }
        }
    }

    /// Hides every cell: the suppression spent its solver budget.
    fn hide_all_past_budget(&mut self) {
        tracing::warn!(
            budget = lp::BUDGET,
            "a report's suppression spent its solver budget; every cell is hidden"
        );
        self.suppressed.iter_mut().for_each(|s| *s = true);
    }

    /// The last resort when the audit finds cells unprotected and no shown cell to hide
    /// beside them: hides every cell of the relations the `stuck` groups are in, zeros
    /// included; if that hides nothing more, hides the whole table. Whether another round
    /// is worth running (`false` once everything is hidden).
    fn fail_closed(&mut self, relations: &Relations, stuck: &[&[CellId]]) -> bool {
        tracing::warn!(
            groups = stuck.len(),
            "report suppression found no complement for an unprotected cell; hiding more"
        );
        let mut grew = false;
        for group in stuck {
            for r in relations.touching(group) {
                for c in relations.all[r].cells() {
                    grew |= !std::mem::replace(&mut self.suppressed[c.0], true);
                }
            }
        }
        if !grew {
            self.suppressed.iter_mut().for_each(|s| *s = true);
        }
        grew
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_complement_to_pick_suppression_fails_closed() {
        // The audit's stuck group is {a}: its relation's cells go, the zero too; the cell
        // outside stays. A second time nothing more can go there, so everything goes.
        let mut t = Table::new();
        let (total, a, zero, outside) = (t.cell(12), t.cell(12), t.cell(0), t.cell(7));
        t.equation(total, vec![a, zero]);
        let relations = Relations::new(&t);
        assert!(t.fail_closed(&relations, &[&[a]]));
        assert!([total, a, zero].iter().all(|c| t.is_suppressed(*c)));
        assert!(!t.is_suppressed(outside));
        assert!(!t.fail_closed(&relations, &[&[a]]));
        assert!(t.cells().all(|c| t.is_suppressed(c)));
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// `n` small cells under a shown total, and a cell outside any relation.
    fn column(n: usize) -> (Table, CellId, CellId) {
        let mut t = Table::new();
        let parts: Vec<CellId> = (0..n).map(|_| t.cell(5)).collect();
        let total = t.cell(5 * n as u64);
        t.equation(total, parts);
        let outside = t.cell(50);
        (t, total, outside)
    }

    #[test]
    fn a_group_too_large_to_audit_hides_the_whole_table() {
        let (mut t, total, outside) = column(20);
        t.suppress_within(11, 20);
        assert!(!t.is_suppressed(total), "{t:?}");
        assert!(!t.is_suppressed(outside), "{t:?}");
        let (mut t, _, _) = column(21);
        t.suppress_within(11, 20);
        assert!(t.cells().all(|c| t.is_suppressed(c)));
    }

    #[test]
    fn a_relation_the_counts_break_hides_the_whole_table() {
        let (mut t, total, _) = column(20);
        // What `at_most_carried` records, in a release build, for a relation that fails.
        t.broken = true;
        t.suppress(11);
        assert!(t.is_suppressed(total));
        assert!(t.cells().all(|c| t.is_suppressed(c)));
    }
}
