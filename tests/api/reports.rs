//! The report endpoints: a fixture log written through the API with counts worked out by
//! hand (k = 11), who may read reports, input validation, and CSV that reads back as the JSON.

use caseledger::client;
use caseledger::envelope::KeyFile;
use chrono::{Datelike, Duration, Utc};
use serde_json::{json, Value};

use caseledger::http::Limits;
use caseledger::reports::{PeriodPolicy, ReportConfig};

use crate::helpers::{spawn_app, spawn_app_configured, TestApp};

const S: &str = "suppressed";

struct Fixture {
    app: TestApp,
    evaluator: String,
}

fn case_events(key: &KeyFile, stream: &str, n: u32) -> Vec<Value> {
    let mut events = vec![
        (
            "case.opened",
            json!({"owner_agency": "harbor", "coordinator": "maria", "needs": ["medical"], "minor": false}),
        ),
        (
            "consent.granted",
            json!({
            "consent_id": "c1", "purposes": ["inquiry", "referral"], "recipients": ["alpha", "beta", "gamma"],
            "data_categories": ["contact"], "valid_until": "2030-01-01T00:00:00Z", "method": "written",
            "language": "es", "interpreter": {"used": false}, "notice_version": "v1"}),
        ),
    ];
    let inquiry = |id: &str, agency: &str| {
        json!({"inquiry_id": id, "agency": agency, "consent_id": "c1",
        "asks": ["can_help"], "domains": ["medical"], "cultural_needs": []})
    };
    let answer = |id: &str, agency: &str, can_help: &str, experience: bool| {
        json!({"inquiry_id": id,
        "can_help": can_help, "trafficking_experience": experience, "services_available": ["medical"],
        "cultural_adaptation": true, "interpretation_languages": ["es"], "eligible": "yes",
        "unmet_criteria": [], "support_offered": !experience, "recorded_for": agency})
    };
    if n < 12 {
        events.push(("inquiry.sent", inquiry("qa", "alpha")));
        events.push(("inquiry.answered", answer("qa", "alpha", "yes", true)));
    } else if n < 15 {
        events.push(("inquiry.sent", inquiry("qb", "beta")));
        if n < 14 {
            events.push(("inquiry.answered", answer("qb", "beta", "no", false)));
        }
    }
    if n < 14 {
        events.push(("inquiry.sent", inquiry("qg", "gamma")));
    }
    events.push((
        "referral.made",
        json!({"referral_id": "r1", "agency": "alpha", "consent_id": "c1",
        "domains": ["medical"], "data_shared": ["contact"]}),
    ));
    events.push(match n {
        0..=3 => (
            "referral.accepted",
            json!({"referral_id": "r1", "recorded_for": "alpha"}),
        ),
        4..=16 => (
            "referral.declined",
            json!({"referral_id": "r1", "reason": "no_capacity", "recorded_for": "alpha"}),
        ),
        _ => (
            "referral.declined",
            json!({"referral_id": "r1", "reason": "not_eligible", "recorded_for": "alpha"}),
        ),
    });
    if n < 2 {
        events.push((
            "referral.services_started",
            json!({"referral_id": "r1", "domains": ["medical"], "recorded_for": "alpha"}),
        ));
    }
    if n < 3 {
        events.push(("case.closed", json!({"outcome": "services_completed"})));
    }
    events
        .into_iter()
        .map(|(kind, data)| {
            let env = client::signed_event(key, kind, stream, data, Utc::now());
            serde_json::to_value(env).expect("json")
        })
        .collect()
}

/// The same story as the unit known-answer test: 20 cases; inquiries 12 to alpha (answered),
/// 3 to beta (2 answered), 14 to gamma; 20 referrals to alpha, 4 accepted and 16 declined
/// (13 no_capacity, 3 not_eligible); services start in 2 cases; 3 cases close.
fn fixture() -> Fixture {
    let app = spawn_app();
    for agency in ["harbor", "alpha", "beta", "gamma"] {
        app.register_agency(agency);
    }
    let (maria, maria_token) = app.register_principal("maria", "harbor", &["caseworker"]);
    for n in 0..20u32 {
        let stream = format!("case-00000000-0000-4000-8000-{n:012}");
        let body = json!({"events": case_events(&maria, &stream, n)});
        let r = app.post_json("/v1/events/batch", Some(&maria_token), &body);
        assert_eq!(r.status, 201, "case {n}: {}", r.text);
    }
    let (_, evaluator) = app.register_principal("eva", "oversight", &["evaluator"]);
    Fixture { app, evaluator }
}

fn period() -> String {
    let today = Utc::now().date_naive();
    format!(
        "from={}&to={}",
        today - Duration::days(1),
        today + Duration::days(1)
    )
}

