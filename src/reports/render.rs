//! Rendering a [`Report`] as JSON (with a legend of every field and of the suppression marker)
//! or as RFC 4180 CSV (one header row, one row per agency, CRLF line ends).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::json;

use super::layout::{Report, ReportKind, Value};

/// What suppressed cells hold, in JSON and in CSV.
pub const SUPPRESSED: &str = "suppressed";

/// How the suppression is explained to readers, in the JSON `suppression` member.
fn suppression_legend(k: u64) -> serde_json::Value {
    json!({
        "k": k,
        "marker": SUPPRESSED,
        "reasons": [
            format!("small cell: the count is between 1 and {} (k - 1)", k - 1),
            "complementary: hidden so that a small cell cannot be recovered, or narrowed to \
             fewer than the values 1 to k - 1, from the shown cells through the breakdowns, the \
             column totals and the inequalities between counts (such as answers at most \
             inquiries)",
            "derived: a rate, median or percentile computed over a suppressed count",
        ],
        "note": "The marker does not say which reason applies, since that would narrow the \
                 hidden value. A 0 is shown as 0 unless it is a part of a suppressed total, or \
                 bounded by a suppressed count (answers by inquiries received, say): then it could \
                 tell that every counted event falls in another part. Where nothing else \
                 protects a small count, the cells related to it, or the whole report, are \
                 hidden, zeros included: a hidden cell may then be 0 anywhere. null (an empty \
                 CSV cell) means not applicable: a rate over 0, or a median of no observations.",
    })
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(text) => serializer.serialize_str(text),
            Value::Number(n) => serializer.serialize_u64(*n),
            Value::Decimal(x) => serializer.serialize_f64(*x),
            Value::List(items) => items.serialize(serializer),
            Value::Null => serializer.serialize_none(),
            Value::Suppressed => serializer.serialize_str(SUPPRESSED),
        }
    }
}

/// A row as a JSON object, members in column order.
struct RowObject<'a>(&'a Report, &'a [Value]);

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.1.len()))?;
        for (column, value) in self.0.columns.iter().zip(self.1) {
            map.serialize_entry(&column.key, value)?;
        }
        map.end()
    }
}

/// The legend: one `{name, type, description}` per column, in order.
struct Fields<'a>(&'a Report);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.columns.len()))?;
        for c in &self.0.columns {
            seq.serialize_element(&json!({
                "name": c.key, "type": c.kind.name(), "description": c.description,
            }))?;
        }
        seq.end()
    }
}

/// The whole JSON document; rows keep their members in column order when serialized
/// directly (a `serde_json::Value` would sort them).
pub struct JsonReport<'a>(pub &'a Report);

impl Serialize for JsonReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("report", report.kind.name())?;
        map.serialize_entry(
            "period",
            &json!({
                "from": report.period.from().to_string(),
                "to": report.period.to().to_string(),
                "basis": "events counted on the UTC days from `from` to `to`, inclusive, by \
                          the server's recorded_at",
            }),
        )?;
        map.serialize_entry("log_size", &report.log_size)?;
        map.serialize_entry("suppression", &suppression_legend(report.k))?;
        map.serialize_entry("fields", &Fields(report))?;
        let rows: Vec<RowObject<'_>> = report.rows.iter().map(|r| RowObject(report, r)).collect();
        match report.kind {
            ReportKind::Agencies => map.serialize_entry(report.kind.name(), &rows)?,
            ReportKind::Program => map.serialize_entry(report.kind.name(), &rows.first())?,
        }
        map.end()
    }
}

/// The report as JSON text, members in column order.
pub fn to_json_string(report: &Report) -> String {
    // Plain maps, strings and numbers: serializing them cannot fail.
    serde_json::to_string(&JsonReport(report)).unwrap_or_default()
}

/// The report as a JSON value (members sorted; for tests and callers that inspect it).
pub fn to_json(report: &Report) -> serde_json::Value {
    serde_json::to_value(JsonReport(report)).unwrap_or_default()
}

/// One CSV field, quoted when RFC 4180 requires it (comma, quote, CR or LF), quotes doubled.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A text cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is
/// prefixed with `'`, as OWASP advises: agency names are chosen by an admin, and a report is
/// opened by someone else.
pub(crate) fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{text}"))
    } else {
        csv_field(text)
    }
}

fn csv_value(value: &Value) -> String {
    match value {
        Value::Text(text) => csv_text(text),
        Value::Number(n) => n.to_string(),
        // `Display` prints the shortest text that reads back as the same f64, like JSON.
        Value::Decimal(x) => x.to_string(),
        Value::List(items) => csv_field(&items.join(";")),
        Value::Null => String::new(),
        Value::Suppressed => SUPPRESSED.to_owned(),
    }
}

/// The report as RFC 4180 CSV: a header row of column keys, then one row per agency (or the
/// one programme row), each line ending in CRLF.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::new();
    let header: Vec<String> = report.columns.iter().map(|c| csv_field(&c.key)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &report.rows {
        let cells: Vec<String> = row.iter().map(csv_value).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}
