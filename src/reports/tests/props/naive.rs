//! The naive recount: one plain pass over the log, counting in-period events straight into
//! `(row, column)` totals, and the checks of a report row against it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::super::{day, Log};
use crate::domain::{EventData, InquiryAnswered};

/// What a report over the period should say, before suppression.
#[derive(Default)]
pub(super) struct Naive {
    counts: HashMap<(String, String), u64>,
    samples: HashMap<(String, String), Vec<u64>>,
    languages: HashMap<String, BTreeMap<String, u64>>,
    k: u64,
}

impl Naive {
    fn inc(&mut self, row: &str, key: &str) {
        *self.counts.entry((row.into(), key.into())).or_default() += 1;
    }

    fn sample(&mut self, row: &str, key: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        let seconds = (to - from).num_seconds() as u64;
        self.samples
            .entry((row.into(), key.into()))
            .or_default()
            .push(seconds);
    }

    /// Counts one in-period answer to an inquiry addressed to agency `a`.
    fn answer(&mut self, a: &str, d: &InquiryAnswered, when: DateTime<Utc>, at: DateTime<Utc>) {
        let n = self;
        let yn = |b: bool| if b { "yes" } else { "no" };
        n.inc(a, "inquiries_answered");
        n.inc(a, &format!("can_help_{}", d.can_help));
        n.inc(
            a,
            &format!("trafficking_experience_{}", yn(d.trafficking_experience)),
        );
        n.inc(
            a,
            &format!("cultural_adaptation_{}", yn(d.cultural_adaptation)),
        );
        if !d.trafficking_experience {
            n.inc(a, &format!("support_offered_{}", yn(d.support_offered)));
        }
        n.inc(
            a,
            &format!(
                "interpretation_offered_{}",
                yn(!d.interpretation_languages.is_empty())
            ),
        );
        for l in d.interpretation_languages.iter() {
            *n.languages
                .entry(a.to_owned())
                .or_default()
                .entry(l.to_string())
                .or_default() += 1;
        }
        n.sample(a, "response_time", when, at);
    }

    /// The true count of a cell.
    pub(super) fn count(&self, row: &str, key: &str) -> u64 {
        self.counts
            .get(&(row.into(), key.into()))
            .copied()
            .unwrap_or(0)
    }

    fn rate(&self, row: &str, num: &str, den: &str, places: i32) -> Value {
        let (n, d) = (self.count(row, num), self.count(row, den));
        if d == 0 {
            return Value::Null;
        }
        let scale = 10f64.powi(places);
        json!((n as f64 / d as f64 * scale).round() / scale)
    }

    fn percentile(&self, row: &str, prefix: &str, p: usize) -> Value {
        let mut s = self
            .samples
            .get(&(row.into(), prefix.into()))
            .cloned()
            .unwrap_or_default();
        if s.is_empty() {
            return Value::Null;
        }
        s.sort_unstable();
        let rank = (p * s.len()).div_ceil(100).max(1);
        json!(s[rank - 1])
    }

    fn expected(&self, row: &str, key: &str) -> Value {
        match key {
            "can_help_rate" => self.rate(row, "can_help_yes", "inquiries_answered", 3),
            "referrals_per_case" => self.rate(row, "referrals_made", "cases_with_referrals", 2),
            "interpretation_languages" => {
                let langs = self.languages.get(row).cloned().unwrap_or_default();
                json!(langs
                    .into_iter()
                    .filter(|(_, n)| *n >= self.k)
                    .map(|(l, _)| l)
                    .collect::<Vec<_>>())
            }
            k if k.ends_with("_median_seconds") => {
                self.percentile(row, &k.replace("_median_seconds", ""), 50)
            }
            k if k.ends_with("_p90_seconds") => {
                self.percentile(row, &k.replace("_p90_seconds", ""), 90)
            }
            k => json!(self.count(row, k)),
        }
    }

    /// Every shown value of `row` equals the recount; no shown count lies in 1..k−1.
    pub(super) fn check_row(&self, row: &Value, fields: &Value, name: &str, k: u64) {
        for field in fields.as_array().expect("fields") {
            let key = field["name"].as_str().expect("name");
            let shown = &row[key];
            if field["type"] == "text" || shown == "suppressed" {
                continue;
            }
            if field["type"] == "count" {
                let n = shown.as_u64().expect("a count");
                assert!(
                    n == 0 || n >= k,
                    "{name} {key} = {n} is a small cell (k = {k})"
                );
            }
            if key == "interpretation_languages" {
                // A listed language means k answers offered it: never beside hidden counts.
                for guard in [
                    "inquiries_answered",
                    "interpretation_offered_yes",
                    "interpretation_offered_no",
                ] {
                    assert_ne!(row[guard], "suppressed", "{name}: languages beside {guard}");
                }
            }
            assert_eq!(shown, &self.expected(name, key), "{name} {key}");
        }
    }
}

