//! `data` of the `principal.*` events (stream `principal-<slug>`): registration, keys, tokens.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::BoundedSet;
use super::ids::{AgencyId, PrincipalId};
use super::keys::{KeyId, PublicKeyB64, Sha256Hex};
use super::time::{utc, Timestamp};
use super::values::{DeactivationReason, KeyRevokeReason, Role};

/// `principal.registered`: a person or service account joins an agency with roles and a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRegistered {
    /// The agency the principal works for.
    pub agency: AgencyId,
    /// Roles, 1 to 6, no repeats.
    pub roles: BoundedSet<Role, 1, 6>,
    /// The principal's first Ed25519 public key.
    pub public_key: PublicKeyB64,
}

/// `principal.key_added`: an additional (e.g. rotated-in) signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalKeyAdded {
    /// The new Ed25519 public key.
    pub public_key: PublicKeyB64,
}

/// `principal.key_revoked`: a key stops being valid from this event on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalKeyRevoked {
    /// The revoked key's id.
    pub keyid: KeyId,
    /// Why it was revoked.
    pub reason: KeyRevokeReason,
}

/// `principal.token_issued`: a bearer token was issued; only its hash is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalTokenIssued {
    /// SHA-256 of the token.
    pub token_sha256: Sha256Hex,
    /// When the token stops working; absent means it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "utc::option")]
    #[schemars(with = "Timestamp")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The admin who asked for the token.
    pub requested_by: PrincipalId,
}

/// `principal.token_revoked`: a bearer token stops working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalTokenRevoked {
    /// SHA-256 of the token.
    pub token_sha256: Sha256Hex,
}

/// `principal.deactivated`: the principal may no longer write anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalDeactivated {
    /// Why.
    pub reason: DeactivationReason,
}
