//! Demo set-up over HTTP: the agencies (registered if missing) and fresh principals with
//! keys and tokens; and the small POST helpers the story uses.

use std::collections::HashMap;

use anyhow::{bail, Context};
use chrono::Utc;
use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};

use super::{Agencies, People};
use crate::client;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;

pub(super) fn post(
    base: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let r = ureq::post(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => bail!("cannot reach {base}: {e}"),
    };
    let status = r.status();
    Ok((status, r.into_json().unwrap_or(Value::Null)))
}

pub(super) fn write(
    base: &str,
    key: &KeyFile,
    token: &str,
    kind: &str,
    stream: &str,
    data: Value,
) -> anyhow::Result<(u16, Value)> {
    let env = client::signed_event(key, kind, stream, data, Utc::now());
    post(base, "/v1/events", token, &serde_json::to_value(&env)?)
}

fn agency_data(name: &str, domains: &[&str], experience: bool) -> Value {
    json!({
        "name": name, "region": "Demo region", "domains": domains, "languages": ["en", "es"],
        "interpretation": true, "cultural_adaptations": ["food", "faith"],
        "trafficking_experience": experience,
        "eligibility": {"criteria": ["adults"], "notes": "Demo agency."}
    })
}

/// Registers the agencies (if missing) and fresh principals with keys and tokens.
pub(super) fn setup(
    base: &str,
    admin: &KeyFile,
    token: &str,
) -> anyhow::Result<(Agencies, People)> {
    let list = [
        ("harbor-house", "Harbor House", &["social"][..], true),
        (
            "north-legal-aid",
            "North Legal Aid",
            &["legal", "immigration"][..],
            true,
        ),
        (
            "st-mary-clinic",
            "St Mary Clinic",
            &["medical", "mental_health"][..],
            true,
        ),
        ("hope-shelter", "Hope Shelter", &["social"][..], false),
    ];
    for (id, name, domains, experience) in list {
        let exists = ureq::get(&format!("{base}/v1/agencies/{id}"))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .is_ok();
        if !exists {
            let (s, b) = write(
                base,
                admin,
                token,
                "agency.registered",
                &format!("agency-{id}"),
                agency_data(name, domains, experience),
            )?;
            if s != 201 {
                bail!("registering agency {id}: {s} {b}");
            }
        }
    }
    let mut tag = [0u8; 2];
    OsRng.fill_bytes(&mut tag);
    let sfx = hex::encode(tag);
    let mut people = HashMap::new();
    for (role, name, agency) in [
        ("coordinator", "maria", "harbor-house"),
        ("legal", "lou", "north-legal-aid"),
        ("clinic", "cleo", "st-mary-clinic"),
    ] {
        let id = format!("{name}-{sfx}");
        let key = KeyFile::generate(PrincipalId::parse(&id)?);
        let data =
            json!({"agency": agency, "roles": ["caseworker"], "public_key": key.public_key_b64()});
        let (s, b) = write(
            base,
            admin,
            token,
            "principal.registered",
            &format!("principal-{id}"),
            data,
        )?;
        if s != 201 {
            bail!("registering {id}: {s} {b}");
        }
        let (s, b) = post(
            base,
            &format!("/v1/principals/{id}/tokens"),
            token,
            &json!({}),
        )?;
        let t = b["token"]
            .as_str()
            .filter(|_| s == 201)
            .with_context(|| format!("token for {id}: {s} {b}"))?;
        people.insert(role, (key, t.to_owned()));
    }
    let agencies = Agencies {
        owner: "harbor-house".into(),
        legal: "north-legal-aid".into(),
        clinic: "st-mary-clinic".into(),
        shelter: "hope-shelter".into(),
        coordinator: format!("maria-{sfx}"),
    };
    Ok((agencies, people))
}
