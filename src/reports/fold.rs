//! The statistics projection: a deterministic fold over accepted entries, in log order, into
//! per-(agency, UTC day) and per-day programme buckets. It keeps, per case, only what later
//! events need to be attributed and timed (which agency an inquiry or referral went to, and
//! when); nothing of it ever appears in a report.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Utc};

use super::buckets::{slot, yes_no, AgencyStats, ProgramStats};
use crate::domain::{
    AgencyId, CaseId, CaseOutcome, DeclineReason, Domain, EventData, EventPayload, InquiryId,
    ReferralId, ReferralOutcome, StreamId, Tristate,
};

/// A UTC calendar day, as days from the common era (chrono's `num_days_from_ce`).
pub type Day = i32;

/// The UTC day of a timestamp.
pub fn day_of(at: &DateTime<Utc>) -> Day {
    at.date_naive().num_days_from_ce()
}

/// One agency's buckets.
#[derive(Debug, Clone)]
pub(crate) struct AgencyTrack {
    pub(crate) id: AgencyId,
    /// The directory name, once `agency.registered` has been folded.
    pub(crate) name: Option<String>,
    /// The day the log first named the agency (its registration: rules refuse inquiries
    /// and referrals to an unregistered agency).
    pub(crate) first_day: Day,
    pub(crate) days: BTreeMap<Day, AgencyStats>,
}

/// Where an inquiry or referral went, and when (microseconds since the epoch).
#[derive(Debug, Clone, Copy)]
struct Sent {
    agency: u32,
    at: i64,
}

/// Where a referral stands (DESIGN §2.4 rule 5): made (pending), accepted, services started,
/// or ended (declined, withdrawn or closed). The first three are counted per day in
/// [`AgencyStats::open_change`], so a period knows what was open when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Pending = 0,
    Accepted = 1,
    Started = 2,
    Ended = 3,
}

/// What later events of a case need to be attributed and timed.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseTrack {
    opened_at: Option<i64>,
    /// The day of the case's first `referral.services_started`.
    pub(crate) served_on: Option<Day>,
    inquiries: HashMap<InquiryId, Sent>,
    referrals: HashMap<ReferralId, (Sent, Stage)>,
    /// Days on which referrals were made in this case, for "cases with referrals".
    pub(crate) referral_days: Vec<Day>,
}

/// The statistics projection (DESIGN §5). Reports are read from it, never from the log.
#[derive(Debug, Clone, Default)]
pub struct StatsProjection {
    position: u64,
    pub(crate) agencies: Vec<AgencyTrack>,
    agency_index: HashMap<AgencyId, u32>,
    pub(crate) program: BTreeMap<Day, ProgramStats>,
    pub(crate) cases: Vec<CaseTrack>,
    case_index: HashMap<CaseId, u32>,
}

fn seconds_between(from: i64, to: i64) -> u32 {
    // The server clock orders entries, so `to >= from`; clamp anyway rather than wrap.
    u32::try_from(to.saturating_sub(from).max(0) / 1_000_000).unwrap_or(u32::MAX)
}

impl StatsProjection {
    /// An empty projection at log position 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries folded so far: the log index of the next entry to apply.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Folds the accepted entry at `index`, recorded at `recorded_at`. Entries must come in log
    /// order; an entry at or below the current position is ignored (already folded).
    pub fn apply(&mut self, index: u64, recorded_at: DateTime<Utc>, event: &EventPayload) {
        if index < self.position {
            return;
        }
        self.position = index + 1;
        let at = recorded_at.timestamp_micros();
        let day = day_of(&recorded_at);
        match (&event.stream, &event.data) {
            (
                StreamId::Agency(id),
                EventData::AgencyRegistered(d) | EventData::AgencyUpdated(d),
            ) => {
                let a = self.agency(id, day);
                self.agencies[a as usize].name = Some(d.name.as_str().to_owned());
            }
            (StreamId::Case(case), data) => {
                let c = self.case(case);
                self.apply_case(c, data, at, day);
            }
            _ => {}
        }
    }

    fn agency(&mut self, id: &AgencyId, day: Day) -> u32 {
        if let Some(a) = self.agency_index.get(id) {
            return *a;
        }
        let a = self.agencies.len() as u32;
        self.agencies.push(AgencyTrack {
            id: id.clone(),
            name: None,
            first_day: day,
            days: BTreeMap::new(),
        });
        self.agency_index.insert(id.clone(), a);
        a
    }

    fn case(&mut self, id: &CaseId) -> usize {
        let next = self.cases.len() as u32;
        let c = *self.case_index.entry(*id).or_insert(next);
        if c == next {
            self.cases.push(CaseTrack::default());
        }
        c as usize
    }

    fn agency_day(&mut self, agency: u32, day: Day) -> &mut AgencyStats {
        self.agencies[agency as usize].days.entry(day).or_default()
    }

    fn program_day(&mut self, day: Day) -> &mut ProgramStats {
        self.program.entry(day).or_default()
    }

