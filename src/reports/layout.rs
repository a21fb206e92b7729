//! Report layout: the columns of each report, the rows of values, and how a row is built from
//! a period's figures. Counts go into one shared suppression [`Table`] together with the
//! equations between them, so the agency and programme reports of the same period are
//! suppressed jointly (a programme total is the column total of an agency column).

use super::columns;
use super::period::{Period, PeriodStats};
use super::suppression::{CellId, Table};
use super::ReportConfig;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// One row per agency.
    Agencies,
    /// One row of programme totals.
    Program,
}

impl ReportKind {
    /// The name used in URLs, the CLI and the JSON `report` member.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Agencies => "agencies",
            ReportKind::Program => "program",
        }
    }
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// An identifier or name (not a statistic).
    Text,
    /// A count, subject to small-cell suppression.
    Count,
    /// A ratio of two counts; suppressed with either.
    Rate,
    /// A duration in whole seconds (a median or percentile); suppressed with its count.
    Seconds,
    /// A list of codes (semicolon-separated in CSV).
    List,
}

impl ColumnKind {
    /// The name used in the JSON `fields` legend.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Text => "text",
            ColumnKind::Count => "count",
            ColumnKind::Rate => "rate",
            ColumnKind::Seconds => "seconds",
            ColumnKind::List => "list",
        }
    }
}

/// One column: its key (JSON member and CSV header), kind and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// JSON member name and CSV header.
    pub key: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// What it means, for the JSON legend and the documentation.
    pub description: String,
}

/// One value of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A whole number.
    Number(u64),
    /// A decimal (rates).
    Decimal(f64),
    /// A list of codes.
    List(Vec<String>),
    /// Not applicable (a rate over 0, a median of nothing).
    Null,
    /// Hidden by small-cell suppression.
    Suppressed,
}

/// A finished report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Which report.
    pub kind: ReportKind,
    /// The period covered.
    pub period: Period,
    /// The suppression threshold used.
    pub k: u64,
    /// Log entries folded into the projection the report was read from.
    pub log_size: u64,
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// A value before suppression is known.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Fixed(Value),
    /// A value that tells something about the counts `by`: suppressed when any of them is.
    Guarded {
        value: Value,
        by: Vec<CellId>,
    },
    Cell(CellId),
    /// `num / den`, rounded to `places` decimals.
    Rate {
        num: CellId,
        den: CellId,
        places: i32,
    },
    /// A statistic of `samples` observations counted by `basis`.
    Seconds {
        basis: CellId,
        samples: u64,
        value: Option<u32>,
    },
}

/// Builds one row, registering its counts in the shared table.
pub(crate) struct RowBuilder<'t> {
    pub(crate) table: &'t mut Table,
    pub(crate) k: u64,
    pub(crate) columns: Vec<Column>,
    pub(crate) slots: Vec<Slot>,
}

impl<'t> RowBuilder<'t> {
    pub(crate) fn new(table: &'t mut Table, k: u64) -> Self {
        Self {
            table,
            k,
            columns: Vec::new(),
            slots: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, key: &str, kind: ColumnKind, description: &str, slot: Slot) {
        self.columns.push(Column {
            key: key.to_owned(),
            kind,
            description: description.to_owned(),
        });
        self.slots.push(slot);
    }

    /// A count column; returns its cell.
    pub(crate) fn count(&mut self, key: &str, description: &str, value: u64) -> CellId {
        let cell = self.table.cell(value);
        self.push(key, ColumnKind::Count, description, Slot::Cell(cell));
        cell
    }

    /// A total and its breakdown `prefix_<code>`, declared as an equation.
    pub(crate) fn breakdown(
        &mut self,
        total: (&str, &str),
        prefix: &str,
        part_description: &str,
        parts: &[(&str, u64)],
    ) -> (CellId, Vec<CellId>) {
        let sum = parts.iter().map(|(_, n)| n).sum();
        let total = self.count(total.0, total.1, sum);
        let parts = self.parts(total, prefix, part_description, parts);
        (total, parts)
    }

    /// A breakdown of an existing total.
    pub(crate) fn parts(
        &mut self,
        total: CellId,
        prefix: &str,
        description: &str,
        parts: &[(&str, u64)],
    ) -> Vec<CellId> {
        let cells: Vec<CellId> = parts
            .iter()
            .map(|(code, n)| {
                let text = description.replace("{}", code);
                self.count(&format!("{prefix}_{code}"), &text, *n)
            })
            .collect();
        self.table.equation(total, cells.clone());
        cells
    }

    /// Median and 90th percentile columns `<prefix>_median_seconds` and `_p90_seconds`.
    pub(crate) fn durations(&mut self, prefix: &str, what: &str, basis: CellId, samples: Vec<u32>) {
        let mut samples = samples;
        let n = samples.len() as u64;
        for (p, name) in [(50, "median"), (90, "p90")] {
            let value = percentile(&mut samples, p);
            let description = format!(
                "{} of {what}, whole seconds (nearest rank); suppressed with its count",
                if p == 50 { "median" } else { "90th percentile" }
            );
            let slot = Slot::Seconds {
                basis,
                samples: n,
                value,
            };
            self.push(
                &format!("{prefix}_{name}_seconds"),
                ColumnKind::Seconds,
                &description,
                slot,
            );
        }
    }
}

/// The `p`th percentile by nearest rank (the smallest value with at least p% at or below it).
pub fn percentile(samples: &mut [u32], p: u64) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    let (_, value, _) = samples.select_nth_unstable((rank - 1) as usize);
    Some(*value)
}

