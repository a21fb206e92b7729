//! The top-level members of a bundle as the streaming reader meets them, in any order.

use super::read::ReadError;
use super::BundleHeader;

fn invalid(m: impl Into<String>) -> ReadError {
    ReadError::Invalid(m.into())
}

/// The header members seen so far.
#[derive(Default)]
pub(super) struct Header {
    format: Option<String>,
    origin: Option<String>,
    log_key: Option<String>,
    checkpoint: Option<String>,
    /// The optional signed identity heads (see [`super::heads`]), handed over at the end.
    pub(super) identity_heads: Option<String>,
    pub(super) entries: bool,
    pub(super) sent: bool,
}

impl Header {
    pub(super) fn slot(&mut self, key: &str) -> Result<&mut Option<String>, ReadError> {
        let slot = match key {
            "format" => &mut self.format,
            "origin" => &mut self.origin,
            "log_key" => &mut self.log_key,
            "checkpoint" => &mut self.checkpoint,
            "identity_heads" => &mut self.identity_heads,
            other => return Err(invalid(format!("unknown member `{other}`"))),
        };
        if slot.is_some() {
            return Err(invalid(format!("duplicate member `{key}`")));
        }
        Ok(slot)
    }

    pub(super) fn complete(&self) -> Option<BundleHeader> {
        Some(BundleHeader {
            format: self.format.clone()?,
            origin: self.origin.clone()?,
            log_key: self.log_key.clone()?,
            checkpoint: self.checkpoint.clone()?,
        })
    }

    pub(super) fn check(&self) -> Result<(), ReadError> {
        let members = [
            ("format", self.format.is_some()),
            ("origin", self.origin.is_some()),
            ("log_key", self.log_key.is_some()),
            ("checkpoint", self.checkpoint.is_some()),
            ("entries", self.entries),
        ];
        match members.iter().find(|(_, present)| !present) {
            Some((name, _)) => Err(invalid(format!("missing member `{name}`"))),
            None => Ok(()),
        }
    }
}
