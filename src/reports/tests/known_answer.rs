//! A hand-worked log (k = 11): every figure below is counted by hand from the log built here.

use serde_json::{json, Value};

use super::{case, day, plus, reports, row, Log};

const S: &str = "suppressed";

pub(super) fn agency(name: &str) -> Value {
    json!({
        "name": name, "region": "North", "domains": ["medical"], "languages": ["es"],
        "interpretation": true, "cultural_adaptations": [], "trafficking_experience": true,
        "eligibility": {"criteria": [], "notes": ""},
    })
}

pub(super) fn inquiry(id: &str, agency: &str) -> Value {
    json!({"inquiry_id": id, "agency": agency, "consent_id": "c1", "asks": ["can_help"],
           "domains": ["medical"], "cultural_needs": []})
}

pub(super) fn answer(id: &str, can_help: &str, experience: bool, support: bool) -> Value {
    json!({"inquiry_id": id, "can_help": can_help, "trafficking_experience": experience,
           "services_available": ["medical"], "cultural_adaptation": true,
           "interpretation_languages": ["es"], "eligible": "yes", "unmet_criteria": [],
           "support_offered": support})
}

/// 20 cases opened on 2026-03-02. Inquiries: 12 to alpha (all answered, after 1..12 minutes),
/// 3 to beta (2 answered), 14 to gamma. Referrals: 20 to alpha; on 03-03, 4 accepted and 16
/// declined (13 no_capacity, 3 not_eligible); on 03-04 services start in 2 cases and 3 cases
/// close.
pub(crate) fn log() -> Log {
    let mut log = Log::default();
    let t0 = plus(day(2), 9 * 3600);
    log.push(
        day(1),
        "agency-alpha",
        "agency.registered",
        agency("Alpha, \"North\" Clinic"),
    );
    log.push(day(1), "agency-beta", "agency.registered", agency("Beta"));
    log.push(day(1), "agency-gamma", "agency.registered", agency("Gamma"));
    for n in 0..20u32 {
        let c = case(n);
        let at = |s: i64| plus(t0, s);
        log.push(at(0), &c, "case.opened", json!({"owner_agency": "harbor", "coordinator": "maria", "needs": ["medical"], "minor": false}));
        log.push(at(1), &c, "consent.granted", json!({
            "consent_id": "c1", "purposes": ["inquiry", "referral"], "recipients": ["alpha", "beta", "gamma"],
            "data_categories": ["contact"], "valid_until": "2027-01-01T00:00:00Z", "method": "written",
            "language": "es", "interpreter": {"used": false}, "notice_version": "v1"}));
        if n < 12 {
            log.push(at(2), &c, "inquiry.sent", inquiry("qa", "alpha"));
            log.push(
                at(2 + 60 * (i64::from(n) + 1)),
                &c,
                "inquiry.answered",
                answer("qa", "yes", true, false),
            );
        } else if n < 15 {
            log.push(at(2), &c, "inquiry.sent", inquiry("qb", "beta"));
            if n < 14 {
                log.push(
                    at(100),
                    &c,
                    "inquiry.answered",
                    answer("qb", "no", false, true),
                );
            }
        }
        if n < 14 {
            log.push(at(3), &c, "inquiry.sent", inquiry("qg", "gamma"));
        }
        log.push(at(1000), &c, "referral.made", json!({"referral_id": "r1", "agency": "alpha", "consent_id": "c1", "domains": ["medical"], "data_shared": ["contact"]}));
        let next_day = plus(day(3), 3600 + i64::from(n));
        match n {
            0..=3 => log.push(
                next_day,
                &c,
                "referral.accepted",
                json!({"referral_id": "r1"}),
            ),
            4..=16 => log.push(
                next_day,
                &c,
                "referral.declined",
                json!({"referral_id": "r1", "reason": "no_capacity"}),
            ),
            _ => log.push(
                next_day,
                &c,
                "referral.declined",
                json!({"referral_id": "r1", "reason": "not_eligible"}),
            ),
        }
        if n < 2 {
            log.push(
                plus(day(4), 60),
                &c,
                "referral.services_started",
                json!({"referral_id": "r1", "domains": ["medical"]}),
            );
        }
        if n < 3 {
            log.push(
                plus(day(4), 120),
                &c,
                "case.closed",
                json!({"outcome": "services_completed"}),
            );
        }
    }
    log.sorted()
}

