//! The domain's vocabulary: the v1 event catalogue (DESIGN §2) as strict Rust types. Payload
//! bytes become an [`EventPayload`] only if they fit the contract exactly ("parse, don't
//! validate"); everything downstream works with these types, never raw JSON.

// Macros first: `macro_rules!` are only visible to modules declared after them.
#[macro_use]
mod macros;

pub mod agency;
pub mod bounded;
pub mod case;
pub mod consent;
pub mod error;
pub mod event;
mod event_scan;
pub mod fixtures;
pub mod ids;
pub mod inquiry;
pub mod keys;
pub mod principal;
pub mod referral;
pub mod schema;
pub mod stream;
pub mod time;
pub mod values;
mod visit;

#[cfg(test)]
mod tests;

pub use agency::{AgencyData, Eligibility};
pub use bounded::{BoundedSet, BoundedString, BoundedVec, BoundsError, List};
pub use case::{CaseClosed, CaseCoordinatorAssigned, CaseNeedsAssessed, CaseOpened, CaseReopened};
pub use consent::{ConsentGranted, ConsentWithdrawn, Interpreter, Recipients};
pub use error::{SchemaError, SchemaErrorKind};
pub use event::{EventData, EventPayload};
pub use ids::{
    AgencyId, CaseId, ConsentId, InquiryId, Language, ParseIdError, PrincipalId, ReferralId, Slug,
};
pub use inquiry::{InquiryAnswered, InquirySent};
pub use keys::{KeyId, PublicKeyB64, Sha256Hex};
pub use principal::{
    PrincipalDeactivated, PrincipalKeyAdded, PrincipalKeyRevoked, PrincipalRegistered,
    PrincipalTokenIssued, PrincipalTokenRevoked,
};
pub use referral::{
    ReferralAccepted, ReferralClosed, ReferralDeclined, ReferralMade, ReferralServicesStarted,
    ReferralWithdrawn,
};
pub use stream::{StreamId, StreamKind};
pub use time::Timestamp;
pub use values::{
    Adaptation, Ask, CaseOutcome, ConsentMethod, ConsentPurpose, Criterion, DataCategory,
    DeactivationReason, DeclineReason, Domain, KeyRevokeReason, ReferralOutcome,
    ReferralWithdrawReason, ReopenReason, Role, Tristate,
};
