//! The columns of the two reports, in order, with their meaning and the equations between
//! them. Every count counts events recorded (server `recorded_at`) on the period's UTC days.

use super::bounds;
use super::buckets::{AgencyStats, ProgramStats, YesNo};
use super::layout::{ColumnKind, RowBuilder, Slot, Value};
use super::period::{AgencyPeriod, PeriodStats};
use super::suppression::{CellId, Table};
use crate::domain::{CaseOutcome, DeclineReason, Domain, ReferralOutcome, Tristate};

/// The cells of an agency row that relations beyond its breakdowns need: the programme
/// totals sum its received counts, and `bounds.rs` relates its responses to them.
pub(crate) struct AgencyCells {
    pub(crate) inquiries_received: CellId,
    pub(crate) inquiries_answered: CellId,
    pub(crate) referrals: ReferralCells,
}

/// An agency's referral counts.
pub(crate) struct ReferralCells {
    pub(crate) received: CellId,
    pub(crate) accepted: CellId,
    pub(crate) declined: CellId,
    pub(crate) withdrawn: CellId,
    pub(crate) closed: CellId,
    /// Services started, in all and by domain.
    pub(crate) services_total: CellId,
    pub(crate) services: Vec<CellId>,
}

/// The programme row's counts that `bounds.rs` relates.
pub(crate) struct ProgramCells {
    pub(crate) cases_opened: CellId,
    pub(crate) cases_reopened: CellId,
    pub(crate) cases_closed: CellId,
    pub(crate) consents_granted: CellId,
    pub(crate) consents_withdrawn: CellId,
    pub(crate) inquiries_sent: CellId,
    pub(crate) inquiry_domains: CellId,
    /// Inquiries by domain.
    pub(crate) inquiry_domain: Vec<CellId>,
    pub(crate) referrals_made: CellId,
    pub(crate) cases_with_referrals: CellId,
    pub(crate) cases_first_service: CellId,
}

fn codes<T: Copy + std::fmt::Display>(all: &[T], counts: &[u64]) -> Vec<(String, u64)> {
    all.iter()
        .map(|c| c.to_string())
        .zip(counts.iter().copied())
        .collect()
}

fn borrowed(parts: &[(String, u64)]) -> Vec<(&str, u64)> {
    parts.iter().map(|(c, n)| (c.as_str(), *n)).collect()
}

