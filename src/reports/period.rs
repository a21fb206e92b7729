//! Report periods (`from`/`to` UTC dates, inclusive) and summing the projection's day buckets
//! over one. Work is proportional to the days and agencies with activity, not to the log.

use chrono::{Datelike, NaiveDate};

use super::buckets::{AgencyStats, ProgramStats};
use super::fold::{Day, Stage, StatsProjection};
use crate::domain::AgencyId;

/// An inclusive range of UTC calendar days, by `recorded_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

/// Why a period was refused (HTTP 400 `bad_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// A bound is missing.
    #[error("`{0}` is required: a UTC date such as 2026-11-28")]
    Missing(&'static str),
    /// A bound is not a `YYYY-MM-DD` date.
    #[error("`{0}` must be a UTC date written YYYY-MM-DD, such as 2026-11-28")]
    NotADate(&'static str),
    /// `from` is after `to`.
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed {
        /// The start.
        from: NaiveDate,
        /// The end.
        to: NaiveDate,
    },
    /// The server publishes whole calendar periods only (`--report-periods`).
    #[error(
        "this server publishes reports for whole calendar {unit}s, from the second day after \
         they end (--report-periods {unit}), so that no two reports overlap and none changes \
         once published; ask for one, such as from={example_from}&to={example_to}"
    )]
    NotACalendarPeriod {
        /// `month`, `quarter` or `year`.
        unit: &'static str,
        /// The first day of the latest such period that has ended.
        example_from: NaiveDate,
        /// Its last day.
        example_to: NaiveDate,
    },
}

fn parse_date(name: &'static str, text: Option<&str>) -> Result<NaiveDate, PeriodError> {
    let text = text.ok_or(PeriodError::Missing(name))?;
    // Exactly `YYYY-MM-DD`: chrono alone would also take `2026-1-5` or a leading `+`.
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(PeriodError::NotADate(name));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| PeriodError::NotADate(name))
}

impl Period {
    /// The period from `from` to `to`, both inclusive.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if from > to {
            return Err(PeriodError::Reversed { from, to });
        }
        Ok(Self { from, to })
    }

    /// Parses the `from` and `to` query values.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, PeriodError> {
        Self::new(parse_date("from", from)?, parse_date("to", to)?)
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day.
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// The days before the period.
    fn before(&self) -> std::ops::RangeTo<Day> {
        ..self.from.num_days_from_ce()
    }

    fn days(&self) -> std::ops::RangeInclusive<Day> {
        self.from.num_days_from_ce()..=self.to.num_days_from_ce()
    }

    /// Whether `day` lies in the period.
    pub fn contains(&self, day: Day) -> bool {
        self.days().contains(&day)
    }

    /// Whether the period reaches `day`: `day` is its last day or before.
    fn reaches(&self, day: Day) -> bool {
        day <= self.to.num_days_from_ce()
    }
}

/// One agency's figures over a period.
#[derive(Debug, Clone)]
pub struct AgencyPeriod {
    /// The agency.
    pub id: AgencyId,
    /// Its directory name, if registered.
    pub name: Option<String>,
    /// Its figures.
    pub stats: AgencyStats,
    /// What was still open when the period began.
    pub carried: AgencyCarried,
}

/// An agency's inquiries and referrals still open when a period began: the responses
/// counted in the period are to these or to those counted in it. All 0 for a period that
/// starts before the agency's first inquiry and referral.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgencyCarried {
    /// Inquiries sent to the agency and not answered.
    pub inquiries: u64,
    /// Referrals made to it, neither accepted nor ended.
    pub pending: u64,
    /// Referrals it accepted whose services had not started, not ended.
    pub accepted: u64,
    /// Referrals whose services had started, not closed.
    pub started: u64,
}

impl AgencyCarried {
    /// What the days before a period (`before`) left open.
    fn after<'a>(before: impl Iterator<Item = &'a AgencyStats>) -> Self {
        let (mut sent, mut answered, mut open) = (0u64, 0u64, [0i64; 3]);
        for day in before {
            sent += day.inquiries_received;
            answered += day.inquiries_answered;
            for (o, change) in open.iter_mut().zip(day.open_change) {
                *o += change;
            }
        }
        let open = |stage: Stage| u64::try_from(open[stage as usize]).unwrap_or(0);
        Self {
            inquiries: sent.saturating_sub(answered),
            pending: open(Stage::Pending),
            accepted: open(Stage::Accepted),
            started: open(Stage::Started),
        }
    }
}

