//! The rules applied one relation at a time, before each audit:
//! - A hidden cell on the upper side of a relation (a total, or the greater side of an
//!   inequality) hides the zeros on its lower side: zeros shown beside one hidden part would
//!   tell that every counted event falls in that part (`cases_closed` hidden beside
//!   `cases_closed_lost_contact` hidden and every other outcome 0), and `referrals_received`
//!   hidden beside `accepted = declined = withdrawn = 0` that every referral is pending. (The
//!   non-zero shown parts stay shown; a hidden total is then not their sum, since a hidden
//!   zero may be anything.) A zero that another relation shows to be 0 anyway stays shown.
//! - Under a shown total, the hidden parts add up to the total minus the shown parts, which
//!   anyone can compute, and each hidden part is at least 1 (zeros are shown there, unless
//!   another relation hid them, which only widens the range). So there must be none, or at
//!   least two adding up to k or more: one alone is its exact value, and `[11, 1, 1]` under a
//!   total of 13 leaves `1 + 1 = 2`, so both are 1. Otherwise the smallest non-zero shown part
//!   is suppressed too, or, if there is none, the total.
//! - A hidden total is not the sum of shown parts alone: one part at least goes with it.
//!
//! They settle most tables by themselves; the audit catches what they miss across relations.

use super::{CellId, Equation, Relations, Table};

impl Table {
    /// Applies the rules until nothing changes.
    pub(super) fn apply_rules(&mut self, k: u64, relations: &Relations) {
        while self.rules_once(k, relations) {}
    }

    /// One pass over the relations; whether anything was newly suppressed.
    fn rules_once(&mut self, k: u64, relations: &Relations) -> bool {
        let mut changed = false;
        for relation in relations.all.iter().filter(|r| !r.equal) {
            changed |= self.hide_zeros(&relation.upper, &relation.lower, relations);
        }
        for i in 0..self.equations.len() {
            let eq = &self.equations[i];
            let (total, parts) = (eq.total, eq.parts.clone());
            // Before the check below: a hidden zero is a hidden part.
            changed |= self.hide_zeros(&[total], &parts, relations);
            let eq = &self.equations[i];
            let total_hidden = self.suppressed[eq.total.0];
            let hidden: Vec<u64> = eq
                .parts
                .iter()
                .filter(|c| self.suppressed[c.0])
                .map(|c| self.values[c.0])
                .collect();
            let safe = if total_hidden {
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

    /// Hides the zeros of `lower` if a cell of `upper` is hidden (unless shown to be 0 anyway);
    /// whether any was newly hidden.
    fn hide_zeros(&mut self, upper: &[CellId], lower: &[CellId], relations: &Relations) -> bool {
        if !upper.iter().any(|c| self.suppressed[c.0]) {
            return false;
        }
        let mut changed = false;
        for cell in lower {
            if self.values[cell.0] == 0
                && !self.suppressed[cell.0]
                && !relations.pinned_zero(self, *cell)
            {
                self.suppressed[cell.0] = true;
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
