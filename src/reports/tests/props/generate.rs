//! Random but rule-abiding logs: cases with consents, inquiries and referrals whose steps come
//! in lifecycle order, spread over a few days of March 2026.

use serde_json::{json, Value};

use super::super::{case, day, plus, Log};
use crate::domain::{CaseOutcome, DeclineReason, Domain, ReferralOutcome, Tristate};

/// SplitMix64: small, deterministic, good enough to draw test data from a proptest seed.
pub(in crate::reports::tests) struct Rng(pub(in crate::reports::tests) u64);

impl Rng {
    pub(in crate::reports::tests) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(in crate::reports::tests) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(in crate::reports::tests) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(in crate::reports::tests) fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
    pub(in crate::reports::tests) fn subset<T: Clone + PartialEq>(
        &mut self,
        items: &[T],
        min: usize,
    ) -> Vec<T> {
        let mut out: Vec<T> = items.iter().filter(|_| self.chance(30)).cloned().collect();
        while out.len() < min {
            let item = self.pick(items);
            if !out.contains(&item) {
                out.push(item);
            }
        }
        out
    }
    fn secs(&mut self) -> i64 {
        1 + self.below(30_000) as i64
    }
}

fn codes<T: std::fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(|c| c.to_string()).collect()
}

/// A random log from `seed`.
pub(super) fn random_log(seed: u64) -> Log {
    let mut rng = Rng(seed);
    let agencies: Vec<String> = (0..2 + rng.below(3)).map(|i| format!("a{i}")).collect();
    let mut log = Log::default();
    for a in &agencies {
        let data = json!({"name": format!("Agency {a}"), "region": "r", "domains": ["legal"],
            "languages": [], "interpretation": false, "cultural_adaptations": [],
            "trafficking_experience": false, "eligibility": {"criteria": [], "notes": ""}});
        log.push(day(1), &format!("agency-{a}"), "agency.registered", data);
    }
    for n in 0..rng.below(50) as u32 {
        random_case(&mut rng, &mut log, &case(n), &agencies);
    }
    log.sorted()
}

/// Writes one case's events at increasing times.
struct Case<'a> {
    rng: &'a mut Rng,
    log: &'a mut Log,
    stream: &'a str,
    at: chrono::DateTime<chrono::Utc>,
}

impl Case<'_> {
    fn step(&mut self, kind: &str, data: Value) {
        self.at = plus(self.at, self.rng.secs());
        self.log.push(self.at, self.stream, kind, data);
    }
}

fn random_case(rng: &mut Rng, log: &mut Log, stream: &str, agencies: &[String]) {
    let at = plus(day(1), rng.below(5 * 86_400) as i64);
    let mut c = Case {
        rng,
        log,
        stream,
        at,
    };
    c.step(
        "case.opened",
        json!({"owner_agency": "h", "coordinator": "maria", "needs": ["legal"], "minor": false}),
    );
    c.step("consent.granted", json!({"consent_id": "c1", "purposes": ["inquiry", "referral"],
        "recipients": "any", "data_categories": [], "valid_until": "2027-01-01T00:00:00Z",
        "method": "verbal", "language": "es", "interpreter": {"used": false}, "notice_version": "1"}));
    for q in 0..c.rng.below(4) {
        random_inquiry(&mut c, &format!("q{q}"), agencies);
    }
    for r in 0..c.rng.below(3) {
        random_referral(&mut c, &format!("r{r}"), agencies);
    }
    if c.rng.chance(15) {
        c.step(
            "consent.withdrawn",
            json!({"consent_id": "c1", "method": "written"}),
        );
    }
    if c.rng.chance(35) {
        let outcome = c.rng.pick(CaseOutcome::ALL);
        c.step("case.closed", json!({"outcome": outcome}));
        if c.rng.chance(30) {
            c.step("case.reopened", json!({"reason": "client_returned"}));
        }
    }
}

fn random_inquiry(c: &mut Case<'_>, id: &str, agencies: &[String]) {
    let domains = codes(&c.rng.subset(Domain::ALL, 1));
    let agency = c.rng.pick(agencies);
    c.step(
        "inquiry.sent",
        json!({"inquiry_id": id, "agency": agency, "consent_id": "c1",
        "asks": ["can_help"], "domains": domains, "cultural_needs": []}),
    );
    if c.rng.chance(75) {
        let r = &mut *c.rng;
        let languages = codes(&r.subset(&["es", "fr", "ar"], 0));
        let data = json!({"inquiry_id": id, "can_help": r.pick(Tristate::ALL),
            "trafficking_experience": r.chance(50), "services_available": [],
            "cultural_adaptation": r.chance(50), "interpretation_languages": languages,
            "eligible": "yes", "unmet_criteria": [], "support_offered": r.chance(50)});
        c.step("inquiry.answered", data);
    }
}

fn random_referral(c: &mut Case<'_>, id: &str, agencies: &[String]) {
    let domains = codes(&c.rng.subset(Domain::ALL, 1));
    let agency = c.rng.pick(agencies);
    c.step(
        "referral.made",
        json!({"referral_id": id, "agency": agency, "consent_id": "c1",
        "domains": domains, "data_shared": []}),
    );
    match c.rng.below(4) {
        0 => {}
        1 => {
            c.step("referral.accepted", json!({"referral_id": id}));
            if c.rng.chance(60) {
                let domains = codes(&c.rng.subset(Domain::ALL, 1));
                c.step(
                    "referral.services_started",
                    json!({"referral_id": id, "domains": domains}),
                );
                if c.rng.chance(50) {
                    let outcome = c.rng.pick(ReferralOutcome::ALL);
                    c.step(
                        "referral.closed",
                        json!({"referral_id": id, "outcome": outcome}),
                    );
                }
            } else if c.rng.chance(50) {
                c.step(
                    "referral.withdrawn",
                    json!({"referral_id": id, "reason": "other"}),
                );
            }
        }
        2 => {
            let reason = c.rng.pick(DeclineReason::ALL);
            c.step(
                "referral.declined",
                json!({"referral_id": id, "reason": reason}),
            );
        }
        _ => c.step(
            "referral.withdrawn",
            json!({"referral_id": id, "reason": "needs_changed"}),
        ),
    }
}