fn agency<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["agencies"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agency"] == id))
        .unwrap_or_else(|| panic!("no row for {id}: {report}"))
}

#[test]
fn the_agency_report_matches_the_hand_count() {
    let f = fixture();
    let r = f.app.get(
        &format!("/v1/reports/agencies?{}", period()),
        Some(&f.evaluator),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["suppression"]["k"], 11);
    let alpha = agency(&r.json, "alpha");
    // Beta's 3 inquiries are hidden; the column sums to the shown inquiries_sent (29), so the
    // next-smallest cell of the column, alpha's 12, is hidden with it. Alpha's 12 answers tell
    // it received at least 12, so gamma's 14 is hidden too: else beta's ≤ 29 − 14 − 12 = 3.
    assert_eq!(alpha["inquiries_received"], S);
    assert_eq!(agency(&r.json, "beta")["inquiries_received"], S);
    assert_eq!(agency(&r.json, "gamma")["inquiries_received"], S);
    assert_eq!(alpha["inquiries_answered"], 12);
    assert_eq!(alpha["can_help_yes"], 12);
    assert_eq!(alpha["can_help_rate"], 1.0);
    assert!(alpha["response_time_median_seconds"].is_u64());
    assert_eq!(alpha["interpretation_languages"], json!(["es"]));
    assert_eq!(alpha["referrals_received"], 20);
    assert_eq!(alpha["referrals_accepted"], S);
    assert_eq!(alpha["time_to_accept_median_seconds"], S);
    // One reason (not_eligible, 3) is below k, so the other non-zero reason is hidden with
    // it. The total is hidden too: 16 declined of 20 received would tell that at most 4 were
    // accepted (accepted + declined ≤ received), and 4 is the true count. Its zero reasons go
    // with it.
    assert_eq!(alpha["referrals_declined"], S);
    assert_eq!(alpha["declined_not_eligible"], S);
    assert_eq!(alpha["declined_no_capacity"], S);
    assert_eq!(alpha["declined_client_declined"], S);
    assert_eq!(alpha["services_started_medical"], S);
    let beta = agency(&r.json, "beta");
    assert_eq!(
        (
            beta["inquiries_answered"].as_str(),
            beta["can_help_rate"].as_str()
        ),
        (Some(S), Some(S))
    );
    assert!(
        !r.text.contains("00000000-0000-4000-8000"),
        "no case id may appear"
    );
}

