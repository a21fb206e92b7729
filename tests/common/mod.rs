//! A log built by hand, without the server: its own keys, entries encoded with
//! `ledger::entry::encode`, its own RFC 6962 tree and its own signed checkpoint, both
//! written here from the RFCs' definitions ([`tree`]). Bundles made from it test the
//! verifier independently of the exporter and of the library's tree and note code.

#![allow(dead_code)] // each test binary uses a different part

pub mod tree;

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use caseledger::bundle::{Bundle, BundleEntry, FORMAT};
use caseledger::client;
use caseledger::domain::PrincipalId;
use caseledger::envelope::KeyFile;
use caseledger::ledger::entry::{encode, format_time};
use caseledger::log::merkle::{leaf_hash, root, MemoryNodes};
use caseledger::log::{Checkpoint, NoteSigner};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

pub const ORIGIN: &str = "handmade.example/log";

/// An append-only list of entry bytes with per-stream revisions and a fixed clock.
pub struct HandLog {
    /// The log's key; [`HandLog::signer`] is the same key as the library names it, for the
    /// verifier key text only.
    key: ed25519_dalek::SigningKey,
    pub signer: NoteSigner,
    pub entries: Vec<String>,
    revisions: HashMap<String, u64>,
    start: DateTime<Utc>,
}

impl HandLog {
    pub fn new() -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        Self {
            signer: NoteSigner::from_signing_key(ORIGIN, key.clone()).expect("log key"),
            key,
            entries: Vec::new(),
            revisions: HashMap::new(),
            start: Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap(),
        }
    }

    /// The time entry `index` is recorded at (one second apart).
    pub fn time(&self, index: u64) -> DateTime<Utc> {
        self.start + Duration::seconds(index as i64)
    }

    /// Signs an event with `key` and appends it as the next entry; returns its index.
    pub fn append(&mut self, key: &KeyFile, kind: &str, stream: &str, data: Value) -> u64 {
        let index = self.entries.len() as u64;
        let at = self.time(index);
        let wire = client::signed_event(key, kind, stream, data, at);
        let rev = self.revisions.entry(stream.to_owned()).or_default();
        let bytes = encode(stream, *rev, &format_time(&at), &wire);
        *rev += 1;
        self.entries
            .push(String::from_utf8(bytes).expect("utf-8 entry"));
        index
    }

    /// The verifier key text.
    pub fn log_key(&self) -> String {
        self.signer.verifier().to_text()
    }

    /// A bundle of the entries at `indexes`, proven against a checkpoint of the whole log.
    pub fn bundle_of(&self, indexes: &[u64]) -> Bundle {
        let size = self.entries.len() as u64;
        let leaves = self.leaves(size);
        let tree = tree::Tree::new(&leaves);
        let entries = indexes
            .iter()
            .map(|&i| BundleEntry {
                index: i,
                entry: self.entries[i as usize].clone(),
                proof: tree
                    .path(i as usize)
                    .iter()
                    .map(|h| B64.encode(h))
                    .collect(),
            })
            .collect();
        Bundle {
            format: FORMAT.into(),
            origin: ORIGIN.into(),
            log_key: self.log_key(),
            checkpoint: tree::signed_checkpoint(ORIGIN, &self.key, size as usize, &tree.root()),
            identity_heads: None,
            entries,
        }
    }

    /// The leaf hashes of the first `size` entries.
    fn leaves(&self, size: u64) -> Vec<tree::Hash> {
        self.entries[..size as usize]
            .iter()
            .map(|e| tree::leaf(e.as_bytes()))
            .collect()
    }

    /// The same log cut to its first `n` entries (same keys and clock), to grow otherwise.
    pub fn fork(&self, n: usize) -> Self {
        let entries = self.entries[..n].to_vec();
        let mut revisions = HashMap::new();
        for e in &entries {
            let v: Value = serde_json::from_str(e).expect("entry json");
            let stream = v["stream"].as_str().expect("stream").to_owned();
            revisions.insert(stream, v["revision"].as_u64().expect("revision") + 1);
        }
        Self {
            key: self.key.clone(),
            signer: self.signer.clone(),
            entries,
            revisions,
            start: self.start,
        }
    }

    /// The same log under `other`'s key (a log key that signs what another log holds).
    pub fn with_key_of(mut self, other: &HandLog) -> Self {
        self.key = other.key.clone();
        self.signer = other.signer.clone();
        self
    }

    /// The signed checkpoint of the log's first `size` entries (as an auditor kept it).
    pub fn checkpoint_at(&self, size: u64) -> String {
        let root = tree::Tree::new(&self.leaves(size)).root();
        tree::signed_checkpoint(ORIGIN, &self.key, size as usize, &root)
    }

    /// The consistency proof from `from` entries to the whole log, as the server serves it.
    pub fn consistency(&self, from: u64) -> Value {
        let to = self.entries.len() as u64;
        let leaves = self.leaves(to);
        let hashes: Vec<String> = tree::Tree::new(&leaves)
            .consistency(from as usize)
            .iter()
            .map(|h| B64.encode(h))
            .collect();
        json!({"from": from, "to": to, "hashes": hashes})
    }

    /// A full-log bundle.
    pub fn bundle(&self) -> Bundle {
        let all: Vec<u64> = (0..self.entries.len() as u64).collect();
        self.bundle_of(&all)
    }
}

