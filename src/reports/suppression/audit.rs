//! The audit: for each group of hidden cells linked by relations, a linear program over what
//! an attacker sees, asking whether each primary cell could be 1 and could be k−1.
//!
//! A relation whose cells are all shown is a constant and says nothing about hidden cells, so
//! hidden cells only constrain each other through relations they share; the groups are the
//! connected parts of that graph and are solved one by one. A group whose cells have not
//! changed since it passed is not solved again (a new hidden cell next to it would have
//! joined it).
//! Each group's program is in `lp.rs`.

use std::collections::{HashMap, HashSet};

use super::lp::Lp;
use super::{CellId, Relations, Table};

/// The most hidden cells one group may hold and still be audited. The solver's work grows
/// faster than the group: a group of 3,600 hidden cells (400 agencies' month) takes about
/// half a second, one of 26,000 (2,000 agencies' month) about 25 s, per pass. A table with a
/// larger group is published with every cell hidden (`Table::suppress`): a report that
/// says nothing rather than a request that holds a core for minutes. The bound is a count,
/// not a time, so the same request always gets the same answer.
pub(super) const MAX_GROUP: usize = 6_000;

/// The size of the largest group of hidden cells, if it is more than `max` (normally
/// [`MAX_GROUP`]).
pub(super) fn oversized(table: &Table, relations: &Relations, max: usize) -> Option<usize> {
    Audit::groups(table, relations)
        .iter()
        .map(Vec::len)
        .max()
        .filter(|n| *n > max)
}

/// The groups already proved safe, by their cells.
#[derive(Default)]
pub(super) struct Audit {
    passed: HashSet<Vec<CellId>>,
    /// Groups that passed by leaving a pinned zero out, with the number of hidden zeros in
    /// the table then: judged again only once more zeros are hidden (which can make such a
    /// zero one a complement helps; cells are only ever added to the hidden ones).
    exempt_passed: HashMap<Vec<CellId>, usize>,
}

