//! JSON and CSV renderings agree, and the CSV is RFC 4180.

use serde_json::Value;

use super::known_answer_log;
use crate::reports::layout::ReportKind;
use crate::reports::render::{csv_field, csv_text, to_csv, to_json};
use crate::reports::{build, Period, ReportConfig};

/// A CSV cell read back as the JSON value it stands for.
fn cell_as_json(kind: &str, text: &str) -> Value {
    match (kind, text) {
        (_, "suppressed") => Value::from("suppressed"),
        ("text", t) => Value::from(t),
        ("list", "") => Value::Array(vec![]),
        ("list", t) => t.split(';').map(Value::from).collect(),
        (_, "") => Value::Null,
        ("rate", t) => Value::from(t.parse::<f64>().expect("a decimal")),
        (_, t) => Value::from(t.parse::<u64>().expect("a whole number")),
    }
}

/// Parses CSV with the `csv` crate and rebuilds the JSON rows from it.
pub(crate) fn csv_as_json_rows(csv_text: &str, fields: &Value) -> Vec<Value> {
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let kinds: Vec<&str> = fields
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        header.len(),
        kinds.len(),
        "one CSV column per documented field"
    );
    reader
        .records()
        .map(|record| {
            let record = record.expect("an RFC 4180 record");
            let row: serde_json::Map<String, Value> = header
                .iter()
                .zip(&kinds)
                .zip(record.iter())
                .map(|((key, kind), text)| (key.clone(), cell_as_json(kind, text)))
                .collect();
            Value::Object(row)
        })
        .collect()
}

#[test]
fn csv_reads_back_as_the_json_numbers() {
    let projection = known_answer_log().projection();
    let period = Period::parse(Some("2026-03-01"), Some("2026-03-31")).expect("period");
    let config = ReportConfig::default();
    for kind in [ReportKind::Agencies, ReportKind::Program] {
        let report = build(&projection, kind, &period, &config);
        let json = to_json(&report);
        let csv_text = to_csv(&report);
        assert!(csv_text.ends_with("\r\n") && csv_text.contains("\r\n"));
        let rows = csv_as_json_rows(&csv_text, &json["fields"]);
        let expected = match kind {
            ReportKind::Agencies => json["agencies"].as_array().expect("rows").clone(),
            ReportKind::Program => vec![json["program"].clone()],
        };
        assert_eq!(rows, expected);
    }
}

#[test]
fn csv_quotes_commas_quotes_and_line_breaks() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("two\r\nlines"), "\"two\r\nlines\"");
}

#[test]
fn json_explains_every_field_and_the_marker() {
    let projection = known_answer_log().projection();
    let period = Period::parse(Some("2026-03-01"), Some("2026-03-31")).expect("period");
    let report = build(
        &projection,
        ReportKind::Agencies,
        &period,
        &ReportConfig::default(),
    );
    let json = to_json(&report);
    assert_eq!(json["suppression"]["marker"], "suppressed");
    assert_eq!(json["suppression"]["k"], 11);
    let fields = json["fields"].as_array().expect("fields");
    for row in json["agencies"].as_array().expect("rows") {
        let keys: Vec<&String> = row.as_object().expect("row").keys().collect();
        assert_eq!(keys.len(), fields.len());
        for f in fields {
            let name = f["name"].as_str().expect("name");
            assert!(row.get(name).is_some(), "{name} documented but absent");
            assert!(!f["description"].as_str().expect("description").is_empty());
        }
    }
}

#[test]
fn json_rows_keep_the_column_order() {
    let projection = known_answer_log().projection();
    let period = Period::parse(Some("2026-03-01"), Some("2026-03-31")).expect("period");
    let report = build(
        &projection,
        ReportKind::Agencies,
        &period,
        &ReportConfig::default(),
    );
    let text = crate::reports::render::to_json_string(&report);
    let rows_at = text.find("\"agencies\":[").expect("rows");
    let positions: Vec<usize> = report
        .columns
        .iter()
        .map(|c| {
            rows_at
                + text[rows_at..]
                    .find(&format!("\"{}\":", c.key))
                    .expect("member")
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "members out of column order"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("valid JSON"),
        to_json(&report)
    );
}

#[test]
fn csv_text_that_a_spreadsheet_would_run_is_defused() {
    assert_eq!(csv_text("Harbor House"), "Harbor House");
    assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    for risky in ["+1", "-1", "@SUM(A1)", "\tx"] {
        assert_eq!(csv_text(risky), format!("'{risky}"), "{risky}");
    }
}
