//! Report periods (`from`/`to` UTC dates, inclusive) and summing the projection's day buckets
//! over one. Work is proportional to the days and agencies with activity, not to the log.

use chrono::{Datelike, NaiveDate};

use super::buckets::{AgencyStats, ProgramStats};
use super::fold::{Day, StatsProjection};
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
    /// No inquiry was sent to the agency before the period, so every answer counted in it is
    /// to an inquiry counted in it.
    pub inquiries_from_start: bool,
    /// No referral was made to the agency before the period, so every response counted in it
    /// is to a referral counted in it.
    pub referrals_from_start: bool,
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
    /// No case was opened before the period: every case closed or reopened in it, or
    /// referred, was opened in it.
    pub cases_from_start: bool,
    /// No consent was granted before the period: every one withdrawn in it was granted in it.
    pub consents_from_start: bool,
    /// No referral was made before the period, to any agency.
    pub referrals_from_start: bool,
}

impl StatsProjection {
    /// Sums the buckets of `period`.
    pub fn period(&self, period: &Period) -> PeriodStats {
        let mut agencies: Vec<AgencyPeriod> = self
            .agencies
            .iter()
            .map(|track| {
                let mut stats = AgencyStats::default();
                for bucket in track.days.range(period.days()).map(|(_, s)| s) {
                    stats.absorb(bucket);
                }
                let mut before = track.days.range(period.before()).map(|(_, s)| s);
                AgencyPeriod {
                    id: track.id.clone(),
                    name: track.name.clone(),
                    stats,
                    inquiries_from_start: before.clone().all(|s| s.inquiries_received == 0),
                    referrals_from_start: before.all(|s| s.referrals_received == 0),
                }
            })
            .collect();
        agencies.sort_by(|a, b| a.id.cmp(&b.id));
        let mut program = ProgramStats::default();
        for bucket in self.program.range(period.days()).map(|(_, s)| s) {
            program.absorb(bucket);
        }
        let cases_with_referrals = self
            .cases
            .iter()
            .filter(|c| c.referral_days.iter().any(|d| period.contains(*d)))
            .count() as u64;
        let mut before = self.program.range(period.before()).map(|(_, s)| s);
        PeriodStats {
            referrals_from_start: agencies.iter().all(|a| a.referrals_from_start),
            agencies,
            program,
            cases_with_referrals,
            cases_from_start: before.clone().all(|s| s.cases_opened == 0),
            consents_from_start: before.all(|s| s.consents_granted == 0),
        }
    }
}
