//! The table's equations and inequalities in one form, indexed by cell, for the rules, the
//! audit and the choice of complements.

use super::{CellId, Table};

/// `Σ lower = Σ upper` (an equation: its parts, its total) or `Σ lower ≤ factor · (Σ upper +
/// carried)` (an inequality: its lesser side, its greater side, a known constant).
#[derive(Debug, Clone)]
pub(super) struct Relation {
    pub(super) lower: Vec<CellId>,
    pub(super) upper: Vec<CellId>,
    pub(super) factor: u64,
    pub(super) carried: u64,
    pub(super) equal: bool,
}

impl Relation {
    pub(super) fn cells(&self) -> impl Iterator<Item = CellId> + '_ {
        self.lower.iter().chain(&self.upper).copied()
    }
}

/// Every relation of a table, and for each cell the relations it is in.
pub(super) struct Relations {
    pub(super) all: Vec<Relation>,
    links: Vec<Vec<usize>>,
}

impl Relations {
    pub(super) fn new(table: &Table) -> Self {
        let equations = table.equations.iter().map(|e| Relation {
            lower: e.parts.clone(),
            upper: vec![e.total],
            factor: 1,
            carried: 0,
            equal: true,
        });
        let inequalities = table.inequalities.iter().map(|i| Relation {
            lower: i.lesser.clone(),
            upper: i.greater.clone(),
            factor: i.factor,
            carried: i.carried,
            equal: false,
        });
        let all: Vec<Relation> = equations.chain(inequalities).collect();
        let mut links = vec![Vec::new(); table.values.len()];
        for (i, relation) in all.iter().enumerate() {
            for cell in relation.cells() {
                if links[cell.0].last() != Some(&i) {
                    links[cell.0].push(i);
                }
            }
        }
        Self { all, links }
    }

    /// The relations `cell` is in.
    pub(super) fn of(&self, cell: CellId) -> impl Iterator<Item = &Relation> + '_ {
        self.links[cell.0].iter().map(|r| &self.all[*r])
    }

    /// The relations any of `cells` is in, each once, by index.
    pub(super) fn touching(&self, cells: &[CellId]) -> Vec<usize> {
        let mut relations: Vec<usize> = cells
            .iter()
            .flat_map(|c| &self.links[c.0])
            .copied()
            .collect();
        relations.sort_unstable();
        relations.dedup();
        relations
    }

    /// Whether a cell is on the lower side of a relation with a hidden cell on its upper
    /// side: where the rules hide zeros, so where a hidden cell may be a zero as far as an
    /// attacker can tell (anywhere else, zeros are shown).
    pub(super) fn may_be_zero(&self, table: &Table, cell: CellId) -> bool {
        self.of(cell)
            .any(|r| r.lower.contains(&cell) && r.upper.iter().any(|c| table.suppressed[c.0]))
    }

    /// Whether a cell is shown to be 0 whatever is hidden: on the lower side of a relation
    /// whose upper side is shown and adds up to no more than its shown lower cells, so that
    /// its hidden lower cells are all 0. Hiding such a zero would hide nothing.
    pub(super) fn pinned_zero(&self, table: &Table, cell: CellId) -> bool {
        let shown = |cells: &[CellId]| -> u64 {
            cells
                .iter()
                .filter(|c| !table.suppressed[c.0])
                .map(|c| table.values[c.0])
                .sum()
        };
        self.of(cell).any(|r| {
            r.lower.contains(&cell)
                && r.upper.iter().all(|c| !table.suppressed[c.0])
                && r.factor * (shown(&r.upper) + r.carried) <= shown(&r.lower)
        })
    }
}