    fn apply_case(&mut self, c: usize, data: &EventData, at: i64, day: Day) {
        match data {
            EventData::CaseOpened(_) => {
                self.cases[c].opened_at.get_or_insert(at);
                self.program_day(day).cases_opened += 1;
            }
            EventData::CaseReopened(_) => self.program_day(day).cases_reopened += 1,
            EventData::CaseClosed(d) => {
                self.program_day(day).cases_closed[slot(CaseOutcome::ALL, d.outcome)] += 1;
            }
            EventData::ConsentGranted(_) => self.program_day(day).consents_granted += 1,
            EventData::ConsentWithdrawn(_) => self.program_day(day).consents_withdrawn += 1,
            EventData::InquirySent(d) => {
                let agency = self.agency(&d.agency, day);
                self.cases[c]
                    .inquiries
                    .insert(d.inquiry_id.clone(), Sent { agency, at });
                self.agency_day(agency, day).inquiries_received += 1;
                let program = self.program_day(day);
                for domain in d.domains.iter() {
                    program.inquiry_domains[slot(Domain::ALL, *domain)] += 1;
                }
            }
            EventData::InquiryAnswered(d) => {
                // Answered once (rule §2.4.5): removing the inquiry makes a repeat a no-op.
                if let Some(sent) = self.cases[c].inquiries.remove(&d.inquiry_id) {
                    let s = self.agency_day(sent.agency, day);
                    s.inquiries_answered += 1;
                    s.can_help[slot(Tristate::ALL, d.can_help)] += 1;
                    s.trafficking_experience[yes_no(d.trafficking_experience)] += 1;
                    s.cultural_adaptation[yes_no(d.cultural_adaptation)] += 1;
                    if !d.trafficking_experience {
                        s.support_offered[yes_no(d.support_offered)] += 1;
                    }
                    s.interpretation[yes_no(!d.interpretation_languages.is_empty())] += 1;
                    for language in d.interpretation_languages.iter() {
                        *s.languages.entry(language.canonical()).or_default() += 1;
                    }
                    s.response_seconds.push(seconds_between(sent.at, at));
                }
            }
            _ => self.apply_referral(c, data, at, day),
        }
    }

    fn apply_referral(&mut self, c: usize, data: &EventData, at: i64, day: Day) {
        if let EventData::ReferralMade(d) = data {
            let agency = self.agency(&d.agency, day);
            let case = &mut self.cases[c];
            case.referrals
                .insert(d.referral_id.clone(), (Sent { agency, at }, Stage::Pending));
            case.referral_days.push(day);
            let s = self.agency_day(agency, day);
            s.referrals_received += 1;
            s.open_change[Stage::Pending as usize] += 1;
            return;
        }
        let referral_id = match data {
            EventData::ReferralAccepted(d) => &d.referral_id,
            EventData::ReferralDeclined(d) => &d.referral_id,
            EventData::ReferralWithdrawn(d) => &d.referral_id,
            EventData::ReferralServicesStarted(d) => &d.referral_id,
            EventData::ReferralClosed(d) => &d.referral_id,
            _ => return,
        };
        let Some((sent, stage)) = self.cases[c].referrals.get_mut(referral_id) else {
            return;
        };
        let (sent, was) = (*sent, *stage);
        let now = match data {
            EventData::ReferralAccepted(_) => Stage::Accepted,
            EventData::ReferralServicesStarted(_) => Stage::Started,
            _ => Stage::Ended,
        };
        *stage = now;
        if let EventData::ReferralServicesStarted(_) = data {
            self.first_service(c, at, day);
        }
        let s = self.agency_day(sent.agency, day);
        for (stage, change) in [(was, -1), (now, 1)] {
            if stage != Stage::Ended {
                s.open_change[stage as usize] += change;
            }
        }
        match data {
            EventData::ReferralAccepted(_) => {
                s.referrals_accepted += 1;
                s.accept_seconds.push(seconds_between(sent.at, at));
            }
            EventData::ReferralDeclined(d) => {
                s.declined[slot(DeclineReason::ALL, d.reason)] += 1;
            }
            EventData::ReferralWithdrawn(_) => s.referrals_withdrawn += 1,
            EventData::ReferralServicesStarted(d) => {
                for domain in d.domains.iter() {
                    s.services_started[slot(Domain::ALL, *domain)] += 1;
                }
            }
            EventData::ReferralClosed(d) => {
                s.closed[slot(ReferralOutcome::ALL, d.outcome)] += 1;
            }
            _ => {}
        }
    }

    /// Times the case's first service, once per case.
    fn first_service(&mut self, c: usize, at: i64, day: Day) {
        let case = &mut self.cases[c];
        if case.served_on.is_some() {
            return;
        }
        case.served_on = Some(day);
        if let Some(opened) = case.opened_at {
            let seconds = seconds_between(opened, at);
            self.program_day(day).first_service_seconds.push(seconds);
        }
    }
}