pub fn key(id: &str) -> KeyFile {
    KeyFile::generate(PrincipalId::parse(id).expect("slug"))
}

pub fn agency(name: &str) -> Value {
    json!({
        "name": format!("Agency {name}"), "region": "North", "domains": ["legal", "social"],
        "languages": ["es"], "interpretation": true, "cultural_adaptations": [],
        "trafficking_experience": true, "eligibility": {"criteria": ["adults"], "notes": ""}
    })
}

pub fn registered(agency: &str, roles: &[&str], key: &KeyFile) -> Value {
    json!({"agency": agency, "roles": roles, "public_key": key.public_key_b64()})
}

/// A small valid log: genesis admin, two agencies, a caseworker and an auditor.
pub struct World {
    pub log: HandLog,
    pub admin: KeyFile,
    pub worker: KeyFile,
}

impl World {
    /// The same world with its log cut to the first `n` entries (see [`HandLog::fork`]).
    pub fn fork(&self, n: usize) -> Self {
        Self {
            log: self.log.fork(n),
            admin: self.admin.clone(),
            worker: self.worker.clone(),
        }
    }

    /// Appends `agency.registered` signed by the caseworker, which only an admin may write
    /// (a rule failure, `forbidden`), on `agency-rogue`; its index.
    pub fn rogue_agency(&mut self) -> u64 {
        self.log.append(
            &self.worker,
            "agency.registered",
            "agency-rogue",
            agency("rogue"),
        )
    }

    /// Appends `agency.updated` events by the admin until the log holds `n` entries.
    pub fn grow_to(&mut self, n: usize) {
        while self.log.entries.len() < n {
            self.log.append(
                &self.admin,
                "agency.updated",
                "agency-bay-clinic",
                agency("bay-clinic"),
            );
        }
    }
}

pub fn world() -> World {
    let mut log = HandLog::new();
    let admin = key("admin");
    let worker = key("maria");
    let auditor = key("olu");
    log.append(
        &admin,
        "principal.registered",
        "principal-admin",
        registered("operator", &["admin"], &admin),
    );
    log.append(
        &admin,
        "agency.registered",
        "agency-harbor-house",
        agency("harbor-house"),
    );
    log.append(
        &admin,
        "agency.registered",
        "agency-bay-clinic",
        agency("bay-clinic"),
    );
    log.append(
        &admin,
        "principal.registered",
        "principal-maria",
        registered("harbor-house", &["caseworker"], &worker),
    );
    log.append(
        &admin,
        "principal.registered",
        "principal-olu",
        registered("operator", &["auditor"], &auditor),
    );
    log.append(
        &admin,
        "agency.updated",
        "agency-bay-clinic",
        agency("bay-clinic-2"),
    );
    World { log, admin, worker }
}

/// A valid signed store entry on `agency-<agency>` at `revision`, to sit at `index`
/// (registered at revision 0, updated after), recorded at `at`.
pub fn stored_agency_entry(
    key: &KeyFile,
    agency: &str,
    revision: u64,
    index: u64,
    at: DateTime<Utc>,
) -> caseledger::store::StoredEntry {
    let stream = format!("agency-{agency}");
    let kind = if revision == 0 {
        "agency.registered"
    } else {
        "agency.updated"
    };
    let data = json!({
        "name": format!("Agency {agency}"), "region": "North", "domains": ["social"],
        "languages": ["en"], "interpretation": false, "cultural_adaptations": [],
        "trafficking_experience": false, "eligibility": {"criteria": [], "notes": ""}
    });
    let wire = client::signed_event(key, kind, &stream, data, at);
    let v = client::self_verified(key, &wire).expect("verified");
    let stamp = format_time(&at);
    let bytes = encode(&stream, revision, &stamp, &wire);
    caseledger::store::StoredEntry {
        index,
        stream,
        revision,
        event_id: v.event.event_id,
        recorded_at: stamp,
        leaf_hash: leaf_hash(&bytes),
        bytes,
    }
}

/// The log key the stores of the live EventStoreDB suites trust (they mirror only its
/// checkpoints).
pub fn store_log() -> NoteSigner {
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    NoteSigner::from_signing_key("caseledger.test/store", key).expect("log key")
}

/// The checkpoint of the log whose leaf hashes are `leaves`, signed with [`store_log`], as
/// a store keeps it.
pub fn store_checkpoint(
    leaves: &[caseledger::log::merkle::Hash],
) -> caseledger::store::StoredCheckpoint {
    let tree = MemoryNodes::from_leaves(leaves);
    let cp = Checkpoint {
        origin: store_log().name().to_owned(),
        size: leaves.len() as u64,
        root: root(&tree, leaves.len() as u64).expect("root"),
    };
    caseledger::store::StoredCheckpoint {
        size: cp.size,
        note: cp.sign(&store_log()).expect("signs"),
    }
}
