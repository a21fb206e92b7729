//! Query strings: numbers read as text so that a malformed one is refused naming its
//! parameter, page bounds, and the refusal of parameters an endpoint does not take.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::Deserialize;

use super::problem::ApiError;

/// A whole number from a query string, kept as it was written until the handler reads it
/// with its parameter's name ([`Number::read`]): serde's own error ("invalid digit found in
/// string") does not say which parameter it was about.
#[derive(Debug, Clone)]
pub(crate) struct Number(String);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Number)
    }
}

/// Longest piece of a refused value quoted back.
const QUOTED: usize = 40;

impl Number {
    /// The value, or 400 `bad_request` naming `name`. Positions are SQLite integers, so
    /// nothing above `i64::MAX` can exist and such a value is refused rather than wrapped.
    pub(crate) fn read(&self, name: &str) -> Result<u64, ApiError> {
        self.read_from(name, 0)
    }

    /// [`Number::read`] for a parameter whose least value is `least`.
    fn read_from(&self, name: &str, least: u64) -> Result<u64, ApiError> {
        // Digits only: Rust's parser would also take a leading `+`.
        let digits = !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit());
        match self.0.parse::<u64>() {
            Ok(v) if digits && least <= v && v <= i64::MAX as u64 => Ok(v),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be a whole number from {least} to {}, not `{}`",
                i64::MAX,
                self.0.chars().take(QUOTED).collect::<String>()
            ))),
        }
    }
}

/// A position (`from`, `start`): 0 when absent.
pub(crate) fn position(name: &str, value: Option<&Number>) -> Result<u64, ApiError> {
    value.map_or(Ok(0), |v| v.read(name))
}

/// Most entries one page returns (`limit`), and the default.
pub(crate) const PAGE_MAX: usize = 10_000;
const PAGE_DEFAULT: usize = 1_000;

/// A page size from a query string: 1 to [`PAGE_MAX`] (larger asks get the maximum, and the
/// answer says where to go on); 0 asks for nothing and is refused.
pub(crate) fn page_limit(value: Option<&Number>) -> Result<usize, ApiError> {
    let Some(v) = value else {
        return Ok(PAGE_DEFAULT);
    };
    // Larger asks get the maximum; 0 is refused.
    let n = v.read_from("limit", 1)?;
    Ok(usize::try_from(n).unwrap_or(PAGE_MAX).min(PAGE_MAX))
}

/// The extractor of an endpoint that takes no query parameters: any query string is refused
/// with 400 `bad_request`, as the endpoints that take some refuse those they do not know
/// (`GET /v1/log/checkpoint?size=3` would otherwise answer the latest checkpoint, as if the
/// size had been honoured).
pub(crate) struct NoQuery;

impl FromRequest for NoQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(no_query(req).map(|()| NoQuery))
    }
}

/// 400 `bad_request` when the request has a query string (for a handler that reads its
/// body itself, where [`NoQuery`] would not run in the order the handler needs).
pub(crate) fn no_query(req: &HttpRequest) -> Result<(), ApiError> {
    let query = req.query_string();
    match query.is_empty() {
        true => Ok(()),
        false => Err(ApiError::bad_request(format!(
            "{} takes no query parameters, got `{}`",
            req.path(),
            query.chars().take(QUOTED).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number(s.to_owned())
    }

    #[test]
    fn a_malformed_number_is_refused_naming_its_parameter() {
        for bad in ["-1", "+1", "x", "1.5", "", " 1", "9223372036854775808"] {
            let e = n(bad).read("index").expect_err(bad);
            assert!(
                e.to_string().contains("index must be a whole number"),
                "{e}"
            );
        }
        assert_eq!(
            n("9223372036854775807").read("index").ok(),
            Some(i64::MAX as u64)
        );
        assert_eq!(n("0").read("index").ok(), Some(0));
    }

    #[test]
    fn page_limits_default_cap_and_refuse_zero() {
        assert_eq!(page_limit(None).ok(), Some(PAGE_DEFAULT));
        assert_eq!(page_limit(Some(&n("7"))).ok(), Some(7));
        assert_eq!(page_limit(Some(&n("99999999"))).ok(), Some(PAGE_MAX));
        let zero = page_limit(Some(&n("0"))).expect_err("0");
        assert!(
            zero.to_string()
                .contains("limit must be a whole number from 1 to"),
            "{zero}"
        );
        assert!(page_limit(Some(&n("ten"))).is_err());
        assert_eq!(position("from", None).ok(), Some(0));
        assert_eq!(position("from", Some(&n("12"))).ok(), Some(12));
    }
}