#[test]
fn agency_rows_match_the_hand_count() {
    let (agencies, _) = reports(&log().projection(), 1, 31, 11);
    let alpha = row(&agencies, "alpha");
    assert_eq!(alpha["name"], "Alpha, \"North\" Clinic");
    // Shown 12 by itself, but beta's 3 is hidden in the column summing to inquiries_sent = 29,
    // so the next-smallest cell of that column (alpha's 12, not gamma's 14) is hidden too.
    // That was all until the audit: alpha's 12 answers tell that it received at least 12, so
    // beta received at most 29 − 14 − 12 = 3. Gamma's 14 is hidden too (the programme total
    // would not do alone: 29 inquiries asked about medical, so at least 29 were sent).
    assert_eq!(alpha["inquiries_received"], S);
    assert_eq!(row(&agencies, "beta")["inquiries_received"], S);
    assert_eq!(row(&agencies, "gamma")["inquiries_received"], S);
    assert_eq!(alpha["inquiries_answered"], 12);
    assert_eq!(alpha["can_help_yes"], 12);
    assert_eq!(alpha["can_help_no"], 0);
    assert_eq!(alpha["can_help_rate"], 1.0);
    // Response times 60, 120, ..., 720 s: nearest-rank median = 6th, p90 = 11th.
    assert_eq!(alpha["response_time_median_seconds"], 360);
    assert_eq!(alpha["response_time_p90_seconds"], 660);
    assert_eq!(alpha["interpretation_languages"], json!(["es"]));
    assert_eq!(alpha["referrals_received"], 20);
    assert_eq!(alpha["referrals_accepted"], S);
    assert_eq!(alpha["time_to_accept_median_seconds"], S);
    // Not shown as 16 any more (the audit, not the rules): accepted + declined ≤ received, so
    // 16 declined of 20 received would tell that at most 4 were accepted, and 4 is the true
    // count. With the total hidden, its zero reasons are hidden too.
    assert_eq!(alpha["referrals_declined"], S);
    assert_eq!(alpha["declined_not_eligible"], S);
    assert_eq!(alpha["declined_no_capacity"], S);
    assert_eq!(alpha["declined_other"], S);
    // A hidden total hides its whole breakdown, zeros too: a 0 beside the one hidden domain
    // would tell that every service started was medical.
    assert_eq!(alpha["services_started"], S);
    assert_eq!(alpha["services_started_medical"], S);
    assert_eq!(alpha["services_started_legal"], S);
}

#[test]
fn small_breakdowns_hide_their_rates_and_totals() {
    let (agencies, _) = reports(&log().projection(), 1, 31, 11);
    let beta = row(&agencies, "beta");
    assert_eq!(beta["inquiries_answered"], S);
    assert_eq!(beta["can_help_no"], S);
    assert_eq!(beta["can_help_rate"], S);
    assert_eq!(beta["response_time_median_seconds"], S);
    assert_eq!(beta["support_offered_yes"], S);
    // Hidden with the answer count: even an empty list would bound it.
    assert_eq!(beta["interpretation_languages"], S);
    // Gamma's 14 inquiries are hidden (beside beta's 3, see above), and with them its 0
    // answers (answered ≤ received: a 0 shown would tell that none was answered), so its rate
    // and median are hidden rather than null.
    let gamma = row(&agencies, "gamma");
    assert_eq!(gamma["inquiries_answered"], S);
    assert_eq!(gamma["can_help_rate"], S);
    assert_eq!(gamma["response_time_median_seconds"], S);
    // With no answers at all in the period, they are not applicable.
    let (agencies, _) = reports(&log().projection(), 20, 25, 11);
    let alpha = row(&agencies, "alpha");
    assert_eq!(alpha["inquiries_answered"], 0);
    assert_eq!(alpha["can_help_rate"], Value::Null);
    assert_eq!(alpha["response_time_median_seconds"], Value::Null);
}

#[test]
fn program_totals_match_the_hand_count() {
    let (_, program) = reports(&log().projection(), 1, 31, 11);
    let p = &program["program"];
    assert_eq!(p["cases_opened"], 20);
    assert_eq!(p["consents_granted"], 20);
    assert_eq!(p["consents_withdrawn"], 0);
    assert_eq!(p["inquiries_sent"], 29);
    assert_eq!(p["inquiry_domains"], 29);
    assert_eq!(p["inquiry_domain_medical"], 29);
    assert_eq!(p["referrals_made"], 20);
    assert_eq!(p["cases_with_referrals"], 20);
    assert_eq!(p["referrals_per_case"], 1.0);
    assert_eq!(p["cases_closed"], S);
    assert_eq!(p["cases_closed_services_completed"], S);
    // Reopened cases are at most the closed ones: a 0 beside the hidden 3 would tell that no
    // closed case was reopened.
    assert_eq!(p["cases_reopened"], S);
    assert_eq!(p["cases_first_service"], S);
    assert_eq!(p["time_to_first_service_median_seconds"], S);
}

#[test]
fn periods_count_events_on_their_own_days() {
    let projection = log().projection();
    // 2026-03-03 holds only the referral responses.
    let (agencies, program) = reports(&projection, 3, 3, 11);
    let alpha = row(&agencies, "alpha");
    assert_eq!(alpha["referrals_received"], 0);
    // The 20 referrals of the day before were all pending when the day began: 16 declined
    // would tell that at most 4 were accepted, as in the month's report.
    assert_eq!(alpha["referrals_declined"], S);
    assert_eq!(alpha["referrals_accepted"], S);
    assert_eq!(alpha["inquiries_answered"], 0);
    assert_eq!(program["program"]["cases_opened"], 0);
    // A period with no events reports zeros, not suppression.
    let (agencies, _) = reports(&projection, 20, 25, 11);
    assert_eq!(row(&agencies, "alpha")["referrals_declined"], 0);
}

#[test]
fn a_lower_threshold_shows_more() {
    let (agencies, _) = reports(&log().projection(), 1, 31, 5);
    let alpha = row(&agencies, "alpha");
    // With k = 5, 3 is still small but 12 and 13 are not: beta's 3 still needs a partner.
    assert_eq!(alpha["declined_no_capacity"], S);
    // Declined 16 of 20 bounds accepted at 4, which is k − 1 here: it tells no more than
    // "suppressed", so the total stays.
    assert_eq!(alpha["referrals_declined"], 16);
    // Still as for k = 11: alpha's 12 answers would bound beta's received at 3.
    assert_eq!(row(&agencies, "gamma")["inquiries_received"], S);
    assert_eq!(alpha["referrals_accepted"], S);
}
