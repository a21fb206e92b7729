//! Small-cell suppression over a table of counts and the equations between them.
//!
//! Primary: every count from 1 to k−1 is suppressed. Complementary, for every equation
//! `total = part + part + …` (a breakdown in a row, or a column of agencies summing to a
//! programme total):
//! - A suppressed total hides the zeros of its breakdown: zeros shown beside one hidden
//!   part would tell that every counted event falls in that part. (Its non-zero shown parts
//!   stay shown; the total is then not their sum, since a hidden zero may be anything.)
//! - Under a shown total, the hidden parts add up to the total minus the shown parts, which
//!   anyone can compute, and each hidden part is at least 1 (zeros are shown there, unless
//!   another equation hid them, which only widens the range). So there
//!   must be none, or at least two adding up to k or more: one alone is its exact value, and
//!   `[11, 1, 1]` under a total of 13 leaves `1 + 1 = 2`, so both are 1. Otherwise the
//!   smallest non-zero shown part is suppressed too, or, if there is none, the total.
//!
//! Repeated until nothing changes, since one suppression can unbalance another equation the
//! cell belongs to. Cells are only ever added, so it ends.
//!
//! What this does not do: an exact audit of every cell's feasible interval by linear
//! programming (as tau-argus offers). The tables here are a forest of row breakdowns under two
//! column equations, where the rules above leave each hidden cell a range of at least k
//! values among its equation's hidden cells.

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

/// Counts, their suppression flags, and the equations between them.
#[derive(Debug, Clone, Default)]
pub struct Table {
    values: Vec<u64>,
    suppressed: Vec<bool>,
    equations: Vec<Equation>,
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
            parts.iter().map(|p| self.value(*p)).sum::<u64>(),
            "an equation's parts must sum to its total"
        );
        self.equations.push(Equation { total, parts });
    }

    /// The true value of a cell.
    pub fn value(&self, id: CellId) -> u64 {
        self.values[id.0]
    }

    /// Whether a cell is suppressed.
    pub fn is_suppressed(&self, id: CellId) -> bool {
        self.suppressed[id.0]
    }

    /// The declared equations.
    pub fn equations(&self) -> &[Equation] {
        &self.equations
    }

    /// Applies primary and complementary suppression with threshold `k`.
    pub fn suppress(&mut self, k: u64) {
        for (value, hidden) in self.values.iter().zip(self.suppressed.iter_mut()) {
            *hidden = (1..k).contains(value);
        }
        while self.complement_once(k) {}
    }

    /// One pass over the equations; whether anything was newly suppressed.
    fn complement_once(&mut self, k: u64) -> bool {
        let mut changed = false;
        for i in 0..self.equations.len() {
            let eq = &self.equations[i];
            let total_hidden = self.suppressed[eq.total.0];
            if total_hidden {
                for part in &eq.parts {
                    if self.values[part.0] == 0 {
                        changed |= !std::mem::replace(&mut self.suppressed[part.0], true);
                    }
                }
            }
            let hidden: Vec<u64> = eq
                .parts
                .iter()
                .filter(|c| self.suppressed[c.0])
                .map(|c| self.values[c.0])
                .collect();
            let safe = if total_hidden {
                // Not the sum of shown parts alone.
                !hidden.is_empty()
            } else {
                hidden.is_empty() || (hidden.len() >= 2 && hidden.iter().sum::<u64>() >= k)
            };
            if safe {
                continue;
            }
            if let Some(pick) = self.complement_of(eq) {
                self.suppressed[pick.0] = true;
                changed = true;
            }
        }
        changed
    }

    /// The cell to suppress beside the single suppressed one: the smallest non-zero shown
    /// part, else the total.
    fn complement_of(&self, eq: &Equation) -> Option<CellId> {
        let shown = |c: &&CellId| !self.suppressed[c.0] && self.values[c.0] > 0;
        eq.parts
            .iter()
            .filter(shown)
            .min_by_key(|c| (self.values[c.0], c.0))
            .or_else(|| Some(&eq.total).filter(shown))
            .copied()
    }
}
