//! Which periods the server answers reports for (`serve --report-periods`).

use chrono::{Datelike, NaiveDate};

use super::period::{Period, PeriodError};

/// Which periods the server publishes reports for (`serve --report-periods`).
///
/// Suppression protects each report on its own. With `any` (DESIGN's contract: any range of
/// days), an evaluator can subtract two overlapping reports (1–31 and 1–30 January give
/// 31 January's figures unsuppressed), and poll a period that includes today to date single
/// events. With one calendar unit, reports never overlap (no two differ by a few days, or by
/// one month inside a quarter) and each covers a period that has ended, so it does not change
/// once published (for one version and settings): both attacks are closed. Only one unit is
/// allowed, because reports of nested units (a quarter and two of its months) would subtract
/// to the third month. What stays open (a later report narrowing an earlier one's hidden
/// cells) is in docs/reports.md.
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
    /// `today`. A period is answered from the second day after its end: an entry is stamped
    /// when its commit begins and a reading node folds it later, so in the first moments of
    /// a day entries of the day before may still be arriving.
    pub fn admits(self, period: &Period, today: NaiveDate) -> Result<(), PeriodError> {
        let Some((months, unit)) = self.months() else {
            return Ok(());
        };
        // The latest day whose entries may still be arriving.
        let unsettled = today.pred_opt().unwrap_or(today);
        let whole = calendar_period(period.from(), months) == Some(*period);
        if whole && period.to() < unsettled {
            return Ok(());
        }
        // The latest period answered: the one before the period holding `unsettled`.
        let start_of = |day: NaiveDate| {
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / months * months) + 1, 1)
        };
        let example = start_of(unsettled)
            .and_then(|current| current.pred_opt())
            .and_then(start_of)
            .and_then(|first| calendar_period(first, months))
            .unwrap_or(*period);
        Err(PeriodError::NotACalendarPeriod {
            unit,
            example_from: example.from(),
            example_to: example.to(),
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
    Period::new(first, next.pred_opt()?).ok()
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
        assert_eq!(refusal(m, "2026-11-01", "2026-11-30", "2026-12-02"), None);
        // On the first day after it, entries of its last day may still be arriving.
        assert_eq!(
            refusal(m, "2026-11-01", "2026-11-30", "2026-12-01"),
            Some("2026-10-01..2026-10-31".to_owned())
        );
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
        // In January, the latest month answered is the last year's December, or on the 1st
        // the November before it.
        assert_eq!(
            refusal(m, "2027-01-01", "2027-01-31", "2027-01-10"),
            Some("2026-12-01..2026-12-31".to_owned())
        );
        assert_eq!(
            refusal(m, "2026-12-01", "2026-12-31", "2027-01-01"),
            Some("2026-11-01..2026-11-30".to_owned())
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
        assert_eq!(refusal(y, "2025-01-01", "2025-12-31", "2026-01-02"), None);
        assert_eq!(
            refusal(y, "2025-01-01", "2025-12-31", "2026-01-01"),
            Some("2024-01-01..2024-12-31".to_owned())
        );
        for (from, to) in [("2025-01-01", "2025-06-30"), ("2026-01-01", "2026-12-31")] {
            assert_eq!(
                refusal(y, from, to, "2026-12-05"),
                Some("2025-01-01..2025-12-31".to_owned()),
                "{from}..{to}"
            );
        }
    }
}
