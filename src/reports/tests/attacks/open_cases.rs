//! A first service needs an open case: what was open when a period began, known from an
//! earlier report, must not pin the cases opened or referred in it.

use serde_json::json;

use super::*;

#[test]
fn first_services_do_not_pin_the_cases_opened_beside_what_was_open() {
    // A third review: a case's first service needs the case open (services_started is
    // refused on a closed one), so cases_first_service ≤ opened + reopened + open at the
    // start, and ≤ cases_with_referrals + reopened + open at the start (a case opened in
    // the period was referred in it). Undeclared, they let a reader who knows from an
    // earlier report what was open pin the hidden cells. 03-02: 25 cases opened and
    // referred to x, 11 closed on 03-05, so the report of 03-01..03-09 says 14 were open on
    // 03-10. 03-12: 10 more opened and referred; x accepts and serves all 24 open ones on
    // 03-15 and 03-16; 11 are closed on 03-20. In the report of 03-10..03-31 the 10 opened
    // (hidden) would be pinned: 24 first services ≤ opened + 0 reopened + 14.
    let mut log = agencies(&["x"]);
    let refer = |log: &mut Log, n: u32, on: u32| {
        let (c, at) = (case(n), plus(day(on), 3600 + 10 * i64::from(n)));
        opened_with_consent(log, &c, at, "referral", json!(["x"]));
        let made = json!({"referral_id": "r1", "agency": "x", "consent_id": "c1",
            "domains": ["medical"], "data_shared": []});
        log.push(plus(at, 2), &c, "referral.made", made);
    };
    let serve = |log: &mut Log, n: u32| {
        let (c, r) = (case(n), json!({"referral_id": "r1"}));
        log.push(plus(day(15), i64::from(n)), &c, "referral.accepted", r);
        let started = json!({"referral_id": "r1", "domains": ["medical"]});
        log.push(
            plus(day(16), i64::from(n)),
            &c,
            "referral.services_started",
            started,
        );
    };
    let close = |log: &mut Log, n: u32, on: u32| {
        let outcome = json!({"outcome": "services_completed"});
        log.push(
            plus(day(on), i64::from(n)),
            &case(n),
            "case.closed",
            outcome,
        );
    };
    for n in 0..25 {
        refer(&mut log, n, 2);
    }
    for n in 0..11 {
        close(&mut log, n, 5);
    }
    for n in 25..35 {
        refer(&mut log, n, 12);
    }
    for n in 11..35 {
        serve(&mut log, n);
    }
    for n in 11..22 {
        close(&mut log, n, 20);
    }
    let projection = log.sorted().projection();
    let (_, march) = reports(&projection, 1, 9, 11);
    let shown = |report: &serde_json::Value, cell: &str| report["program"][cell].as_u64();
    let open_at_start = match (
        shown(&march, "cases_opened"),
        shown(&march, "cases_reopened"),
        shown(&march, "cases_closed"),
    ) {
        (Some(o), Some(r), Some(c)) => Some(o + r - c),
        _ => None,
    };
    assert_eq!(open_at_start, Some(14), "{march}");
    assert_whole_table_protected(&projection, 10, 31);
    let (_, later) = reports(&projection, 10, 31, 11);
    for cell in ["cases_opened", "cases_with_referrals"] {
        assert_eq!(later["program"][cell], S, "{cell}: {later}");
        // The reader's least value of the hidden cell: first services less what was open
        // and what was reopened (a hidden one at least 1).
        let least = match (
            shown(&later, "cases_first_service"),
            shown(&later, "cases_reopened").or(Some(1)),
        ) {
            (Some(first), Some(reopened)) => first.saturating_sub(14 + reopened),
            _ => 0,
        };
        assert!(least <= 1, "{cell} is at least {least}: {later}");
    }
}
