//! caseledger: an event-sourced, tamper-evident audit ledger for organisations that
//! coordinate services for survivors of human trafficking.
//!
//! Layers, from the wire inwards:
//! - [`http`]: the actix-web API (DESIGN §4), problem+json errors, bearer auth and scoping.
//! - [`envelope`]: DSSE envelopes with one Ed25519 signature, and key files.
//! - [`domain`]: strict event types (DESIGN §2.3); personal data has nowhere to go.
//! - [`ledger`]: the pure rules (`decide`), the state fold, and the single group-committing
//!   writer that gives every accepted event its index, revision and Merkle leaf.
//! - [`log`]: RFC 6962 Merkle tree, proofs, C2SP checkpoints and signed notes.
//! - [`store`]: the `EventStore` trait and its SQLite backend.
//! - [`bundle`]: export bundles (DESIGN §4.1) and [`verify`]: the offline verifier.
//! - [`cli`]: the `caseledger` command line.

pub mod bundle;
pub mod cli;
pub mod client;
pub mod datadir;
pub mod domain;
pub mod envelope;
pub mod http;
pub mod jsonscan;
pub mod ledger;
pub mod leftovers;
pub mod log;
pub mod metrics;
pub mod reports;
pub mod store;
pub mod verify;
pub mod witness;