impl Audit {
    /// The hidden cells, grouped by the relations that link them, each group in cell order.
    fn groups(table: &Table, relations: &Relations) -> Vec<Vec<CellId>> {
        let mut parent: Vec<usize> = (0..table.values.len()).collect();
        fn root(parent: &mut [usize], mut c: usize) -> usize {
            while parent[c] != c {
                parent[c] = parent[parent[c]];
                c = parent[c];
            }
            c
        }
        for relation in &relations.all {
            let mut hidden = relation.cells().filter(|c| table.suppressed[c.0]);
            if let Some(first) = hidden.next() {
                for other in hidden {
                    let (a, b) = (root(&mut parent, first.0), root(&mut parent, other.0));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut groups: HashMap<usize, Vec<CellId>> = HashMap::new();
        let mut order = Vec::new();
        for c in (0..table.values.len()).filter(|c| table.suppressed[*c]) {
            let r = root(&mut parent, c);
            let group = groups.entry(r).or_default();
            if group.is_empty() {
                order.push(r);
            }
            group.push(CellId(c));
        }
        order
            .into_iter()
            .filter_map(|r| groups.remove(&r))
            .collect()
    }

    /// Every group with a primary cell the audit cannot prove safe, or a hidden zero it cannot
    /// prove may be 1 or more: its first such cell, and the group.
    pub(super) fn unprotected(
        &mut self,
        table: &Table,
        k: u64,
        relations: &Relations,
    ) -> Vec<(CellId, Vec<CellId>)> {
        let mut found = Vec::new();
        let hidden_zeros = (0..table.values.len())
            .filter(|i| table.suppressed[*i] && table.values[*i] == 0)
            .count();
        for group in Self::groups(table, relations) {
            // Past the solver budget the caller hides the whole table: no more work.
            if super::lp::exhausted() {
                break;
            }
            let audited = |c: &CellId| table.is_primary(*c, k) || table.values[c.0] == 0;
            let unchanged = self.exempt_passed.get(&group) == Some(&hidden_zeros);
            if unchanged || self.passed.contains(&group) || !group.iter().any(audited) {
                continue;
            }
            let primary = (0..group.len()).filter(|i| table.is_primary(group[*i], k));
            let lp = Lp::new(relations, table, &group);
            // A hidden zero must be able to be 1 or more (the question of a primary cell's
            // upper end, with k = 2): else a chain of relations shows it 0, and with it
            // that every event counted falls in the other parts.
            let mut exempted = false;
            match lp.first_unprotected(&group, k, primary).or_else(|| {
                Self::first_zero_unprotected(table, relations, &lp, &group, &mut exempted)
            }) {
                None if exempted => {
                    self.exempt_passed.insert(group, hidden_zeros);
                }
                None => {
                    self.passed.insert(group);
                }
                Some(cell) => found.push((cell, group)),
            }
        }
        found
    }

    /// The first hidden zero of `group` that cannot be 1 or more, leaving out those that no
    /// complement could help: pinned at 0 with every non-zero count hidden (a total whose
    /// parts are shown as 0, say), where the shown zeros tell it already. Judged afresh each
    /// round: hiding more zeros (by the rules, or failing closed) can make such a zero one
    /// that complements help.
    fn first_zero_unprotected(
        table: &Table,
        relations: &Relations,
        lp: &Lp,
        group: &[CellId],
        exempted: &mut bool,
    ) -> Option<CellId> {
        let mut zeros: Vec<usize> = (0..group.len())
            .filter(|i| table.values[group[*i].0] == 0)
            .collect();
        let mut counts_hidden = None;
        loop {
            let cell = lp.first_unprotected(group, 2, zeros.iter().copied())?;
            // A `false` from `protects` past the budget is no answer: do not read it as "no
            // complement could help" and drop the zero.
            if super::lp::exhausted() {
                return Some(cell);
            }
            let alone = counts_hidden.get_or_insert_with(|| table.with_every_count_hidden());
            // Nor is a `false` that rests on a solve without an answer (a branch and bound
            // cut short, a solver error): only a proof that it is pinned drops the zero.
            super::lp::take_undecided();
            if protects(alone, 2, relations, cell) || super::lp::take_undecided() {
                return Some(cell);
            }
            *exempted = true;
            zeros.retain(|i| group[*i] != cell);
        }
    }
}

/// Whether the audit finds `cell` protected (its range covers 1..k−1).
pub(super) fn protects(table: &Table, k: u64, relations: &Relations, cell: CellId) -> bool {
    let mut group = vec![cell];
    let mut seen = HashSet::from([cell]);
    let mut next = 0;
    while let Some(c) = group.get(next).copied() {
        next += 1;
        for linked in relations.of(c).flat_map(|r| r.cells()) {
            if table.suppressed[linked.0] && seen.insert(linked) {
                group.push(linked);
            }
        }
    }
    group.sort_unstable();
    let at = group.iter().position(|c| *c == cell);
    // A hidden zero needs only to be able to be 1 (see `unprotected`).
    let k = if table.values[cell.0] == 0 { 2 } else { k };
    Lp::new(relations, table, &group)
        .first_unprotected(&group, k, at)
        .is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proof_counts_as_pinned_a_solve_without_an_answer_is_marked() {
        // 13 shown = a (3, hidden) + b (10 shown): a is pinned at 3, and the solver proves
        // it (the program with a fixed at 1 is infeasible).
        let mut t = Table::new();
        let (total, a, b) = (t.cell(13), t.cell(3), t.cell(10));
        t.equation(total, vec![a, b]);
        t.suppressed[a.0] = true;
        let relations = Relations::new(&t);
        super::super::lp::take_undecided();
        assert!(!protects(&t, 11, &relations, a));
        assert!(!super::super::lp::take_undecided(), "a proof, not a guess");
        // The same question whose solves end without an answer: still not protected, but
        // marked, so the audit does not read it as "no complement could help".
        let answered = super::super::lp::with_undecided_solves(|| protects(&t, 11, &relations, a));
        assert!(!answered);
        assert!(super::super::lp::take_undecided());
        // With b hidden too, a can be 1 or 10: protected, by a witness, no solve needed.
        t.suppressed[b.0] = true;
        assert!(protects(&t, 11, &relations, a));
    }
}
