//! Given/when/then specifications of the case rules (DESIGN §2.4 rules 1–5): every accepting
//! path and every rejecting path with its code, folded through `rules::decide` and
//! `LedgerState::apply` exactly as the writer and the offline verifier do.

mod actors;
mod consent;
mod harness;
mod identity;
mod lifecycle;
mod privacy;
mod projection;
