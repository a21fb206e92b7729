//! The projection's buckets: what one agency did on one UTC day, and what the programme as a
//! whole did on one day. Summing the days of a period gives the same type back.

use std::collections::BTreeMap;

use crate::domain::{CaseOutcome, DeclineReason, Domain, ReferralOutcome, Tristate};

/// Index of a coded value in its enum's `ALL` list; the arrays below are laid out that way.
pub fn slot<T: PartialEq + Copy>(all: &[T], value: T) -> usize {
    all.iter().position(|v| *v == value).unwrap_or(0)
}

/// Yes/no split, `[yes, no]`.
pub type YesNo = [u64; 2];

/// `[yes, no]` index of a boolean.
pub fn yes_no(value: bool) -> usize {
    usize::from(!value)
}

/// Per-agency statistics for one day (or, summed, for a period). Inquiry figures count
/// inquiries addressed to the agency; referral figures count referrals made to it. Each event
/// counts on the day it was recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgencyStats {
    /// `inquiry.sent` to the agency.
    pub inquiries_received: u64,
    /// `inquiry.answered` for inquiries to the agency.
    pub inquiries_answered: u64,
    /// Answers by `can_help`, in `Tristate::ALL` order.
    pub can_help: [u64; 3],
    /// Answers by `trafficking_experience`.
    pub trafficking_experience: YesNo,
    /// Answers by `cultural_adaptation`.
    pub cultural_adaptation: YesNo,
    /// Answers without trafficking experience, by `support_offered`.
    pub support_offered: YesNo,
    /// Answers offering interpretation in at least one language, or none.
    pub interpretation: YesNo,
    /// Answers offering each interpretation language.
    pub languages: BTreeMap<String, u64>,
    /// Seconds from `inquiry.sent` to `inquiry.answered`, one per answer.
    pub response_seconds: Vec<u32>,
    /// `referral.made` to the agency.
    pub referrals_received: u64,
    /// `referral.accepted`.
    pub referrals_accepted: u64,
    /// Seconds from `referral.made` to `referral.accepted`, one per acceptance.
    pub accept_seconds: Vec<u32>,
    /// `referral.declined` by reason, in `DeclineReason::ALL` order.
    pub declined: [u64; 6],
    /// `referral.withdrawn`.
    pub referrals_withdrawn: u64,
    /// Services started (one per domain of each `referral.services_started`), `Domain::ALL` order.
    pub services_started: [u64; 7],
    /// `referral.closed` by outcome, in `ReferralOutcome::ALL` order.
    pub closed: [u64; 5],
    /// How the day's events changed the number of the agency's referrals pending, accepted
    /// (services not started) and started (`fold::Stage` order). Summed over the days before
    /// a period: what was open when it began. Never reported.
    pub open_change: [i64; 3],
}

/// Programme-wide statistics for one day (or a period).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgramStats {
    /// `case.opened`.
    pub cases_opened: u64,
    /// `case.reopened`.
    pub cases_reopened: u64,
    /// `case.closed` by outcome, in `CaseOutcome::ALL` order.
    pub cases_closed: [u64; 5],
    /// `consent.granted`.
    pub consents_granted: u64,
    /// `consent.withdrawn`.
    pub consents_withdrawn: u64,
    /// Services asked about in inquiries (one per domain of each `inquiry.sent`).
    pub inquiry_domains: [u64; 7],
    /// Seconds from `case.opened` to the case's first `referral.services_started`, one per case.
    pub first_service_seconds: Vec<u32>,
}

fn add<T: Copy + std::ops::AddAssign, const N: usize>(into: &mut [T; N], from: &[T; N]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += *b;
    }
}

impl AgencyStats {
    /// Adds another bucket's figures to this one.
    pub fn absorb(&mut self, other: &AgencyStats) {
        self.inquiries_received += other.inquiries_received;
        self.inquiries_answered += other.inquiries_answered;
        add(&mut self.can_help, &other.can_help);
        add(
            &mut self.trafficking_experience,
            &other.trafficking_experience,
        );
        add(&mut self.cultural_adaptation, &other.cultural_adaptation);
        add(&mut self.support_offered, &other.support_offered);
        add(&mut self.interpretation, &other.interpretation);
        for (language, n) in &other.languages {
            *self.languages.entry(language.clone()).or_default() += n;
        }
        self.response_seconds
            .extend_from_slice(&other.response_seconds);
        self.referrals_received += other.referrals_received;
        self.referrals_accepted += other.referrals_accepted;
        self.accept_seconds.extend_from_slice(&other.accept_seconds);
        add(&mut self.declined, &other.declined);
        self.referrals_withdrawn += other.referrals_withdrawn;
        add(&mut self.services_started, &other.services_started);
        add(&mut self.closed, &other.closed);
        add(&mut self.open_change, &other.open_change);
    }
}

impl ProgramStats {
    /// Adds another bucket's figures to this one.
    pub fn absorb(&mut self, other: &ProgramStats) {
        self.cases_opened += other.cases_opened;
        self.cases_reopened += other.cases_reopened;
        add(&mut self.cases_closed, &other.cases_closed);
        self.consents_granted += other.consents_granted;
        self.consents_withdrawn += other.consents_withdrawn;
        add(&mut self.inquiry_domains, &other.inquiry_domains);
        self.first_service_seconds
            .extend_from_slice(&other.first_service_seconds);
    }
}

/// Slots of the coded values, checked against the array sizes above at compile time.
pub mod slots {
    use super::*;

    const _: () = assert!(Tristate::ALL.len() == 3);
    const _: () = assert!(DeclineReason::ALL.len() == 6);
    const _: () = assert!(Domain::ALL.len() == 7);
    const _: () = assert!(ReferralOutcome::ALL.len() == 5);
    const _: () = assert!(CaseOutcome::ALL.len() == 5);
}
