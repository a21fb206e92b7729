//! The `--witness` options of `verify` and `verify-checkpoint`: which witnesses' cosignatures
//! (C2SP tlog-cosignature) a checkpoint must carry, how many, and how recent.

use super::earlier::{read_small, SMALL};
use crate::log::cosignature::{cosignatures, Cosigned, WitnessKey};
use crate::verify::{Check, Failure};

/// The witness options.
#[derive(Debug, Clone, clap::Args)]
pub struct WitnessArgs {
    /// A witness's key (`<name>+<hex id>+<base64>`, as `caseledger witness init` printed it),
    /// or a file holding it: the checkpoint must carry its cosignature (C2SP
    /// tlog-cosignature). Repeatable.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the `--witness` keys must have cosigned (default: all of them).
    #[arg(long = "witness-threshold")]
    pub threshold: Option<usize>,
    /// Count only cosignatures made at most this many seconds ago (by this machine's
    /// clock): a server that froze its view keeps serving old ones.
    #[arg(long = "witness-max-age")]
    pub max_age: Option<u64>,
}

impl WitnessArgs {
    /// The policy the options give (none pinned: nothing is checked).
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let pinned = witness_keys(&self.witnesses)?;
        let threshold = self.threshold.unwrap_or(pinned.len());
        if threshold > pinned.len() {
            anyhow::bail!(
                "--witness-threshold {threshold} is more than the {} witnesses given",
                pinned.len()
            );
        }
        if pinned.is_empty() && self.max_age.is_some() {
            anyhow::bail!("--witness-max-age needs --witness");
        }
        if threshold == 0 && self.threshold.is_some() {
            anyhow::bail!("--witness-threshold 0 would check nothing; leave out --witness instead");
        }
        Ok(Policy {
            pinned,
            threshold,
            oldest: self.max_age.map(|age| now().saturating_sub(age)),
        })
    }
}

/// POSIX seconds now, as cosignatures count time.
pub(super) fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The `--witness` keys, each given as key text or as a file holding it: each witness once,
/// and no two keys under one name (which would make one of them uncountable).
fn witness_keys(given: &[String]) -> anyhow::Result<Vec<WitnessKey>> {
    let mut keys: Vec<WitnessKey> = Vec::new();
    for k in given {
        let key = match WitnessKey::parse(k.trim()) {
            Ok(key) => key,
            Err(_) if std::path::Path::new(k).is_file() => {
                let text = read_small(std::path::Path::new(k), SMALL)?;
                WitnessKey::parse(text.trim()).map_err(|e| {
                    anyhow::anyhow!("--witness {k:?}: the file holds no witness key: {e}")
                })?
            }
            Err(e) => anyhow::bail!("--witness {k:?}: not a witness key (nor a file): {e}"),
        };
        match keys.iter().find(|have| have.name() == key.name()) {
            Some(have) if *have == key => {}
            Some(_) => anyhow::bail!("two --witness keys are named {}", key.name()),
            None => keys.push(key),
        }
    }
    Ok(keys)
}

/// What the witnesses must show.
pub struct Policy {
    pinned: Vec<WitnessKey>,
    threshold: usize,
    /// The oldest cosignature time counted (`--witness-max-age`).
    oldest: Option<u64>,
}

impl Policy {
    /// Whether any witness is pinned.
    pub fn is_empty(&self) -> bool {
        self.pinned.is_empty()
    }

    /// The cosignatures by pinned witnesses on `note`, if at least `threshold` verify (and
    /// are recent enough).
    pub fn witnessed(&self, note: &str) -> Result<Vec<Cosigned>, Failure> {
        witnessed(note, self)
    }
}

fn witnessed(note: &str, policy: &Policy) -> Result<Vec<Cosigned>, Failure> {
    let fail = |m: String| Failure::bundle(Check::Witnesses, m);
    let found = cosignatures(note, &policy.pinned).map_err(|e| fail(format!("{e}")))?;
    let (recent, stale): (Vec<Cosigned>, Vec<Cosigned>) = found
        .into_iter()
        .partition(|c| policy.oldest.is_none_or(|oldest| c.time >= oldest));
    if recent.len() < policy.threshold {
        let missing: Vec<&str> = policy
            .pinned
            .iter()
            .map(WitnessKey::name)
            .filter(|n| !recent.iter().any(|c| c.witness == *n))
            .collect();
        let stale_note = match stale.is_empty() {
            true => String::new(),
            false => {
                let names: Vec<&str> = stale.iter().map(|c| c.witness.as_str()).collect();
                format!(" (too old: {})", names.join(", "))
            }
        };
        let recent_enough = match policy.oldest {
            Some(_) => "recent enough ",
            None => "",
        };
        return Err(fail(format!(
            "{} of the {} pinned witnesses cosigned the checkpoint, {} required; no \
             {recent_enough}cosignature by {}{stale_note}",
            recent.len(),
            policy.pinned.len(),
            policy.threshold,
            missing.join(", ")
        )));
    }
    Ok(recent)
}

/// The report's lines on the cosignatures that counted, with their age.
pub fn cosigned_text(cosigned: &[Cosigned]) -> String {
    let now = now();
    let mut out = String::new();
    for c in cosigned {
        let ago = match c.time.checked_sub(now) {
            Some(ahead) if ahead > 0 => format!("{ahead} s in this machine's future"),
            _ => format!("{} s ago", now - c.time),
        };
        out.push_str(&format!(
            "Cosigned by witness {} at {} (POSIX seconds; {ago}).\n",
            c.witness, c.time
        ));
    }
    out
}
