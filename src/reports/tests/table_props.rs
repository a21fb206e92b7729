//! Property test of the suppression table on its own: random small tables (counts around k,
//! zeros among them) with random equations, nested or crossing like a two-way table, and
//! random inequalities that hold. After suppression no count from 1 to k−1 is shown, and each
//! is hidden in a range covering 1..k−1, by the independent integer program of `ranges.rs`.

use proptest::prelude::*;

use super::props::generate::Rng;
use super::ranges::assert_protected;
use crate::reports::suppression::{CellId, Table};

fn count(rng: &mut Rng, k: u64) -> u64 {
    match rng.below(10) {
        0..=1 => 0,
        2..=5 => 1 + rng.below(k - 1),
        _ => k + rng.below(30),
    }
}

/// A total of `parts`, declared as an equation.
fn total(t: &mut Table, parts: Vec<CellId>) -> CellId {
    let sum = parts.iter().map(|c| t.value(*c)).sum();
    let total = t.cell(sum);
    t.equation(total, parts);
    total
}

/// A grid of `rows × cols` counts with row, column and grand totals.
fn grid(t: &mut Table, rng: &mut Rng, k: u64, rows: usize, cols: usize) -> Vec<CellId> {
    let cells: Vec<Vec<CellId>> = (0..rows)
        .map(|_| (0..cols).map(|_| t.cell(count(rng, k))).collect())
        .collect();
    let row_totals: Vec<CellId> = cells.iter().map(|r| total(t, r.clone())).collect();
    let col_totals: Vec<CellId> = (0..cols)
        .map(|j| total(t, cells.iter().map(|r| r[j]).collect()))
        .collect();
    let grand = total(t, row_totals.clone());
    t.equation(grand, col_totals.clone());
    let mut all: Vec<CellId> = cells.into_iter().flatten().collect();
    all.extend(row_totals.into_iter().chain(col_totals));
    all.push(grand);
    all
}

/// A random table shaped like the reports' (no cell counted twice in one total, which would
/// make some sums even whatever is hidden): a grid or loose counts, then breakdowns nested
/// over them (a new total of cells not yet in one) or beside them (a total split anew, like
/// `inquiries_answered` by `can_help` and by `trafficking_experience`), then inequalities.
fn random_table(seed: u64, k: u64) -> Table {
    let mut rng = Rng(seed);
    let mut t = Table::new();
    let mut cells = if rng.chance(30) {
        let (rows, cols) = (2 + rng.below(2) as usize, 2 + rng.below(2) as usize);
        grid(&mut t, &mut rng, k, rows, cols)
    } else {
        (0..3 + rng.below(5))
            .map(|_| t.cell(count(&mut rng, k)))
            .collect()
    };
    // The cells in no total yet (of a grid, its grand total, the last cell).
    let mut roots = if t.equations().is_empty() {
        cells.clone()
    } else {
        cells[cells.len() - 1..].to_vec()
    };
    for _ in 0..1 + rng.below(4) {
        if rng.chance(50) && roots.len() >= 2 {
            let parts: Vec<CellId> = rng.subset(&roots, 2).into_iter().take(4).collect();
            roots.retain(|c| !parts.contains(c));
            let sum = total(&mut t, parts);
            roots.push(sum);
            cells.push(sum);
        } else {
            let whole = rng.pick(&cells);
            let mut left = t.value(whole);
            let mut parts = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let n = rng.below(left + 1);
                parts.push(t.cell(n));
                left -= n;
            }
            parts.push(t.cell(left));
            t.equation(whole, parts.clone());
            cells.extend(parts);
        }
    }
    for _ in 0..rng.below(4) {
        let lesser: Vec<CellId> = rng.subset(&cells, 1).into_iter().take(2).collect();
        let rest: Vec<CellId> = cells
            .iter()
            .filter(|c| !lesser.contains(c))
            .copied()
            .collect();
        let greater: Vec<CellId> = rng.subset(&rest, 1).into_iter().take(2).collect();
        let sum = |cs: &[CellId]| cs.iter().map(|c| t.value(*c)).sum::<u64>();
        if sum(&lesser) <= sum(&greater) {
            t.at_most(lesser, greater);
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_tables_leave_every_small_cell_its_whole_range(seed in any::<u64>(), k in 5u64..=11) {
        let mut t = random_table(seed, k);
        t.suppress(k);
        assert_protected(&t, k);
    }
}
