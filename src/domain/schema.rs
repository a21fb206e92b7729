//! JSON Schemas of the event payloads (one per type, `schemas/<type>.json`), generated from
//! the Rust types so the published contract cannot drift from the parser.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use super::event::CATALOGUE;
use super::ids::Slug;
use super::time::Timestamp;

/// One JSON Schema (draft 2020-12) per event type, describing the whole payload with
/// `"type": {"const": <type>}`, in catalogue order. Object keys are sorted so the output is
/// the same whatever serde_json features the build enables.
pub fn event_schemas() -> Vec<(&'static str, Value)> {
    CATALOGUE
        .iter()
        .map(|&(type_name, kind, data_schema)| {
            let mut generator = SchemaSettings::draft2020_12().into_generator();
            let data = data_schema(&mut generator);
            let occurred_at = generator.subschema_for::<Timestamp>();
            let actor = generator.subschema_for::<Slug>();
            let definitions = generator.take_definitions(true);
            let schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": type_name,
                "description": format!(
                    "caseledger v1 `{type_name}` event payload: the JSON signed inside the DSSE envelope (DESIGN §2.2, §2.3)."
                ),
                "type": "object",
                "additionalProperties": false,
                "required": ["event_id", "type", "stream", "occurred_at", "actor", "data"],
                "properties": {
                    "event_id": {
                        "type": "string",
                        "format": "uuid",
                        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    },
                    "type": { "const": type_name },
                    "stream": { "type": "string", "pattern": kind.pattern() },
                    "occurred_at": occurred_at,
                    "actor": actor,
                    "data": data,
                },
                "$defs": definitions,
            });
            (type_name, sorted(schema))
        })
        .collect()
}

/// Rebuilds every object with its keys inserted in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/");

    fn file_text(schema: &Value) -> String {
        let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Fails when `schemas/` differs from what the types generate; set
    /// `CASELEDGER_BLESS_SCHEMAS=1` to rewrite the files after an intended contract change.
    #[test]
    fn checked_in_schemas_match_the_rust_types() {
        let bless = std::env::var("CASELEDGER_BLESS_SCHEMAS").is_ok_and(|v| v == "1");
        let mut drift = Vec::new();
        for (type_name, schema) in event_schemas() {
            let path = format!("{DIR}{type_name}.json");
            let expected = file_text(&schema);
            if bless {
                std::fs::create_dir_all(DIR).expect("create schemas dir");
                std::fs::write(&path, &expected).expect("write schema");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
                drift.push(path);
            }
        }
        assert!(
            drift.is_empty(),
            "event schemas drifted from the Rust types (or are missing): {drift:#?}\n\
             If the contract change is intended, rerun with CASELEDGER_BLESS_SCHEMAS=1 and review the diff."
        );
    }

    #[test]
    fn every_schema_pins_its_type_and_refuses_unknown_fields() {
        for (type_name, schema) in event_schemas() {
            assert_eq!(schema["properties"]["type"]["const"], type_name);
            assert_eq!(schema["additionalProperties"], false);
        }
    }
}
