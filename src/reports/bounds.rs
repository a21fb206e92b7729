//! The inequalities between report cells that the events' lifecycles imply, declared to the
//! suppression table so that its audit knows what a careful reader knows: a reader who sees
//! 30 answers beside a hidden count of inquiries received knows it is at least 30.
//!
//! Counts are of events recorded in the period, and a response counted in it may be to
//! something counted before it: an answer in February to an inquiry of January makes
//! February's answers exceed its inquiries. So each lifecycle inequality carries what was
//! still open when the period began (`period.rs`, [`Table::at_most_carried`]):
//! `answered ≤ received + inquiries unanswered at the start`. A reader of earlier reports may
//! know that constant exactly (a month whose every inquiry was answered leaves 0), and the
//! audit assumes they do; for a period from the start of the log it is 0. Entries are
//! recorded in order (`recorded_at` never goes back), so a response is never counted before
//! what it responds to. An inequality that could fail would leave the audit without a
//! solution; one left out that holds would leave the audit knowing less than the reader. The
//! lifecycles are DESIGN §2.4's rules.
//!
//! Any period (every inquiry asks about one to seven distinct domains; a case referred has a
//! referral made):
//! - each `inquiry_domain_<d>` ≤ `inquiries_sent` ≤ `inquiry_domains` ≤ 7 × `inquiries_sent`
//! - `cases_with_referrals` ≤ `referrals_made`
//! - `cases_first_service` ≤ the sum of every agency's `services_started` (a case's first
//!   service is a `referral.services_started` in the period, which names one domain or more;
//!   the agency report has a row for every agency registered by the period's end)
//!
//! Per agency, with I, P, A, S the inquiries unanswered, referrals pending, accepted (services
//! not started) and started (not closed) at the start (each inquiry is answered at most once;
//! a referral made is accepted, declined or withdrawn; once accepted, its services start
//! once, in distinct domains, or it is closed or withdrawn; once started, it can only be
//! closed):
//! - `inquiries_answered ≤ inquiries_received + I`
//! - `accepted + declined ≤ received + P`
//! - `declined + withdrawn + closed ≤ received + P + A + S`
//! - `closed ≤ accepted + A + S`, each `services_started_<d> ≤ accepted + A`, and
//!   `services_started ≤ 7 × (accepted + A)` (the last puts `services_started` where a zero
//!   may be hidden, see `suppression`: without it, a hidden non-zero total of services would
//!   tell that a referral was accepted)
//! - each `services_started_<d> + declined + withdrawn ≤ received + P + A`
//!
//! Programme (cases are opened once, then closed and reopened in turn; consents withdrawn at
//! most once; a referral needs an open case and a consent granted before it, not withdrawn:
//! rule 4; a first service needs a referral accepted before it: rule 5), with the cases open
//! (O) and closed (C) at the start, the consents granted and not withdrawn (G), the cases
//! referred before and not yet served (R) and every agency's A summed:
//! - `cases_reopened ≤ cases_closed + C`, `cases_closed ≤ cases_opened + cases_reopened + O`
//! - `cases_with_referrals ≤ cases_opened + cases_reopened + O`
//! - `consents_withdrawn ≤ consents_granted + G`
//! - `cases_with_referrals ≤ consents_granted + G`
//! - `cases_first_service ≤ cases_with_referrals + R`, and ≤ the sum of every agency's
//!   `referrals_accepted` + ΣA
//! - `cases_first_service ≤ cases_opened + cases_reopened + O` and
//!   `≤ cases_with_referrals + cases_reopened + O` (a service starts only on an open case,
//!   rule 1; a case opened in the period was referred in it)

use super::columns::{AgencyCells, ProgramCells};
use super::period::{AgencyPeriod, PeriodStats};
use super::suppression::Table;
use crate::domain::Domain;

/// The most domains one event names (they are distinct).
const DOMAINS: u64 = Domain::ALL.len() as u64;

/// The inequalities of one agency's row.
pub(crate) fn agency(table: &mut Table, cells: &AgencyCells, agency: &AgencyPeriod) {
    let c = &agency.carried;
    table.at_most_carried(
        vec![cells.inquiries_answered],
        1,
        vec![cells.inquiries_received],
        c.inquiries,
    );
    let r = &cells.referrals;
    let (pending, accepted, started) = (c.pending, c.accepted, c.started);
    table.at_most_carried(vec![r.accepted, r.declined], 1, vec![r.received], pending);
    table.at_most_carried(
        vec![r.declined, r.withdrawn, r.closed],
        1,
        vec![r.received],
        pending + accepted + started,
    );
    table.at_most_carried(vec![r.closed], 1, vec![r.accepted], accepted + started);
    for domain in &r.services {
        table.at_most_carried(vec![*domain], 1, vec![r.accepted], accepted);
        table.at_most_carried(
            vec![*domain, r.declined, r.withdrawn],
            1,
            vec![r.received],
            pending + accepted,
        );
    }
    table.at_most_carried(vec![r.services_total], DOMAINS, vec![r.accepted], accepted);
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
    let c = &stats.carried;
    table.at_most_carried(
        vec![cells.cases_reopened],
        1,
        vec![cells.cases_closed],
        c.cases_closed,
    );
    let opened = vec![cells.cases_opened, cells.cases_reopened];
    table.at_most_carried(vec![cells.cases_closed], 1, opened.clone(), c.cases_open);
    table.at_most_carried(vec![cells.cases_with_referrals], 1, opened, c.cases_open);
    table.at_most_carried(
        vec![cells.consents_withdrawn],
        1,
        vec![cells.consents_granted],
        c.consents_active,
    );
    table.at_most_carried(
        vec![cells.cases_with_referrals],
        1,
        vec![cells.consents_granted],
        c.consents_active,
    );
    table.at_most_carried(
        vec![cells.cases_first_service],
        1,
        vec![cells.cases_with_referrals],
        c.referred_unserved,
    );
    // A service starts only on an open case (rule 1): each case first served in the
    // period was open when it began, or opened or reopened in it; and one opened in it was
    // referred in it.
    table.at_most_carried(
        vec![cells.cases_first_service],
        1,
        vec![cells.cases_opened, cells.cases_reopened],
        c.cases_open,
    );
    table.at_most_carried(
        vec![cells.cases_first_service],
        1,
        vec![cells.cases_with_referrals, cells.cases_reopened],
        c.cases_open,
    );
    table.at_most_carried(
        vec![cells.cases_first_service],
        1,
        agencies.iter().map(|a| a.referrals.accepted).collect(),
        c.accepted_unstarted,
    );
}
