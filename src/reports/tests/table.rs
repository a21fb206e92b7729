//! The suppression table on its own.

use crate::reports::suppression::{CellId, Table};

/// Cells of `parts` and their total, declared as an equation.
pub(super) fn breakdown(t: &mut Table, parts: &[u64]) -> (CellId, Vec<CellId>) {
    let cells: Vec<CellId> = parts.iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(parts.iter().sum());
    t.equation(total, cells.clone());
    (total, cells)
}

#[test]
fn counts_below_k_are_hidden_and_zero_and_k_are_shown() {
    let mut t = Table::new();
    let cells: Vec<_> = [0, 1, 10, 11, 500].iter().map(|v| t.cell(*v)).collect();
    t.suppress(11);
    let hidden: Vec<bool> = cells.iter().map(|c| t.is_suppressed(*c)).collect();
    assert_eq!(hidden, [false, true, true, false, false]);
}

#[test]
fn a_lone_small_part_takes_the_next_smallest_part_with_it() {
    let mut t = Table::new();
    let parts: Vec<_> = [3, 0, 40, 20].iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(63);
    t.equation(total, parts.clone());
    t.suppress(11);
    let hidden: Vec<bool> = parts.iter().map(|c| t.is_suppressed(*c)).collect();
    assert_eq!(hidden, [true, false, false, true]);
    assert!(!t.is_suppressed(total));
}

#[test]
fn with_no_other_non_zero_part_the_total_is_hidden() {
    let mut t = Table::new();
    let parts: Vec<_> = [3, 0, 0].iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(3);
    t.equation(total, parts.clone());
    t.suppress(11);
    assert!(t.is_suppressed(parts[0]) && t.is_suppressed(total));
    // A total of 30 whose only non-zero part would be... itself: nothing small, nothing hidden.
    let mut t = Table::new();
    let parts: Vec<_> = [30, 0].iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(30);
    t.equation(total, parts);
    t.suppress(11);
    assert!(!t.is_suppressed(total));
}

#[test]
fn complementary_suppression_cascades_across_equations() {
    // Row: declined (20) = a (12) + b (8). Column: all (35) = declined (20) + other row (15).
    let mut t = Table::new();
    let (a, b) = (t.cell(12), t.cell(8));
    let declined = t.cell(20);
    t.equation(declined, vec![a, b]);
    let other_row = t.cell(15);
    let all = t.cell(35);
    t.equation(all, vec![declined, other_row]);
    // The column already hides one cell for another reason: force it by a small third row.
    let small = t.cell(4);
    let all2 = t.cell(24);
    t.equation(all2, vec![declined, small]);
    t.suppress(11);
    // b is small; a hides with it. In the column all2, small (4) forces declined (20) hidden,
    // which leaves the column `all` with one hidden cell, so other_row (15) hides too.
    assert!(t.is_suppressed(b) && t.is_suppressed(a));
    assert!(t.is_suppressed(small) && t.is_suppressed(declined));
    assert!(t.is_suppressed(other_row));
    for eq in t.equations() {
        let hidden = std::iter::once(&eq.total)
            .chain(&eq.parts)
            .filter(|c| t.is_suppressed(**c))
            .count();
        assert_ne!(hidden, 1, "an equation with one hidden cell reveals it");
    }
}

#[test]
fn hidden_parts_that_add_up_to_less_than_k_take_another_part_with_them() {
    // 13 = 11 + 1 + 1: the two hidden ones add up to 13 − 11 = 2, so both would be 1.
    let mut t = Table::new();
    let parts: Vec<_> = [11, 1, 1, 0].iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(13);
    t.equation(total, parts.clone());
    t.suppress(11);
    let hidden: Vec<bool> = parts.iter().map(|c| t.is_suppressed(*c)).collect();
    assert_eq!(hidden, [true, true, true, false]);
    assert!(!t.is_suppressed(total));
}

#[test]
fn a_hidden_total_keeps_large_parts_shown_but_not_all_of_them() {
    // 97 hidden as a complement elsewhere, over 50 + 47: one of them goes with it (else 97
    // is their sum), the other stays shown.
    let mut t = Table::new();
    let parts: Vec<_> = [50, 47].iter().map(|v| t.cell(*v)).collect();
    let total = t.cell(97);
    let small = t.cell(3);
    let answered = t.cell(100);
    t.equation(answered, vec![small, total]);
    t.equation(total, parts.clone());
    t.suppress(11);
    assert!(t.is_suppressed(total) && t.is_suppressed(small));
    let hidden: Vec<bool> = parts.iter().map(|c| t.is_suppressed(*c)).collect();
    assert_eq!(hidden, [false, true]);
}

#[test]
fn a_hidden_total_hides_its_zeros_too() {
    // 3 = 3 + 0 + 0: shown zeros beside the hidden part would tell that all three fall in it.
    let mut t = Table::new();
    let (total, parts) = breakdown(&mut t, &[0, 3, 0]);
    t.suppress(11);
    assert!(t.is_suppressed(total));
    assert!(parts.iter().all(|c| t.is_suppressed(*c)));
}

#[test]
fn the_threshold_is_kept_between_5_and_1000() {
    use crate::reports::{ConfigError, ReportConfig};
    assert_eq!(ReportConfig::new(4), Err(ConfigError::KTooSmall(4)));
    assert_eq!(ReportConfig::new(1001), Err(ConfigError::KTooLarge(1001)));
    for k in [5, 11, 1000] {
        assert_eq!(ReportConfig::new(k).map(|c| c.k()), Ok(k));
    }
}
