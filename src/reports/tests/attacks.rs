//! The two recoveries a black-box privacy review made from reports that the per-relation
//! rules had passed, end to end: a log, the projection, the report as JSON (k = 11).

use serde_json::json;

use super::known_answer::{agency, answer, inquiry};
use super::{case, day, plus, reports, row, Log};

const S: &str = "suppressed";

/// A log with the agencies `ids` registered on 2026-03-01.
fn agencies(ids: &[&str]) -> Log {
    let mut log = Log::default();
    for id in ids {
        log.push(
            day(1),
            &format!("agency-{id}"),
            "agency.registered",
            agency(id),
        );
    }
    log
}

/// Case `n` opened on 2026-03-02 with an inquiry to `to`, answered if `answered` is given
/// as `(trafficking_experience, support_offered)`.
fn inquiry_case(log: &mut Log, n: u32, to: &str, answered: Option<(bool, bool)>) {
    let c = case(n);
    let at = |s: i64| plus(day(2), 3600 + 10 * i64::from(n) + s);
    let opened = json!({"owner_agency": "harbor", "coordinator": "maria", "needs": ["medical"],
        "minor": false});
    log.push(at(0), &c, "case.opened", opened);
    log.push(
        at(1),
        &c,
        "consent.granted",
        json!({
        "consent_id": "c1", "purposes": ["inquiry"], "recipients": "any", "data_categories": [],
        "valid_until": "2027-01-01T00:00:00Z", "method": "written", "language": "es",
        "interpreter": {"used": false}, "notice_version": "v1"}),
    );
    log.push(at(2), &c, "inquiry.sent", inquiry("q1", to));
    if let Some((experience, support)) = answered {
        log.push(
            at(3),
            &c,
            "inquiry.answered",
            answer("q1", "yes", experience, support),
        );
    }
}

#[test]
fn a_chain_of_breakdowns_in_one_row_does_not_pin_a_small_cell() {
    // 30 answers: 1 with trafficking experience, 29 without, all 29 offered support. The
    // rules hid te_yes (1), te_no (29, its complement) and support_no (0, under the hidden
    // te_no), and showed support_yes = 29: te_no = 29 + support_no ≥ 29, te_yes = 30 − te_no
    // ≤ 1, and a suppressed cell is at least 1, so te_yes = 1.
    let mut log = agencies(&["solo"]);
    for n in 0..30 {
        inquiry_case(&mut log, n, "solo", Some((n == 0, true)));
    }
    let (agencies, _) = reports(&log.sorted().projection(), 1, 31, 11);
    let solo = row(&agencies, "solo");
    assert_eq!(solo["inquiries_answered"], 30);
    assert_eq!(solo["trafficking_experience_yes"], S);
    assert_eq!(solo["trafficking_experience_no"], S);
    assert_eq!(solo["support_offered_no"], S);
    // The 29 goes too, so te_no is only known to be at least 1.
    assert_eq!(solo["support_offered_yes"], S);
}

#[test]
fn answers_beside_a_column_do_not_pin_small_cells() {
    // One inquiry each to b and c (unanswered), 30 to e (all answered), none to a and d, over
    // a period holding the whole log. The rules hid b, c and e's received counts (1 + 1 + 30
    // ≥ k) under inquiries_sent = 32 shown. But answered ≤ received: e's 30 answers put e at
    // 30 or more, leaving b + c ≤ 2, each at least 1: b = c = 1.
    let mut log = agencies(&["a", "b", "c", "d", "e"]);
    inquiry_case(&mut log, 0, "b", None);
    inquiry_case(&mut log, 1, "c", None);
    for n in 2..32 {
        inquiry_case(&mut log, n, "e", Some((true, false)));
    }
    let projection = log.sorted().projection();
    // From 2026-03-02 on holds the whole log as well as from 03-01.
    for from in [1, 2] {
        let (agencies, program) = reports(&projection, from, 31, 11);
        for id in ["b", "c", "e"] {
            assert_eq!(row(&agencies, id)["inquiries_received"], S, "{id}");
        }
        // Either the total or e's answers must go; the audit takes the total (fewer cells).
        assert_eq!(program["program"]["inquiries_sent"], S);
        assert_eq!(row(&agencies, "e")["inquiries_answered"], 30);
    }
}
