//! `caseledger keygen`, `sign` and `submit`: the client side of signing.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::client;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use crate::ledger::entry::format_time;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The principal id the key is for.
    #[arg(long)]
    pub principal: String,
    /// Where to write the key file (mode 0600; never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Key file to sign with.
    #[arg(long)]
    pub key: PathBuf,
    /// Event JSON file (`-` for standard input). Missing `event_id`, `occurred_at` and
    /// `actor` are filled in (a UUIDv7, now, the key's principal).
    #[arg(long, default_value = "-")]
    pub event: String,
}

/// How long `submit` waits for the server's answer.
const SUBMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Arguments of `submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Key file to sign with.
    #[arg(long, required_unless_present = "envelope")]
    pub key: Option<PathBuf>,
    /// Event JSON file (`-` for standard input). Missing `event_id`, `occurred_at` and
    /// `actor` are filled in (a UUIDv7, now, the key's principal).
    #[arg(long, default_value = "-")]
    pub event: String,
    /// Send this envelope (the output of `sign`) as it is instead of signing an event:
    /// resending the same signed event after a failure is safe (an idempotent repeat),
    /// signing it again makes another event.
    #[arg(long, conflicts_with_all = ["key", "event"])]
    pub envelope: Option<PathBuf>,
    /// Server base URL.
    #[arg(long, env = "CASELEDGER_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bearer token.
    #[arg(long, env = "CASELEDGER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Optimistic concurrency: `N`, `no_stream` or `any`.
    #[arg(long)]
    pub expected_revision: Option<String>,
}

/// `caseledger keygen`.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let principal = PrincipalId::parse(&args.principal).context("--principal")?;
    let key = KeyFile::generate(principal);
    key.write_new(&args.out)?;
    let shown = serde_json::json!({
        "principal": key.principal.as_str(),
        "keyid": key.keyid().to_string(),
        "public_key": key.public_key_b64(),
        "key_file": args.out.display().to_string(),
    });
    super::print_out(&format!("{shown}\n"))
}

/// `text` without a leading UTF-8 byte order mark (some editors write one).
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn read_event(source: &str) -> anyhow::Result<Value> {
    let mut text = String::new();
    if source == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the event from standard input")?;
    } else {
        text = std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?;
    }
    let v: Value = serde_json::from_str(without_bom(&text)).context("event JSON")?;
    if !v.is_object() {
        bail!("the event must be a JSON object");
    }
    Ok(v)
}

/// Fills the defaults `sign` promises, then signs the serialised bytes.
fn build_envelope(args: &SignArgs) -> anyhow::Result<crate::envelope::WireEnvelope> {
    let key = KeyFile::read(&args.key)?;
    let mut event = read_event(&args.event)?;
    let obj = event.as_object_mut().expect("checked object");
    obj.entry("event_id")
        .or_insert_with(|| Value::String(Uuid::now_v7().to_string()));
    obj.entry("occurred_at")
        .or_insert_with(|| Value::String(format_time(&Utc::now())));
    let actor = obj
        .entry("actor")
        .or_insert_with(|| Value::String(key.principal.to_string()));
    if actor.as_str() != Some(key.principal.as_str()) {
        bail!(
            "the event's actor {actor} is not the key's principal {}: the server accepts an \
             event only under a key of its actor",
            key.principal
        );
    }
    crate::domain::EventPayload::parse(&serde_json::to_vec(&event)?)
        .map_err(|e| anyhow::anyhow!("the event does not fit its schema: {}", e.message))?;
    Ok(client::sign_value(&key, &event))
}

/// `caseledger sign`.
pub fn sign(args: SignArgs) -> anyhow::Result<()> {
    let env = build_envelope(&args)?;
    super::print_out(&format!("{}\n", serde_json::to_string(&env)?))
}

/// `caseledger submit`.
pub fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let env = match &args.envelope {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<crate::envelope::WireEnvelope>(without_bom(&text))
                .with_context(|| format!("{}: not a signed envelope", path.display()))?
        }
        None => build_envelope(&SignArgs {
            key: args.key.clone().context("--key or --envelope")?,
            event: args.event.clone(),
        })?,
    };
    // Checked here, and never quoted: a token read with a stray carriage return or space
    // would otherwise be refused by the HTTP library in a message that repeats the header.
    let token = args.token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("the token (CASELEDGER_TOKEN or --token) holds a character no token has");
    }
    let base = args.url.trim_end_matches('/');
    let shown = crate::store::redact::redact_url(base).into_owned();
    let mut url = format!("{base}/v1/events");
    if let Some(e) = &args.expected_revision {
        let e = crate::ledger::ExpectedRevision::parse(e).with_context(|| {
            format!("--expected-revision `{e}` must be a revision number, no_stream or any")
        })?;
        url.push_str(&format!("?expected_revision={e}"));
    }
    // No redirects: a POST redirected elsewhere is not written, whatever the answer there.
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(SUBMIT_TIMEOUT)
        .build();
    let resp = agent
        .post(&url)
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(&env);
    let as_is = args.envelope.is_some();
    let id = event_id_of(&env);
    match resp {
        Ok(r) if matches!(r.status(), 200 | 201) => {
            let code = r.status();
            let body = r.into_string().with_context(|| {
                format!(
                    "the server answered {code} for the event {id}, but its body could not be read"
                )
            })?;
            // A caseledger receipt, not whatever answered 200 (a captive portal, another
            // web server behind the URL).
            if !is_receipt(&body, &env) {
                bail!(
                    "the answer ({code}) is not a caseledger receipt: the event {id} may or \
                     may not be recorded; check --url.{}",
                    resend(&env, as_is, args.expected_revision.as_deref())
                );
            }
            super::print_out(&format!("{body}\n"))
        }
        Ok(r) => {
            let code = r.status();
            let to = r.header("location").unwrap_or("nowhere").to_owned();
            bail!(
                "the server answered {code} (to {to}), not a receipt: nothing was recorded \
                 (event {id}). Give --url the address of the caseledger server itself"
            )
        }
        // A server error, a gateway's or an overloaded node's: the write may have reached
        // the writer (resending is an idempotent repeat, so caution costs nothing).
        Err(ureq::Error::Status(code @ 500..=599, r)) => {
            let body = r.into_string().unwrap_or_default();
            bail!(
                "the server answered {code}: {body}\nThe event {id} may or may not be \
                 recorded.{}",
                resend(&env, as_is, args.expected_revision.as_deref())
            )
        }
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            bail!("server refused the event {id} ({code}): {body}")
        }
        // The kind and its cause only: the library's own message may repeat the URL,
        // password included.
        Err(ureq::Error::Transport(t)) => {
            use ureq::ErrorKind::{ConnectionFailed, Dns, InvalidUrl, UnknownScheme};
            let cause = std::error::Error::source(&t)
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            if matches!(
                t.kind(),
                Dns | ConnectionFailed | InvalidUrl | UnknownScheme
            ) {
                bail!(
                    "cannot reach {shown}: {}{cause}; nothing was sent",
                    t.kind()
                )
            }
            bail!(
                "no answer from {shown}: {}{cause}. The event {id} may or may not be \
                 recorded.{}",
                t.kind(),
                resend(&env, as_is, args.expected_revision.as_deref())
            )
        }
    }
}

/// Whether `body` is the receipt of `env`'s event: the members of DESIGN §4's receipt, for
/// the stream the envelope's payload names.
fn is_receipt(body: &str, env: &crate::envelope::WireEnvelope) -> bool {
    use base64::Engine;
    let Ok(receipt) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let stream = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|v| v["stream"].as_str().map(str::to_owned));
    receipt["revision"].is_u64()
        && receipt["index"].is_u64()
        && receipt["leaf_hash"].is_string()
        && receipt["recorded_at"].is_string()
        && stream.is_some_and(|s| receipt["stream"] == s.as_str())
}

/// The event id an envelope carries, for messages (`?` if it cannot be read).
fn event_id_of(env: &crate::envelope::WireEnvelope) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|v| v["event_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// How to send exactly the same event again after an answer that leaves it unknown whether
/// it was recorded: an envelope sent as it is can be sent again (an idempotent repeat); an
/// event signed here is given in full, since signing it again would make another event.
/// The same `--expected-revision` goes with a resend: a repeat is answered before the
/// revision is compared, and a first arrival must still meet it.
fn resend(env: &crate::envelope::WireEnvelope, as_is: bool, expected: Option<&str>) -> String {
    let flag = expected.map_or(String::new(), |e| format!(" --expected-revision {e}"));
    if as_is {
        return format!(" Sending the same envelope again (with{flag} the same flags) is safe.");
    }
    let json = serde_json::to_string(env).unwrap_or_default();
    format!(
        " To send exactly this event again (safe: an idempotent repeat), save this signed \
         envelope to a file and `caseledger submit --envelope FILE{flag}`; submitting the \
         event file again would sign another event:\n{json}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PrincipalId;

    #[test]
    fn an_event_whose_actor_is_not_the_keys_principal_is_not_signed() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("cw.key.json");
        KeyFile::generate(PrincipalId::parse("cw-ana").expect("slug"))
            .write_new(&key)
            .expect("key");
        let event = dir.path().join("e.json");
        let args = || SignArgs {
            key: key.clone(),
            event: event.to_str().expect("utf8").to_owned(),
        };
        let write = |actor: Option<&str>| {
            let mut e = serde_json::json!({"type": "principal.key_revoked",
                "stream": "principal-cw-ana",
                "data": {"keyid": "ab".repeat(32), "reason": "lost"}});
            if let Some(a) = actor {
                e["actor"] = a.into();
            }
            std::fs::write(&event, e.to_string()).expect("write");
        };
        write(Some("admin"));
        let e = build_envelope(&args()).expect_err("refused");
        assert!(
            e.to_string()
                .contains("actor \"admin\" is not the key's principal cw-ana"),
            "{e}"
        );
        for ok in [None, Some("cw-ana")] {
            write(ok);
            build_envelope(&args()).expect("signed");
        }
    }
}
