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
        "this server publishes reports for whole calendar {unit}s that have ended \
         (--report-periods {unit}), so that no two reports overlap and none changes once \
         published; ask for one, such as from={example_from}&to={example_to}"
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

/// Which periods the server publishes reports for (`serve --report-periods`).
///
/// Suppression protects each report on its own. With `any` (DESIGN's contract: any range of
/// days), an evaluator can subtract two overlapping reports (1–31 and 1–30 January give
/// 31 January's figures unsuppressed), and poll a period that includes today to date single
/// events. With one calendar unit, reports never overlap (no two differ by a few days, or by
/// one month inside a quarter) and each covers a period that has ended, so it never changes
/// once published: both attacks are closed. Only one unit is allowed, because reports of
/// nested units (a quarter and two of its months) would subtract to the third month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PeriodPolicy {
    /// Any range of days, up to and including today.
    #[default]
    Any,
    /// One whole calendar month that has ended.
    Month,
    /// One whole calendar quarter (January–March, April–June, …) that has ended.
    Quarter,
    /// One whole calendar year that has ended.
    Year,
}

impl PeriodPolicy {
    /// Months in one period of this unit (`None` for [`PeriodPolicy::Any`]).
    fn months(self) -> Option<(u32, &'static str)> {
        match self {
            PeriodPolicy::Any => None,
            PeriodPolicy::Month => Some((1, "month")),
            PeriodPolicy::Quarter => Some((3, "quarter")),
            PeriodPolicy::Year => Some((12, "year")),
        }
    }

    /// Whether a report may cover `period` when today (UTC, by the server's clock) is
    /// `today`.
    pub fn admits(self, period: &Period, today: NaiveDate) -> Result<(), PeriodError> {
        let Some((months, unit)) = self.months() else {
            return Ok(());
        };
        let whole = calendar_period(period.from, months) == Some(*period);
        if whole && period.to < today {
            return Ok(());
        }
        // The latest period of this unit that has ended: the one before today's.
        let current =
            NaiveDate::from_ymd_opt(today.year(), (today.month0() / months * months) + 1, 1)
                .expect("the first day of a month");
        let example = current
            .pred_opt()
            .and_then(|last| {
                let first =
                    NaiveDate::from_ymd_opt(last.year(), (last.month0() / months * months) + 1, 1)?;
                calendar_period(first, months)
            })
            .unwrap_or(*period);
        Err(PeriodError::NotACalendarPeriod {
            unit,
            example_from: example.from,
            example_to: example.to,
        })
    }
}

/// The period of `months` calendar months starting on `first`, if `first` starts one (the
/// first day of a month whose index is a multiple of `months`).
fn calendar_period(first: NaiveDate, months: u32) -> Option<Period> {
    if first.day() != 1 || !first.month0().is_multiple_of(months) {
        return None;
    }
    let next = first.checked_add_months(chrono::Months::new(months))?;
    Some(Period {
        from: first,
        to: next.pred_opt()?,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
    }

    fn period(from: &str, to: &str) -> Period {
        Period::new(date(from), date(to)).expect("a period")
    }

    /// The example period a refusal names, or `None` when the period is admitted.
    fn refusal(policy: PeriodPolicy, from: &str, to: &str, today: &str) -> Option<String> {
        match policy.admits(&period(from, to), date(today)) {
            Ok(()) => None,
            Err(PeriodError::NotACalendarPeriod {
                example_from,
                example_to,
                ..
            }) => Some(format!("{example_from}..{example_to}")),
            Err(e) => panic!("unexpected refusal {e}"),
        }
    }

    #[test]
    fn any_admits_every_range_including_today() {
        for (from, to) in [("2026-01-05", "2026-01-07"), ("2026-12-01", "2026-12-05")] {
            assert_eq!(refusal(PeriodPolicy::Any, from, to, "2026-12-05"), None);
        }
    }

    #[test]
    fn month_admits_whole_ended_months_only() {
        let m = PeriodPolicy::Month;
        assert_eq!(refusal(m, "2026-11-01", "2026-11-30", "2026-12-05"), None);
        assert_eq!(refusal(m, "2024-02-01", "2024-02-29", "2026-12-05"), None);
        assert_eq!(refusal(m, "2026-11-01", "2026-11-30", "2026-12-01"), None);
        let last = Some("2026-11-01..2026-11-30".to_owned());
        for (from, to) in [
            ("2026-11-01", "2026-11-29"),
            ("2026-11-02", "2026-11-30"),
            ("2026-10-01", "2026-11-30"),
            ("2026-12-01", "2026-12-31"),
            ("2026-12-01", "2026-12-05"),
        ] {
            assert_eq!(refusal(m, from, to, "2026-12-05"), last, "{from}..{to}");
        }
        // The month that ends today has not ended.
        assert_eq!(
            refusal(m, "2026-11-01", "2026-11-30", "2026-11-30"),
            Some("2026-10-01..2026-10-31".to_owned())
        );
        // In January, the latest ended month is the last year's December.
        assert_eq!(
            refusal(m, "2027-01-01", "2027-01-31", "2027-01-10"),
            Some("2026-12-01..2026-12-31".to_owned())
        );
    }

    #[test]
    fn quarter_and_year_admit_their_own_calendar_unit_only() {
        let q = PeriodPolicy::Quarter;
        assert_eq!(refusal(q, "2026-07-01", "2026-09-30", "2026-12-05"), None);
        let last_quarter = Some("2026-07-01..2026-09-30".to_owned());
        for (from, to) in [
            ("2026-08-01", "2026-10-31"),
            ("2026-09-01", "2026-09-30"),
            ("2026-01-01", "2026-06-30"),
            ("2026-10-01", "2026-12-31"),
        ] {
            assert_eq!(
                refusal(q, from, to, "2026-12-05"),
                last_quarter,
                "{from}..{to}"
            );
        }
        assert_eq!(
            refusal(q, "2026-01-01", "2026-03-31", "2026-02-01"),
            Some("2025-10-01..2025-12-31".to_owned())
        );
        let y = PeriodPolicy::Year;
        assert_eq!(refusal(y, "2025-01-01", "2025-12-31", "2026-01-01"), None);
        for (from, to) in [("2025-01-01", "2025-06-30"), ("2026-01-01", "2026-12-31")] {
            assert_eq!(
                refusal(y, from, to, "2026-12-05"),
                Some("2025-01-01..2025-12-31".to_owned()),
                "{from}..{to}"
            );
        }
    }
}