/// Recounts the log over the 2026-03 days `from..=to` with threshold `k`.
pub(super) fn recount(log: &Log, from: u32, to: u32, k: u64) -> Naive {
    let (first, last): (NaiveDate, NaiveDate) = (day(from).date_naive(), day(to).date_naive());
    let mut n = Naive {
        k,
        ..Naive::default()
    };
    let mut sent: HashMap<(String, String), (String, DateTime<Utc>)> = HashMap::new();
    let mut made: HashMap<(String, String), (String, DateTime<Utc>)> = HashMap::new();
    let mut opened: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut served: HashSet<String> = HashSet::new();
    let mut referred: HashSet<String> = HashSet::new();
    for (at, e) in &log.entries {
        let inside = (first..=last).contains(&at.date_naive());
        let stream = e.stream.to_string();
        let p = "program";
        match &e.data {
            EventData::CaseOpened(_) => {
                opened.entry(stream.clone()).or_insert(*at);
                if inside {
                    n.inc(p, "cases_opened")
                }
            }
            EventData::CaseReopened(_) if inside => n.inc(p, "cases_reopened"),
            EventData::CaseClosed(d) if inside => {
                n.inc(p, "cases_closed");
                n.inc(p, &format!("cases_closed_{}", d.outcome));
            }
            EventData::ConsentGranted(_) if inside => n.inc(p, "consents_granted"),
            EventData::ConsentWithdrawn(_) if inside => n.inc(p, "consents_withdrawn"),
            EventData::InquirySent(d) => {
                sent.insert(
                    (stream, d.inquiry_id.to_string()),
                    (d.agency.to_string(), *at),
                );
                if inside {
                    n.inc(d.agency.as_str(), "inquiries_received");
                    n.inc(p, "inquiries_sent");
                    for domain in d.domains.iter() {
                        n.inc(p, "inquiry_domains");
                        n.inc(p, &format!("inquiry_domain_{domain}"));
                    }
                }
            }
            EventData::InquiryAnswered(d) => {
                let Some((a, when)) = sent.remove(&(stream, d.inquiry_id.to_string())) else {
                    continue;
                };
                if !inside {
                    continue;
                }
                n.answer(&a, d, when, *at);
            }
            EventData::ReferralMade(d) => {
                made.insert(
                    (stream.clone(), d.referral_id.to_string()),
                    (d.agency.to_string(), *at),
                );
                if inside {
                    n.inc(d.agency.as_str(), "referrals_received");
                    n.inc(p, "referrals_made");
                    if referred.insert(stream) {
                        n.inc(p, "cases_with_referrals")
                    }
                }
            }
            data => referral_step(
                &mut n,
                data,
                &made,
                &stream,
                *at,
                inside,
                &opened,
                &mut served,
            ),
        }
    }
    n
}

#[allow(clippy::too_many_arguments)]
fn referral_step(
    n: &mut Naive,
    data: &EventData,
    made: &HashMap<(String, String), (String, DateTime<Utc>)>,
    stream: &str,
    at: DateTime<Utc>,
    inside: bool,
    opened: &HashMap<String, DateTime<Utc>>,
    served: &mut HashSet<String>,
) {
    let id = match data {
        EventData::ReferralAccepted(d) => &d.referral_id,
        EventData::ReferralDeclined(d) => &d.referral_id,
        EventData::ReferralWithdrawn(d) => &d.referral_id,
        EventData::ReferralServicesStarted(d) => &d.referral_id,
        EventData::ReferralClosed(d) => &d.referral_id,
        _ => return,
    };
    let Some((a, when)) = made.get(&(stream.to_owned(), id.to_string())) else {
        return;
    };
    if let EventData::ReferralServicesStarted(_) = data {
        if served.insert(stream.to_owned()) && inside {
            n.inc("program", "cases_first_service");
            n.sample("program", "time_to_first_service", opened[stream], at);
        }
    }
    if !inside {
        return;
    }
    match data {
        EventData::ReferralAccepted(_) => {
            n.inc(a, "referrals_accepted");
            n.sample(a, "time_to_accept", *when, at);
        }
        EventData::ReferralDeclined(d) => {
            n.inc(a, "referrals_declined");
            n.inc(a, &format!("declined_{}", d.reason));
        }
        EventData::ReferralWithdrawn(_) => n.inc(a, "referrals_withdrawn"),
        EventData::ReferralServicesStarted(d) => {
            for domain in d.domains.iter() {
                n.inc(a, "services_started");
                n.inc(a, &format!("services_started_{domain}"));
            }
        }
        EventData::ReferralClosed(d) => {
            n.inc(a, "referrals_closed");
            n.inc(a, &format!("closed_{}", d.outcome));
        }
        _ => {}
    }
}
