//! The audit on its own: the chains of relations a black-box privacy review used to recover
//! small cells that the rules, applied one relation at a time, had left recoverable.

use super::ranges::{assert_protected, range};
use super::table::breakdown;
use crate::reports::suppression::Table;

#[test]
fn a_chain_of_two_breakdowns_does_not_pin_a_small_cell() {
    // answered 30 = te_yes 1 + te_no 29, te_no = support_yes 29 + support_no 0. The rules hide
    // te_no with te_yes, and support_no (0) under the hidden te_no; every equation then has
    // two hidden cells. But te_no = 29 + support_no ≥ 29, so te_yes = 30 − te_no ≤ 1.
    let mut t = Table::new();
    let answered = t.cell(30);
    let (te_yes, te_no) = (t.cell(1), t.cell(29));
    t.equation(answered, vec![te_yes, te_no]);
    let (support_yes, support_no) = (t.cell(29), t.cell(0));
    t.equation(te_no, vec![support_yes, support_no]);
    t.suppress(11);
    assert!(t.is_suppressed(te_yes) && t.is_suppressed(te_no) && t.is_suppressed(support_no));
    // The 29 of support offered goes too (a part, not the total 30 of every breakdown).
    assert!(t.is_suppressed(support_yes));
    assert!(!t.is_suppressed(answered));
    assert_eq!(range(&t, te_yes), (1, 29));
    assert_protected(&t, 11);
}

#[test]
fn an_inequality_beside_a_column_does_not_pin_small_cells() {
    // inquiries_sent 32 = received a 0 + b 1 + c 1 + d 0 + e 30; e answered 30 of them. The
    // rules hide e's 30 with b and c (three hidden cells adding up to 32). But answered ≤
    // received: e ≥ 30, so b + c ≤ 2 with each at least 1, so b = c = 1.
    let mut t = Table::new();
    let received: Vec<_> = [0, 1, 1, 0, 30].iter().map(|v| t.cell(*v)).collect();
    let sent = t.cell(32);
    t.equation(sent, received.clone());
    let answered: Vec<_> = [0, 1, 0, 0, 30].iter().map(|v| t.cell(*v)).collect();
    for (a, r) in answered.iter().zip(&received) {
        t.at_most(vec![*a], vec![*r]);
    }
    t.suppress(11);
    let (b, c, e) = (received[1], received[2], received[4]);
    assert!(t.is_suppressed(b) && t.is_suppressed(c) && t.is_suppressed(e));
    // b's and c's answers (0 and 1) are hidden with the received counts they are at most.
    assert!(t.is_suppressed(answered[1]) && t.is_suppressed(answered[2]));
    // e's 30 answers go too, the smallest shown cell next to b's neighbours, so e ≥ 30 is no
    // longer known.
    assert!(t.is_suppressed(answered[4]));
    assert!(range(&t, b).1 >= 10);
    assert_protected(&t, 11);
}

#[test]
fn an_inequality_alone_must_not_narrow_a_small_total() {
    // received 2 ≥ accepted 1 + declined 1: were the two known to be at least 1 (not hidden
    // zeros), received ≥ 2 would be known. The zeros of an inequality hide with its greater
    // side, so a hidden lesser cell may be 0 as far as anyone can tell.
    let mut t = Table::new();
    let (received, accepted, declined) = (t.cell(2), t.cell(1), t.cell(1));
    t.at_most(vec![accepted, declined], vec![received]);
    let withdrawn = t.cell(0);
    t.at_most(vec![withdrawn], vec![received]);
    t.suppress(11);
    assert!(t.is_suppressed(withdrawn));
    assert_eq!(range(&t, received).0, 1);
    assert_protected(&t, 11);
}

#[test]
fn known_non_zero_neighbours_narrow_a_cell() {
    // 11 = 1 + 1 + 9, all small: with each hidden part at least 1, a ≤ 11 − 2 = 9 < 10. The
    // total hides too, and with it the parts may be zeros.
    let mut t = Table::new();
    let (total, _) = breakdown(&mut t, &[1, 1, 9]);
    t.suppress(11);
    assert!(t.is_suppressed(total));
    assert_protected(&t, 11);
}

#[test]
fn a_hidden_zero_is_not_left_provably_zero() {
    // T = a + z (z = 0, hidden under the hidden T), and two shown totals S = T + y and
    // S2 = a + y: T = S − y = a, so z = 0 whatever is hidden, though T, a and y each keep
    // their range (k = 5). That would tell that every event T counts falls in a.
    let mut t = Table::new();
    let (a, z, y) = (t.cell(3), t.cell(0), t.cell(4));
    let total = t.cell(3);
    t.equation(total, vec![a, z]);
    let s = t.cell(7);
    t.equation(s, vec![total, y]);
    let s2 = t.cell(7);
    t.equation(s2, vec![a, y]);
    t.suppress(5);
    assert!(t.is_suppressed(z));
    assert!(
        t.is_suppressed(s) != t.is_suppressed(s2),
        "one of the two, not both"
    );
    assert!(range(&t, z).1 >= 1, "z is shown to be 0");
    assert_protected(&t, 5);
}

#[test]
fn a_hidden_zero_its_shown_parts_already_tell_takes_nothing_more() {
    // services 0 = medical 0 + legal 0, both shown (each + withdrawn 7 ≤ received 7 pins
    // them at 0 anyway); services ≤ 7 × accepted, accepted 2 hidden, hides the total. It
    // is 0 whatever is hidden, so hiding more for it would only cost (a review found each
    // round of the audit taking one more useless cell).
    let mut t = Table::new();
    let (received, withdrawn, accepted) = (t.cell(7), t.cell(7), t.cell(2));
    t.at_most(vec![accepted], vec![received]);
    let (services, parts) = breakdown(&mut t, &[0, 0]);
    for part in &parts {
        t.at_most(vec![*part, withdrawn], vec![received]);
    }
    t.at_most_times(vec![services], 7, vec![accepted]);
    t.suppress(5);
    assert!(t.is_suppressed(accepted) && t.is_suppressed(services));
    assert!(!t.is_suppressed(received) && !t.is_suppressed(withdrawn));
    assert!(parts.iter().all(|p| !t.is_suppressed(*p)));
    assert_protected(&t, 5);
}

#[test]
fn a_hidden_zero_total_with_hidden_zero_parts_is_not_left_provably_zero() {
    // S 14 = T + y + m, S2 14 = y + m, T ≤ y, T 0 = a + z (k = 5). The rules hide y (4), m
    // as its complement, T under the hidden y, and a and z under the hidden T. S − S2 pins
    // T at 0, and its hidden parts with it; hiding S or S2 frees them. (A review found the
    // first exemption of zeros "no complement can help" wrongly showing the hidden parts.)
    let mut t = Table::new();
    let (a, z) = (t.cell(0), t.cell(0));
    let total = t.cell(0);
    t.equation(total, vec![a, z]);
    let (y, m) = (t.cell(4), t.cell(10));
    let s = t.cell(14);
    t.equation(s, vec![total, y, m]);
    let s2 = t.cell(14);
    t.equation(s2, vec![y, m]);
    t.at_most(vec![total], vec![y]);
    t.suppress(5);
    assert!([y, m, total, a, z].iter().all(|c| t.is_suppressed(*c)));
    assert!(t.is_suppressed(s) || t.is_suppressed(s2));
    assert!(range(&t, total).1 >= 1, "T is shown to be 0");
    assert_protected(&t, 5);
}
