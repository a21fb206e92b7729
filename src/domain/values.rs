//! The closed, coded vocabularies of the event catalogue (DESIGN §2.3). Unknown codes are
//! schema violations; adding a code is a contract change.

code_enum! {
    /// A service domain: the six services of practice, plus `other`.
    Domain {
        Social = "social",
        Legal = "legal",
        Medical = "medical",
        MentalHealth = "mental_health",
        Immigration = "immigration",
        CriminalJustice = "criminal_justice",
        Other = "other",
    }
}

code_enum! {
    /// A category of information about a person that a consent may allow to be shared.
    DataCategory {
        Identity = "identity",
        Contact = "contact",
        ImmigrationStatus = "immigration_status",
        Health = "health",
        MentalHealth = "mental_health",
        LegalMatters = "legal_matters",
        CaseSummary = "case_summary",
    }
}

code_enum! {
    /// An eligibility criterion an agency applies.
    Criterion {
        Adults = "adults",
        Minors = "minors",
        Women = "women",
        Men = "men",
        GenderDiverse = "gender_diverse",
        LocalResidents = "local_residents",
        ImmigrationStatus = "immigration_status",
        AgencyReferral = "agency_referral",
    }
}

code_enum! {
    /// A cultural adaptation an agency offers or a person needs.
    Adaptation {
        Food = "food",
        Faith = "faith",
        GenderMatchedStaff = "gender_matched_staff",
        CommunityLanguageStaff = "community_language_staff",
        Other = "other",
    }
}

code_enum! {
    /// A question an inquiry asks (the questions of practice).
    Ask {
        CanHelp = "can_help",
        TraffickingExperience = "trafficking_experience",
        ServicesMatch = "services_match",
        CulturalAdaptation = "cultural_adaptation",
        Interpretation = "interpretation",
    }
}

code_enum! {
    /// A principal's role; it decides which event types the principal may write.
    Role {
        Caseworker = "caseworker",
        Supervisor = "supervisor",
        Auditor = "auditor",
        Evaluator = "evaluator",
        Admin = "admin",
        Service = "service",
    }
}

code_enum! {
    /// Why a key was revoked (`principal.key_revoked`).
    KeyRevokeReason {
        Lost = "lost",
        Compromised = "compromised",
        Rotated = "rotated",
        LeftAgency = "left_agency",
        Other = "other",
    }
}

code_enum! {
    /// Why a principal was deactivated (`principal.deactivated`).
    DeactivationReason {
        LeftAgency = "left_agency",
        RoleEnded = "role_ended",
        Other = "other",
    }
}

code_enum! {
    /// How a case ended (`case.closed`).
    CaseOutcome {
        ServicesCompleted = "services_completed",
        ClientWithdrew = "client_withdrew",
        Transferred = "transferred",
        LostContact = "lost_contact",
        Other = "other",
    }
}

code_enum! {
    /// Why a closed case was reopened (`case.reopened`).
    ReopenReason {
        NewNeeds = "new_needs",
        ClientReturned = "client_returned",
        Other = "other",
    }
}

code_enum! {
    /// What a consent allows: asking agencies anonymously, or referring the person.
    ConsentPurpose {
        Inquiry = "inquiry",
        Referral = "referral",
    }
}

code_enum! {
    /// How consent was given or withdrawn.
    ConsentMethod {
        Written = "written",
        Verbal = "verbal",
    }
}

code_enum! {
    /// An answer that may be uncertain (`can_help`, `eligible`).
    Tristate {
        Yes = "yes",
        No = "no",
        Unsure = "unsure",
    }
}

code_enum! {
    /// Why an agency declined a referral (`referral.declined`).
    DeclineReason {
        NotEligible = "not_eligible",
        NoCapacity = "no_capacity",
        ServiceNotOffered = "service_not_offered",
        LanguageUnavailable = "language_unavailable",
        ClientDeclined = "client_declined",
        Other = "other",
    }
}

code_enum! {
    /// Why the coordinator withdrew a referral (`referral.withdrawn`).
    ReferralWithdrawReason {
        ClientRequest = "client_request",
        ConsentWithdrawn = "consent_withdrawn",
        NeedsChanged = "needs_changed",
        Other = "other",
    }
}

code_enum! {
    /// How a referral ended (`referral.closed`).
    ReferralOutcome {
        Completed = "completed",
        ClientWithdrew = "client_withdrew",
        UnableToContact = "unable_to_contact",
        NotNeeded = "not_needed",
        Other = "other",
    }
}