fn yes_no(counts: &YesNo) -> [(&'static str, u64); 2] {
    [("yes", counts[0]), ("no", counts[1])]
}

/// The agency report's columns (also when there are no agencies to lay out).
pub(crate) fn agency_columns(k: u64) -> Vec<super::Column> {
    let mut table = Table::new();
    let mut row = RowBuilder::new(&mut table, k);
    agency_row(
        &mut row,
        &AgencyPeriod {
            id: "x".parse().expect("a valid slug"),
            name: None,
            stats: AgencyStats::default(),
            carried: Default::default(),
        },
    );
    row.columns
}

/// Lays out one agency's row.
pub(crate) fn agency_row(row: &mut RowBuilder<'_>, agency: &AgencyPeriod) -> AgencyCells {
    let s = &agency.stats;
    row.push(
        "agency",
        ColumnKind::Text,
        "Agency id (the directory's, not a person's)",
        Slot::Fixed(Value::Text(agency.id.to_string())),
    );
    let name = agency.name.clone().map_or(Value::Null, Value::Text);
    row.push(
        "name",
        ColumnKind::Text,
        "Agency name from the directory",
        Slot::Fixed(name),
    );
    let (inquiries_received, inquiries_answered) = inquiry_columns(row, s);
    let cells = AgencyCells {
        inquiries_received,
        inquiries_answered,
        referrals: referral_columns(row, s),
    };
    bounds::agency(row.table, &cells, agency);
    cells
}

/// The inquiry columns; returns the received and answered counts.
fn inquiry_columns(row: &mut RowBuilder<'_>, s: &AgencyStats) -> (CellId, CellId) {
    let received = row.count(
        "inquiries_received",
        "Inquiries sent to the agency (inquiry.sent)",
        s.inquiries_received,
    );
    let (answered, can_help) = row.breakdown(
        (
            "inquiries_answered",
            "Inquiries to the agency answered (inquiry.answered)",
        ),
        "can_help",
        "Answers with can_help = {}",
        &borrowed(&codes(Tristate::ALL, &s.can_help)),
    );
    row.push(
        "can_help_rate",
        ColumnKind::Rate,
        "can_help_yes / inquiries_answered, 3 decimals; suppressed with either",
        Slot::Rate {
            num: can_help[0],
            den: answered,
            places: 3,
        },
    );
    row.durations(
        "response_time",
        "the time from inquiry.sent to inquiry.answered, over the answers counted",
        answered,
        s.response_seconds.clone(),
    );
    answer_columns(row, s, answered);
    (received, answered)
}

/// What the answers said: breakdowns of `answered` and the languages offered.
fn answer_columns(row: &mut RowBuilder<'_>, s: &AgencyStats, answered: CellId) {
    let [te_yes, te_no] = yes_no(&s.trafficking_experience);
    let te = row.parts(
        answered,
        "trafficking_experience",
        "Answers saying the agency has trafficking experience: {}",
        &[te_yes, te_no],
    );
    row.parts(
        answered,
        "cultural_adaptation",
        "Answers saying the agency can adapt culturally as asked: {}",
        &yes_no(&s.cultural_adaptation),
    );
    row.parts(
        te[1],
        "support_offered",
        "Answers without trafficking experience where support was offered to the agency: {}",
        &yes_no(&s.support_offered),
    );
    let offered = row.parts(
        answered,
        "interpretation_offered",
        "Answers offering interpretation in at least one language: {}",
        &yes_no(&s.interpretation),
    );
    let k = row.k;
    let languages = s
        .languages
        .iter()
        .filter(|(_, n)| **n >= k)
        .map(|(l, _)| l.clone())
        .collect();
    row.push(
        "interpretation_languages",
        ColumnKind::List,
        "Interpretation languages offered in at least k answers (others are left out); \
         suppressed with the answer counts, since a language listed means k answers offered it",
        Slot::Guarded {
            value: Value::List(languages),
            by: vec![answered, offered[0], offered[1]],
        },
    );
}

fn referral_columns(row: &mut RowBuilder<'_>, s: &AgencyStats) -> ReferralCells {
    let received = row.count(
        "referrals_received",
        "Referrals made to the agency (referral.made)",
        s.referrals_received,
    );
    let accepted = row.count(
        "referrals_accepted",
        "Referrals the agency accepted (referral.accepted)",
        s.referrals_accepted,
    );
    row.durations(
        "time_to_accept",
        "the time from referral.made to referral.accepted, over the acceptances counted",
        accepted,
        s.accept_seconds.clone(),
    );
    let (declined, _) = row.breakdown(
        (
            "referrals_declined",
            "Referrals the agency declined (referral.declined)",
        ),
        "declined",
        "Referrals declined with reason {}",
        &borrowed(&codes(DeclineReason::ALL, &s.declined)),
    );
    let withdrawn = row.count(
        "referrals_withdrawn",
        "Referrals to the agency withdrawn by the coordinator (referral.withdrawn)",
        s.referrals_withdrawn,
    );
    let (services_total, services) = row.breakdown(
        (
            "services_started",
            "Services started: one per domain of each referral.services_started",
        ),
        "services_started",
        "Services started in domain {}",
        &borrowed(&codes(Domain::ALL, &s.services_started)),
    );
    let (closed, _) = row.breakdown(
        ("referrals_closed", "Referrals closed (referral.closed)"),
        "closed",
        "Referrals closed with outcome {}",
        &borrowed(&codes(ReferralOutcome::ALL, &s.closed)),
    );
    ReferralCells {
        received,
        accepted,
        declined,
        withdrawn,
        closed,
        services_total,
        services,
    }
}

/// Lays out the programme row; `agencies` are the agency rows' cells its totals sum.
pub(crate) fn program_row(row: &mut RowBuilder<'_>, stats: &PeriodStats, agencies: &[AgencyCells]) {
    let p = &stats.program;
    let (cases_opened, cases_reopened, cases_closed) = case_columns(row, p);
    let (consents_granted, consents_withdrawn) = consent_columns(row, p);
    let inquiries: Vec<CellId> = agencies.iter().map(|a| a.inquiries_received).collect();
    let inquiries_sent = column_total(
        row,
        "inquiries_sent",
        "Inquiries sent, all agencies (the column total of inquiries_received)",
        inquiries,
    );
    let (inquiry_domains, inquiry_domain) = row.breakdown(
        (
            "inquiry_domains",
            "Services asked about in inquiries: one per domain of each inquiry.sent",
        ),
        "inquiry_domain",
        "Inquiries asking about domain {}",
        &borrowed(&codes(Domain::ALL, &p.inquiry_domains)),
    );
    let referrals: Vec<CellId> = agencies.iter().map(|a| a.referrals.received).collect();
    let made = column_total(
        row,
        "referrals_made",
        "Referrals made, all agencies (the column total of referrals_received)",
        referrals,
    );
    let cases = row.count(
        "cases_with_referrals",
        "Distinct cases with at least one referral made in the period",
        stats.cases_with_referrals,
    );
    row.push(
        "referrals_per_case",
        ColumnKind::Rate,
        "referrals_made / cases_with_referrals, 2 decimals; suppressed with either",
        Slot::Rate {
            num: made,
            den: cases,
            places: 2,
        },
    );
    let served = row.count(
        "cases_first_service",
        "Cases whose first service started in the period (first referral.services_started)",
        p.first_service_seconds.len() as u64,
    );
    row.durations(
        "time_to_first_service",
        "the time from case.opened to the case's first referral.services_started",
        served,
        p.first_service_seconds.clone(),
    );
    let cells = ProgramCells {
        cases_opened,
        cases_reopened,
        cases_closed,
        consents_granted,
        consents_withdrawn,
        inquiries_sent,
        inquiry_domains,
        inquiry_domain,
        referrals_made: made,
        cases_with_referrals: cases,
        cases_first_service: served,
    };
    bounds::program(row.table, &cells, stats, agencies);
}

/// A programme total that is the sum of one agency column.
fn column_total(
    row: &mut RowBuilder<'_>,
    key: &str,
    description: &str,
    column: Vec<CellId>,
) -> CellId {
    let sum = column.iter().map(|c| row.table.value(*c)).sum();
    let total = row.count(key, description, sum);
    row.table.equation(total, column);
    total
}

/// Cases opened, reopened and closed.
fn case_columns(row: &mut RowBuilder<'_>, p: &ProgramStats) -> (CellId, CellId, CellId) {
    let opened = row.count("cases_opened", "Cases opened (case.opened)", p.cases_opened);
    let reopened = row.count(
        "cases_reopened",
        "Cases reopened (case.reopened)",
        p.cases_reopened,
    );
    let (closed, _) = row.breakdown(
        ("cases_closed", "Cases closed (case.closed)"),
        "cases_closed",
        "Cases closed with outcome {}",
        &borrowed(&codes(CaseOutcome::ALL, &p.cases_closed)),
    );
    (opened, reopened, closed)
}

/// Consents granted and withdrawn.
fn consent_columns(row: &mut RowBuilder<'_>, p: &ProgramStats) -> (CellId, CellId) {
    let granted = row.count(
        "consents_granted",
        "Consents granted (consent.granted)",
        p.consents_granted,
    );
    let withdrawn = row.count(
        "consents_withdrawn",
        "Consents withdrawn (consent.withdrawn)",
        p.consents_withdrawn,
    );
    (granted, withdrawn)
}
