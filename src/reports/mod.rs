//! Oversight reports (DESIGN §5): a statistics projection folded from the log, per-agency and
//! program reports read from it for a period, small-cell suppression, and JSON/CSV rendering.
//!
//! The pipeline: [`fold::StatsProjection`] keeps per-(agency, UTC day) and per-day program
//! buckets up to date; [`period`] sums the days of a period; [`layout`] lays the sums out as
//! report cells and the equations between them; [`suppression`] hides small cells and
//! whatever could reveal them; [`render`] writes JSON or CSV. [`follower::ReportService`] runs
//! the fold on its own thread, tailing the store.

mod bounds;
pub mod buckets;
mod columns;
pub mod fold;
pub mod follower;
pub mod layout;
pub mod period;
pub mod policy;
pub mod render;
pub mod suppression;

#[cfg(test)]
mod tests;

pub use fold::StatsProjection;
pub use follower::{Following, ReportError, ReportService};
pub use layout::{Column, ColumnKind, Report, ReportKind, Value};
pub use period::Period;
pub use policy::PeriodPolicy;

/// The smallest suppression threshold allowed: below 5 the reports would identify people.
pub const MIN_K: u64 = 5;
/// The default suppression threshold.
pub const DEFAULT_K: u64 = 11;
/// The largest suppression threshold allowed: the audit's linear programs work in `i32`
/// bounds, and a threshold past the programme's size would hide every figure anyway.
pub const MAX_K: u64 = 1000;

/// How reports are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportConfig {
    /// Counts from 1 to `k - 1` are suppressed.
    k: u64,
    /// Which periods the server answers reports for.
    periods: PeriodPolicy,
}

/// A report configuration that breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The suppression threshold is below [`MIN_K`].
    #[error("the suppression threshold k must be at least {MIN_K}, got {0}")]
    KTooSmall(u64),
    /// The suppression threshold is above [`MAX_K`].
    #[error("the suppression threshold k must be at most {MAX_K}, got {0}")]
    KTooLarge(u64),
}

impl ReportConfig {
    /// A configuration with threshold `k` (from [`MIN_K`] to [`MAX_K`]).
    pub fn new(k: u64) -> Result<Self, ConfigError> {
        if k < MIN_K {
            return Err(ConfigError::KTooSmall(k));
        }
        if k > MAX_K {
            return Err(ConfigError::KTooLarge(k));
        }
        Ok(Self {
            k,
            periods: PeriodPolicy::Any,
        })
    }

    /// The same configuration, answering reports for `periods` only.
    pub fn with_periods(self, periods: PeriodPolicy) -> Self {
        Self { periods, ..self }
    }

    /// Which periods the server answers reports for.
    pub fn periods(&self) -> PeriodPolicy {
        self.periods
    }

    /// The suppression threshold.
    pub fn k(&self) -> u64 {
        self.k
    }
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            k: DEFAULT_K,
            periods: PeriodPolicy::Any,
        }
    }
}

/// Builds a report of `kind` for `period` from the projection.
pub fn build(
    projection: &StatsProjection,
    kind: ReportKind,
    period: &Period,
    config: &ReportConfig,
) -> Report {
    let stats = projection.period(period);
    layout::lay_out(&stats, kind, period, config, projection.position())
}
