//! The tamper-evident log: RFC 6962 / RFC 9162 Merkle hashing over persisted nodes,
//! inclusion and consistency proofs, C2SP signed notes and tlog checkpoints.
//!
//! Everything here is pure: functions over bytes and over a [`NodeSource`] that the
//! store implements. Entry `i` of the log is leaf `i`, hashed with [`leaf_hash`] over
//! the entry's stored bytes (DESIGN §3).

pub mod checkpoint;
pub mod cosignature;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod tiles;

#[cfg(test)]
mod vectors;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use merkle::{
    append_nodes, empty_root, leaf_hash, node_hash, root, subtree_hash, Hash, MemoryNodes,
    NodeSource, RootBuilder, TreeError,
};
pub use note::{open, NoteError, NoteSigner, NoteVerifier, OpenedNote};
pub use proof::{
    consistency_proof, inclusion_proof, root_from_inclusion_proof, verify_consistency,
    verify_inclusion, ProofError,
};
