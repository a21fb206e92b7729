//! Which shown cell to suppress beside a primary cell the audit found unprotected.
//!
//! The candidates are the non-zero shown cells of the relations the cell is in, and of those
//! its hidden neighbours (the hidden cells sharing a relation with it) are in; if there are
//! none, those of its whole group. The 16 first by ring, then not a total, then the
//! smallest are each tried on a copy: suppressing it, then the rules, hides some number of
//! cells (hiding a total takes its zeros and a part of each breakdown;
//! hiding one cell of a column can take the column total). They are ranked by that number,
//! then cells that are no equation's total (a total tells more), then the cell's own
//! relations before its neighbours', then the smallest. Of the first few, the first that the
//! audit finds enough wins; if none is, the best-ranked of the cell's own relations, and a
//! later round adds what is still missing. In `30 = te_yes + te_no, te_no = 29 + support_no`
//! the 29 goes, not the 30. Zeros are never chosen: a hidden zero where the rules would not
//! hide one would break what the audit assumes the attacker knows (see the module
//! documentation).

use super::{audit, CellId, Relations, Table};

/// How many of the best-ranked candidates are tried with the audit.
const TRIES: usize = 4;
/// How many candidates, by ring, then not a total, then the smallest, are ranked by what
/// suppressing them costs.
const SHORTLIST: usize = 16;

/// The cell to suppress so that `target`, unprotected in `group`, may become protected.
pub(super) fn complement(
    table: &mut Table,
    k: u64,
    relations: &Relations,
    target: CellId,
    group: &[CellId],
) -> Option<CellId> {
    let near = relations.touching(&[target]);
    let neighbours: Vec<CellId> = near
        .iter()
        .flat_map(|r| relations.all[*r].cells())
        .filter(|c| *c != target && table.suppressed[c.0])
        .collect();
    let next = relations.touching(&neighbours);
    let candidates = |rings: &[&Vec<usize>]| -> Vec<(usize, CellId)> {
        let mut found: Vec<(usize, CellId)> = rings
            .iter()
            .enumerate()
            .flat_map(|(ring, rs)| rs.iter().map(move |r| (ring, *r)))
            .flat_map(|(ring, r)| relations.all[r].cells().map(move |c| (ring, c)))
            .filter(|(_, c)| !table.suppressed[c.0] && table.values[c.0] > 0)
            .collect();
        found.sort_unstable_by_key(|(ring, c)| (c.0, *ring));
        found.dedup_by_key(|(_, c)| *c);
        found
    };
    let mut found = candidates(&[&near, &next]);
    if found.is_empty() {
        found = candidates(&[&relations.touching(group)]);
    }
    let is_total = |c: CellId| relations.of(c).any(|r| r.equal && r.upper.contains(&c));
    // Trying a candidate re-runs the rules over the table; in a column of thousands of
    // agencies the rings hold thousands of cells, so only a shortlist by the cheap part of
    // the ranking is tried.
    found.sort_by_cached_key(|(ring, c)| (*ring, is_total(*c), table.values[c.0], c.0));
    found.truncate(SHORTLIST);
    let mut ranked: Vec<_> = found
        .into_iter()
        .map(|(ring, c)| {
            let cost = table.supposing(k, relations, c, |t, before| {
                (0..t.values.len())
                    .filter(|c| t.suppressed[*c] && !before[*c])
                    .count()
            });
            ((cost, is_total(c), ring, table.values[c.0], c.0), c)
        })
        .collect();
    ranked.sort_unstable();
    let enough = ranked.iter().take(TRIES).find(|(_, c)| {
        table.supposing(k, relations, *c, |t, _| {
            audit::protects(t, k, relations, target)
        })
    });
    let nearest = ranked.iter().min_by_key(|(key, _)| key.2);
    enough.or(nearest).map(|(_, c)| *c)
}

impl Table {
    /// `f` of the table with `cell` suppressed too and the rules applied, given the flags of
    /// before; the flags are then put back.
    fn supposing<R>(
        &mut self,
        k: u64,
        relations: &Relations,
        cell: CellId,
        f: impl FnOnce(&Table, &[bool]) -> R,
    ) -> R {
        let before = self.suppressed.clone();
        self.suppressed[cell.0] = true;
        self.apply_rules(k, relations);
        let result = f(self, &before);
        self.suppressed = before;
        result
    }
}
