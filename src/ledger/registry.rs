//! The identity fold: principals, their keys and tokens, and the agency directory, as
//! established by `principal.*` and `agency.*` entries. Pure: no I/O, no clock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::domain::{AgencyData, AgencyId, EventData, KeyId, PrincipalId, Role};

/// A registered signing key and its lifetime on the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub principal: PrincipalId,
    pub key: VerifyingKey,
    pub added_at: DateTime<Utc>,
    pub added_index: u64,
    /// When and at which entry it was revoked; writes recorded at or after that are refused.
    pub revoked: Option<(DateTime<Utc>, u64)>,
}

impl KeyRecord {
    /// Active keys sign; a key is active from its entry until its revocation entry.
    pub fn active_at(&self, at: &DateTime<Utc>) -> bool {
        *at >= self.added_at && self.revoked.as_ref().is_none_or(|(r, _)| at < r)
    }
}

/// A principal as the log describes it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalRecord {
    pub id: PrincipalId,
    pub agency: AgencyId,
    pub roles: Vec<Role>,
    pub active: bool,
    pub keys: Vec<KeyId>,
}

impl PrincipalRecord {
    /// Whether the principal holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// An issued bearer token, known only by its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub principal: PrincipalId,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// An agency directory entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgencyRecord {
    pub id: AgencyId,
    pub data: AgencyData,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Principals, keys, tokens and agencies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    pub principals: HashMap<PrincipalId, PrincipalRecord>,
    pub keys: HashMap<KeyId, KeyRecord>,
    /// Keyed by token SHA-256; a list in snapshots, since JSON keys must be strings.
    #[serde(with = "token_map")]
    pub tokens: HashMap<[u8; 32], TokenRecord>,
    pub agencies: BTreeMap<AgencyId, AgencyRecord>,
}

impl Registry {
    /// Folds one accepted `principal.*` or `agency.*` event into the registry. Events of
    /// other families are ignored. `subject` is the id named by the event's stream.
    pub fn apply(&mut self, subject: &str, data: &EventData, at: DateTime<Utc>, index: u64) {
        match data {
            EventData::PrincipalRegistered(d) => {
                let Ok(id) = PrincipalId::parse(subject) else {
                    return;
                };
                let keyid = self.add_key(&id, d.public_key.as_bytes(), at, index);
                self.principals.insert(
                    id.clone(),
                    PrincipalRecord {
                        id,
                        agency: d.agency.clone(),
                        roles: d.roles.to_vec(),
                        active: true,
                        keys: keyid.into_iter().collect(),
                    },
                );
            }
            EventData::PrincipalKeyAdded(d) => {
                let Ok(id) = PrincipalId::parse(subject) else {
                    return;
                };
                if let Some(keyid) = self.add_key(&id, d.public_key.as_bytes(), at, index) {
                    if let Some(p) = self.principals.get_mut(&id) {
                        p.keys.push(keyid);
                    }
                }
            }
            EventData::PrincipalKeyRevoked(d) => {
                if let Some(k) = self.keys.get_mut(&d.keyid) {
                    k.revoked.get_or_insert((at, index));
                }
            }
            EventData::PrincipalTokenIssued(d) => {
                let Ok(id) = PrincipalId::parse(subject) else {
                    return;
                };
                self.tokens.insert(
                    *d.token_sha256.as_bytes(),
                    TokenRecord {
                        principal: id,
                        expires_at: d.expires_at,
                        revoked: false,
                    },
                );
            }
            EventData::PrincipalTokenRevoked(d) => {
                if let Some(t) = self.tokens.get_mut(d.token_sha256.as_bytes()) {
                    t.revoked = true;
                }
            }
            EventData::PrincipalDeactivated(_) => {
                if let Some(p) = PrincipalId::parse(subject)
                    .ok()
                    .and_then(|id| self.principals.get_mut(&id))
                {
                    p.active = false;
                }
            }
            EventData::AgencyRegistered(d) | EventData::AgencyUpdated(d) => {
                let Ok(id) = AgencyId::parse(subject) else {
                    return;
                };
                let registered_at = self.agencies.get(&id).map_or(at, |a| a.registered_at);
                self.agencies.insert(
                    id.clone(),
                    AgencyRecord {
                        id,
                        data: d.clone(),
                        registered_at,
                        updated_at: at,
                    },
                );
            }
            _ => {}
        }
    }

    fn add_key(
        &mut self,
        principal: &PrincipalId,
        public_key: &[u8; 32],
        at: DateTime<Utc>,
        index: u64,
    ) -> Option<KeyId> {
        let key = VerifyingKey::from_bytes(public_key).ok()?;
        let keyid = KeyId::of(public_key);
        self.keys.insert(
            keyid.clone(),
            KeyRecord {
                principal: principal.clone(),
                key,
                added_at: at,
                added_index: index,
                revoked: None,
            },
        );
        Some(keyid)
    }

    /// The principal a bearer token authenticates, if the token is live at `now`.
    pub fn authenticate(
        &self,
        token_sha256: &[u8; 32],
        now: &DateTime<Utc>,
    ) -> Option<&PrincipalRecord> {
        let t = self.tokens.get(token_sha256)?;
        if t.revoked || t.expires_at.is_some_and(|e| e <= *now) {
            return None;
        }
        self.principals.get(&t.principal).filter(|p| p.active)
    }
}

/// Serde for the token map as a list of `[sha256, record]` pairs (projection snapshots).
mod token_map {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::TokenRecord;

    pub fn serialize<S: Serializer>(
        map: &HashMap<[u8; 32], TokenRecord>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&[u8; 32], &TokenRecord)> = map.iter().collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<[u8; 32], TokenRecord>, D::Error> {
        let pairs: Vec<([u8; 32], TokenRecord)> = Vec::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}