#[test]
fn the_program_report_matches_the_hand_count() {
    let f = fixture();
    let r = f.app.get(
        &format!("/v1/reports/program?{}", period()),
        Some(&f.evaluator),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &r.json["program"];
    assert_eq!(p["cases_opened"], 20);
    assert_eq!(p["consents_granted"], 20);
    assert_eq!(p["inquiries_sent"], 29);
    assert_eq!(p["inquiry_domain_medical"], 29);
    assert_eq!(p["referrals_made"], 20);
    assert_eq!(p["referrals_per_case"], 1.0);
    assert_eq!(p["cases_closed"], S);
    assert_eq!(p["cases_first_service"], S);
    assert_eq!(p["time_to_first_service_median_seconds"], S);
}

/// A CSV cell as the JSON value it stands for, by the field's documented type.
fn cell(kind: &str, text: &str) -> Value {
    match (kind, text) {
        (_, "suppressed") => json!(S),
        ("text", t) => json!(t),
        ("list", "") => json!([]),
        ("list", t) => json!(t.split(';').collect::<Vec<_>>()),
        (_, "") => Value::Null,
        ("rate", t) => json!(t.parse::<f64>().expect("decimal")),
        (_, t) => json!(t.parse::<u64>().expect("number")),
    }
}

#[test]
fn the_csv_reads_back_as_the_json() {
    let f = fixture();
    let json = f.app.get(
        &format!("/v1/reports/agencies?{}", period()),
        Some(&f.evaluator),
    );
    let csv_resp = f.app.get(
        &format!("/v1/reports/agencies?{}&format=csv", period()),
        Some(&f.evaluator),
    );
    assert_eq!(csv_resp.status, 200);
    assert!(
        csv_resp.content_type.starts_with("text/csv"),
        "{}",
        csv_resp.content_type
    );
    let kinds: Vec<String> = json.json["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["type"].as_str().expect("type").to_owned())
        .collect();
    let mut reader = csv::Reader::from_reader(csv_resp.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Value> = reader
        .records()
        .map(|rec| {
            let rec = rec.expect("RFC 4180 record");
            let obj: serde_json::Map<String, Value> = header
                .iter()
                .zip(&kinds)
                .zip(rec.iter())
                .map(|((h, k), t)| (h.clone(), cell(k, t)))
                .collect();
            Value::Object(obj)
        })
        .collect();
    assert_eq!(rows.len(), 4, "one row per agency");
    assert_eq!(Value::Array(rows), json.json["agencies"]);
}

#[test]
fn only_evaluators_and_auditors_may_read_reports() {
    let app = spawn_app();
    app.register_agency("harbor");
    let (_, caseworker) = app.register_principal("cw", "harbor", &["caseworker", "supervisor"]);
    let (_, auditor) = app.register_principal("aud", "oversight", &["auditor"]);
    let (_, evaluator) = app.register_principal("eva", "oversight", &["evaluator"]);
    for path in ["agencies", "program"] {
        let url = format!("/v1/reports/{path}?{}", period());
        for refused in [&caseworker, &app.admin_token] {
            let r = app.get(&url, Some(refused));
            assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
            assert!(r.content_type.starts_with("application/problem+json"));
            // Refused before the query is read, whatever it holds.
            let r = app.get(&format!("/v1/reports/{path}?form=csv"), Some(refused));
            assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
        }
        assert_eq!(app.get(&url, None).status, 401);
        assert_eq!(app.get(&url, Some(&auditor)).status, 200);
        assert_eq!(app.get(&url, Some(&evaluator)).status, 200);
    }
}

#[test]
fn bad_periods_and_formats_are_refused() {
    let app = spawn_app();
    let (_, evaluator) = app.register_principal("eva", "oversight", &["evaluator"]);
    for query in [
        "to=2026-01-31",
        "from=2026-01-01",
        "from=2026-02-01&to=2026-01-31",
        "from=2026-13-01&to=2026-12-31",
        "from=2026-1-1&to=2026-12-31",
        "from=2026-01-01T00:00:00Z&to=2026-12-31",
        "from=2026-01-01&to=2026-12-31&format=xml",
        "from=2026-01-01&to=2026-12-31&form=csv",
    ] {
        let r = app.get(&format!("/v1/reports/agencies?{query}"), Some(&evaluator));
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{query}: {}",
            r.text
        );
    }
}

#[test]
fn a_server_publishing_whole_months_refuses_any_other_period() {
    let app = spawn_app_configured(
        Limits::default(),
        ReportConfig::default().with_periods(PeriodPolicy::Month),
    );
    let (_, evaluator) = app.register_principal("eva", "oversight", &["evaluator"]);
    let today = Utc::now().date_naive();
    // A month is answered from the second day after it ends.
    let unsettled = today.pred_opt().expect("a day before");
    let this_month = unsettled.with_day(1).expect("first day");
    let last_month_end = this_month.pred_opt().expect("a day before");
    let last_month = last_month_end.with_day(1).expect("first day");
    let this_month_end = this_month
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .expect("last day");
    let whole_last_month = format!("from={last_month}&to={last_month_end}");
    for path in ["agencies", "program"] {
        for refused in [
            // The month has not ended: its figures would still change as events arrive.
            format!("from={this_month}&to={this_month_end}"),
            format!("from={last_month}&to={today}"),
            // Overlapping ranges of days, which could be subtracted from each other.
            format!(
                "from={last_month}&to={}",
                last_month_end.pred_opt().expect("a day")
            ),
            format!(
                "from={}&to={last_month_end}",
                last_month.succ_opt().expect("a day")
            ),
            // Two months, which a month's report could be subtracted from.
            format!(
                "from={}&to={last_month_end}",
                last_month
                    .checked_sub_months(chrono::Months::new(1))
                    .expect("a month before")
            ),
        ] {
            let r = app.get(&format!("/v1/reports/{path}?{refused}"), Some(&evaluator));
            assert_eq!(
                (r.status, r.code()),
                (400, "bad_request"),
                "{refused}: {}",
                r.text
            );
            assert!(r.content_type.starts_with("application/problem+json"));
            // The refusal names a period the server would answer.
            assert!(
                r.json["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&whole_last_month)),
                "{}",
                r.text
            );
        }
        let r = app.get(
            &format!("/v1/reports/{path}?{whole_last_month}"),
            Some(&evaluator),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

#[test]
fn the_projection_reports_its_position_and_lag_in_metrics() {
    let app = spawn_app();
    let (_, evaluator) = app.register_principal("eva", "oversight", &["evaluator"]);
    // A report waits for the projection to fold everything committed before it.
    let r = app.get(
        &format!("/v1/reports/program?{}", period()),
        Some(&evaluator),
    );
    assert_eq!(r.json["log_size"], app.log_size());
    let metrics = app.get("/metrics", None).text;
    let position = metrics
        .lines()
        .find_map(|l| l.strip_prefix("caseledger_reports_projection_position "))
        .expect("position gauge");
    assert!(
        position.parse::<u64>().expect("a number") >= r.json["log_size"].as_u64().expect("size")
    );
    assert!(metrics.contains("caseledger_reports_projection_lag"));
}
