//! `caseledger token`: issues a bearer token from the data directory, with the server
//! stopped, as the token endpoint does: a `principal.token_issued` entry signed by the
//! service key, naming the admin who asked. The way back in when the only admin's token is
//! lost, or `init` stopped before it printed one. It gives the operator no power the data
//! directory did not already give (it holds the service key), and every use is on record.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::DataArg;
use crate::client;
use crate::datadir;
use crate::domain::PrincipalId;
use crate::envelope::KeyFile;
use crate::ledger::entry::format_time;
use crate::ledger::{ExpectedRevision, Ledger, Outcome, SystemClock};

/// Arguments of `token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The principal the token is for.
    #[arg(long)]
    pub principal: String,
    /// The active admin who asks for it, recorded in the entry (default: `--principal`,
    /// which must then be an admin).
    #[arg(long)]
    pub requested_by: Option<String>,
    /// That admin's key file, as the proof that they ask (default: `<requested-by>.key.json`
    /// in the data directory, where `init` leaves the first admin's). Nothing is signed
    /// with it; its key must be one of theirs the log holds active.
    #[arg(long)]
    pub admin_key: Option<std::path::PathBuf>,
    /// Print `{"principal", "token", "token_sha256", "index"}` instead of the token alone.
    #[arg(long)]
    pub json: bool,
}

/// `caseledger token`.
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let principal = PrincipalId::parse(&args.principal).context("--principal")?;
    let requested_by = match &args.requested_by {
        Some(r) => PrincipalId::parse(r).context("--requested-by")?,
        None => principal.clone(),
    };
    // Refused while a server holds the directory: the writer lock is taken here.
    let (ledger, service) = datadir::open(&args.data.data, Arc::new(SystemClock))?;
    let active = ledger
        .state()
        .registry
        .principals
        .get(&principal)
        .map(|p| p.active);
    match active {
        Some(true) => {}
        Some(false) => anyhow::bail!("principal {principal} is deactivated"),
        None => anyhow::bail!("no principal {principal} in this log"),
    }
    // The endpoint records the authenticated caller as the requester; here, whoever holds
    // a key of the requester's.
    let key_path = args
        .admin_key
        .clone()
        .unwrap_or_else(|| args.data.data.join(format!("{requested_by}.key.json")));
    let admin_key = KeyFile::read(&key_path).with_context(|| {
        format!(
            "reading {} (the key file of {requested_by}, who asks for the token; give \
             --admin-key)",
            key_path.display()
        )
    })?;
    let holds = ledger
        .state()
        .registry
        .keys
        .get(&admin_key.keyid())
        // Not revoked at all: the entry is recorded after every revocation in the log,
        // whatever this machine's clock says.
        .is_some_and(|k| k.principal == requested_by && k.revoked.is_none());
    anyhow::ensure!(
        holds,
        "{} holds no active key of {requested_by} in this log",
        key_path.display()
    );
    let (token, index) = issue(&ledger, &service, &principal, &requested_by, None)?;
    if args.json {
        let sha = hex::encode(crate::http::auth::token_hash(&token));
        super::print_out(&format!(
            "{}\n",
            json!({"principal": principal.as_str(), "token": token, "token_sha256": sha, "index": index})
        ))
    } else {
        eprintln!("token for {principal} recorded at index {index}; it is shown once:");
        super::print_out(&format!("{token}\n"))
    }
}

/// Records a new token for `principal`, asked for by `requested_by`, signed with the
/// service key (the rules check both); the token and its entry's index.
pub(super) fn issue(
    ledger: &Ledger,
    service: &KeyFile,
    principal: &PrincipalId,
    requested_by: &PrincipalId,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<(String, u64)> {
    let token = crate::http::new_token();
    let stream = format!("principal-{principal}");
    let mut data = json!({
        "token_sha256": hex::encode(crate::http::auth::token_hash(&token)),
        "requested_by": requested_by.as_str(),
    });
    if let Some(e) = expires_at {
        data["expires_at"] = json!(format_time(&e));
    }
    let wire = client::signed_event(service, "principal.token_issued", &stream, data, Utc::now());
    let v = client::self_verified(service, &wire).map_err(anyhow::Error::msg)?;
    let (Outcome::Created(r) | Outcome::Repeated(r)) =
        ledger.submit_blocking(stream, vec![v], ExpectedRevision::Any)?;
    Ok((token, r[0].index))
}
