//! The checks the writer applies to new events only (invisible formatting characters,
//! languages listed twice), through a batch: named by event and field, nothing written.

use chrono::Utc;
use serde_json::json;

use crate::bad_input::agency_payload;
use crate::helpers::{agency_data, spawn_app_with};
use caseledger::client;
use caseledger::http::Limits;

#[test]
fn a_write_time_check_in_a_batch_names_the_event_and_field_and_writes_nothing() {
    let app = spawn_app_with(Limits::default());
    let register = agency_payload(&app, "b-ok");
    let mut data = agency_data("b-ok");
    data["name"] = json!("Agency\u{200B}b-ok");
    let update = client::payload(
        "agency.updated",
        "agency-b-ok",
        app.admin.principal.as_str(),
        data,
        Utc::now(),
    );
    let body = json!({"events": [
        client::sign_value(&app.admin, &register),
        client::sign_value(&app.admin, &update),
    ]});
    let before = app.log_size();
    let r = app.post_raw(
        "/v1/events/batch",
        Some(&app.admin_token),
        body.to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "schema_violation"),
        "{}",
        r.text
    );
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("events[1]: data.name:"), "{detail}");
    assert!(detail.contains("U+200B"), "{detail}");
    assert_eq!(
        app.log_size(),
        before,
        "the batch's first event was not written either"
    );
}