/// The programme's cases and consents open when a period began (all 0 for a period that
/// starts before the first case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramCarried {
    /// Cases open (opened or reopened, not closed since).
    pub cases_open: u64,
    /// Cases closed and not reopened.
    pub cases_closed: u64,
    /// Consents granted and not withdrawn (some may have expired: a reader cannot tell).
    pub consents_active: u64,
    /// Cases with a referral made before the period and no service started before it.
    pub referred_unserved: u64,
    /// Referrals accepted, services not started, not ended, over every agency.
    pub accepted_unstarted: u64,
}

impl ProgramCarried {
    /// What the days before a period (`before`) left open; `referred_unserved` and
    /// `accepted_unstarted` are the caller's to fill.
    fn after<'a>(before: impl Iterator<Item = &'a ProgramStats>) -> Self {
        let (mut opened, mut reopened, mut closed) = (0u64, 0u64, 0u64);
        let (mut granted, mut withdrawn) = (0u64, 0u64);
        for day in before {
            opened += day.cases_opened;
            reopened += day.cases_reopened;
            closed += day.cases_closed.iter().sum::<u64>();
            granted += day.consents_granted;
            withdrawn += day.consents_withdrawn;
        }
        // A case is closed from open, and reopened from closed (rule 1).
        Self {
            cases_open: (opened + reopened).saturating_sub(closed),
            cases_closed: closed.saturating_sub(reopened),
            consents_active: granted.saturating_sub(withdrawn),
            referred_unserved: 0,
            accepted_unstarted: 0,
        }
    }
}

/// Everything a report needs for one period.
#[derive(Debug, Clone, Default)]
pub struct PeriodStats {
    /// Every agency the log knows, by id.
    pub agencies: Vec<AgencyPeriod>,
    /// Programme figures.
    pub program: ProgramStats,
    /// Distinct cases with at least one referral made in the period.
    pub cases_with_referrals: u64,
    /// What was open when the period began.
    pub carried: ProgramCarried,
}

impl StatsProjection {
    /// Sums the buckets of `period`. Agencies the log first named after the period are left
    /// out: their rows would be zeros a reader knows (from the directory's `registered_at`),
    /// and a report of an ended period would change as agencies register.
    pub fn period(&self, period: &Period) -> PeriodStats {
        let mut agencies: Vec<AgencyPeriod> = self
            .agencies
            .iter()
            .filter(|track| period.reaches(track.first_day))
            .map(|track| {
                let mut stats = AgencyStats::default();
                for bucket in track.days.range(period.days()).map(|(_, s)| s) {
                    stats.absorb(bucket);
                }
                AgencyPeriod {
                    id: track.id.clone(),
                    name: track.name.clone(),
                    stats,
                    carried: AgencyCarried::after(
                        track.days.range(period.before()).map(|(_, s)| s),
                    ),
                }
            })
            .collect();
        agencies.sort_by(|a, b| a.id.cmp(&b.id));
        let mut program = ProgramStats::default();
        for bucket in self.program.range(period.days()).map(|(_, s)| s) {
            program.absorb(bucket);
        }
        let mut carried =
            ProgramCarried::after(self.program.range(period.before()).map(|(_, s)| s));
        carried.accepted_unstarted = agencies.iter().map(|a| a.carried.accepted).sum();
        let mut cases_with_referrals = 0;
        for case in &self.cases {
            if case.referral_days.iter().any(|d| period.contains(*d)) {
                cases_with_referrals += 1;
            }
            let referred_before = case
                .referral_days
                .iter()
                .any(|d| period.before().contains(d));
            let served_before = case.served_on.is_some_and(|d| period.before().contains(&d));
            if referred_before && !served_before {
                carried.referred_unserved += 1;
            }
        }
        PeriodStats {
            agencies,
            program,
            cases_with_referrals,
            carried,
        }
    }
}
