//! The inequalities between report cells that the events' lifecycles imply, declared to the
//! suppression table so that its audit knows what a careful reader knows: a reader who sees
//! 30 answers beside a hidden count of inquiries received knows it is at least 30.
//!
//! Counts are of events recorded in the period, so most of these hold only when the period
//! holds the start of what it counts: answers ≤ inquiries holds for a period from an agency's
//! first inquiry on, but an answer in February to an inquiry of January makes February's
//! answers exceed its inquiries. So each is declared when nothing of its kind was recorded
//! before the period (`period.rs`): entries are recorded in order (`recorded_at` never goes
//! back), so every response counted is then to something counted. An inequality that could
//! fail would leave the audit without a solution; one left out that holds would leave the
//! audit knowing less than the reader. The lifecycles are DESIGN §2.4's rules.
//!
//! Any period (every inquiry asks about one to seven distinct domains; a case referred has a
//! referral made):
//! - each `inquiry_domain_<d>` ≤ `inquiries_sent` ≤ `inquiry_domains` ≤ 7 × `inquiries_sent`
//! - `cases_with_referrals` ≤ `referrals_made`
//! - `cases_first_service` ≤ the sum of every agency's `services_started` (a case's first
//!   service is a `referral.services_started` in the period, which names one domain or more;
//!   the agency report has a row for every agency the log knows)
//!
//! From the start of an agency's inquiries (each is answered at most once):
//! `inquiries_answered ≤ inquiries_received`.
//!
//! From the start of an agency's referrals (a referral made is accepted, declined or
//! withdrawn; once accepted, its services start once, in distinct domains, or it is closed or
//! withdrawn; once started, it can only be closed):
//! - `accepted + declined ≤ received`
//! - `declined + withdrawn + closed ≤ received`
//! - `closed ≤ accepted`, each `services_started_<d> ≤ accepted`, and `services_started ≤
//!   7 × accepted` (the last puts `services_started` where a zero may be hidden, see
//!   `suppression`: without it, a hidden non-zero total of services would tell that a
//!   referral was accepted)
//! - each `services_started_<d> + declined + withdrawn ≤ received`
//!
//! Programme, from the start of cases (opened once, then closed and reopened in turn),
//! consents (withdrawn at most once) and referrals:
//! - `cases_reopened ≤ cases_closed ≤ cases_opened + cases_reopened`
//! - `cases_with_referrals ≤ cases_opened`
//! - `consents_withdrawn ≤ consents_granted`
//! - `cases_with_referrals ≤ consents_granted` (a referral needs a consent granted in its case
//!   before it: rule 4)
//! - `cases_first_service ≤ cases_with_referrals`, and ≤ the sum of every agency's
//!   `referrals_accepted` (services start on a referral accepted before, rule 5)

use super::columns::{AgencyCells, ProgramCells};
use super::period::{AgencyPeriod, PeriodStats};
use super::suppression::Table;
use crate::domain::Domain;

/// The most domains one event names (they are distinct).
const DOMAINS: u64 = Domain::ALL.len() as u64;

/// The inequalities of one agency's row.
pub(crate) fn agency(table: &mut Table, cells: &AgencyCells, agency: &AgencyPeriod) {
    if agency.inquiries_from_start {
        table.at_most(
            vec![cells.inquiries_answered],
            vec![cells.inquiries_received],
        );
    }
    if !agency.referrals_from_start {
        return;
    }
    let r = &cells.referrals;
    table.at_most(vec![r.accepted, r.declined], vec![r.received]);
    table.at_most(vec![r.declined, r.withdrawn, r.closed], vec![r.received]);
    table.at_most(vec![r.closed], vec![r.accepted]);
    for domain in &r.services {
        table.at_most(vec![*domain], vec![r.accepted]);
        table.at_most(vec![*domain, r.declined, r.withdrawn], vec![r.received]);
    }
    table.at_most_times(vec![r.services_total], DOMAINS, vec![r.accepted]);
}

/// The inequalities of the programme row; `agencies` are every agency row's cells.
pub(crate) fn program(
    table: &mut Table,
    cells: &ProgramCells,
    stats: &PeriodStats,
    agencies: &[AgencyCells],
) {
    for domain in &cells.inquiry_domain {
        table.at_most(vec![*domain], vec![cells.inquiries_sent]);
    }
    table.at_most(vec![cells.inquiries_sent], vec![cells.inquiry_domains]);
    table.at_most_times(
        vec![cells.inquiry_domains],
        DOMAINS,
        vec![cells.inquiries_sent],
    );
    table.at_most(vec![cells.cases_with_referrals], vec![cells.referrals_made]);
    table.at_most(
        vec![cells.cases_first_service],
        agencies
            .iter()
            .map(|a| a.referrals.services_total)
            .collect(),
    );
    if stats.cases_from_start {
        table.at_most(vec![cells.cases_reopened], vec![cells.cases_closed]);
        table.at_most(
            vec![cells.cases_closed],
            vec![cells.cases_opened, cells.cases_reopened],
        );
        table.at_most(vec![cells.cases_with_referrals], vec![cells.cases_opened]);
    }
    if stats.consents_from_start {
        table.at_most(vec![cells.consents_withdrawn], vec![cells.consents_granted]);
        table.at_most(
            vec![cells.cases_with_referrals],
            vec![cells.consents_granted],
        );
    }
    if stats.referrals_from_start {
        table.at_most(
            vec![cells.cases_first_service],
            vec![cells.cases_with_referrals],
        );
        table.at_most(
            vec![cells.cases_first_service],
            agencies.iter().map(|a| a.referrals.accepted).collect(),
        );
    }
}