fn resolve(table: &Table, k: u64, slot: Slot) -> Value {
    match slot {
        Slot::Fixed(value) => value,
        Slot::Guarded { by, .. } if by.iter().any(|c| table.is_suppressed(*c)) => Value::Suppressed,
        Slot::Guarded { value, .. } => value,
        Slot::Cell(cell) if table.is_suppressed(cell) => Value::Suppressed,
        Slot::Cell(cell) => Value::Number(table.value(cell)),
        Slot::Rate { num, den, .. } if table.is_suppressed(num) || table.is_suppressed(den) => {
            Value::Suppressed
        }
        Slot::Rate { num, den, places } => match table.value(den) {
            0 => Value::Null,
            d => {
                let scale = 10f64.powi(places);
                Value::Decimal((table.value(num) as f64 / d as f64 * scale).round() / scale)
            }
        },
        Slot::Seconds { basis, samples, .. }
            if table.is_suppressed(basis) || (1..k).contains(&samples) =>
        {
            Value::Suppressed
        }
        Slot::Seconds { value, .. } => value.map_or(Value::Null, |v| Value::Number(u64::from(v))),
    }
}

/// Both reports of a period laid out over one suppressed table.
pub(crate) struct Laid {
    pub(crate) table: Table,
    agency_columns: Vec<Column>,
    agency_rows: Vec<Vec<Slot>>,
    program_columns: Vec<Column>,
    program_slots: Vec<Slot>,
}

/// Lays out both reports of a period and suppresses them jointly.
pub(crate) fn lay_out_both(stats: &PeriodStats, k: u64) -> Laid {
    let mut table = Table::new();
    let mut agency_rows = Vec::new();
    let mut agency_columns = columns::agency_columns(k);
    let mut received = Vec::new();
    for agency in &stats.agencies {
        let mut row = RowBuilder::new(&mut table, k);
        received.push(columns::agency_row(&mut row, agency));
        agency_columns = row.columns;
        agency_rows.push(row.slots);
    }
    let mut row = RowBuilder::new(&mut table, k);
    columns::program_row(&mut row, stats, &received);
    let (program_columns, program_slots) = (row.columns, row.slots);
    table.suppress(k);
    Laid {
        table,
        agency_columns,
        agency_rows,
        program_columns,
        program_slots,
    }
}

/// Lays out both reports of a period, suppresses them jointly, and returns the one asked for.
pub fn lay_out(
    stats: &PeriodStats,
    kind: ReportKind,
    period: &Period,
    config: &ReportConfig,
    log_size: u64,
) -> Report {
    let k = config.k();
    let laid = lay_out_both(stats, k);
    let (columns, rows) = match kind {
        ReportKind::Agencies => (laid.agency_columns, laid.agency_rows),
        ReportKind::Program => (laid.program_columns, vec![laid.program_slots]),
    };
    let table = laid.table;
    let rows = rows
        .into_iter()
        .map(|slots| slots.into_iter().map(|s| resolve(&table, k, s)).collect())
        .collect();
    Report {
        kind,
        period: *period,
        k,
        log_size,
        columns,
        rows,
    }
}
