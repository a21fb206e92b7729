//! Keeping credentials out of messages: a `--store` URL may carry `user:pass@`, and it is
//! echoed in start-up errors and logs, so every echo goes through here first.

use std::borrow::Cow;

/// Byte range of the userinfo (`user:pass`) in `url`'s authority, if it has one. The
/// authority ends at the query (`?`) or fragment (`#`), not at `/`: an unencoded `/` in a
/// password must not leave the rest of the password on show.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some((start, start + at))
}

/// `url` with its password replaced by `***` (`esdb://user:***@host:2113`); a userinfo
/// without a `:` (a bare token) is replaced whole. URLs without credentials come back as is.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some((start, end)) = userinfo(url) else {
        return Cow::Borrowed(url);
    };
    let shown = match url[start..end].split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    Cow::Owned(format!("{}{shown}{}", &url[..start], &url[end..]))
}

/// `text` (another library's message, say) with `url` and its password redacted wherever
/// they appear, for errors that may quote the connection string or a part of it.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Some((start, end)) = userinfo(url) {
        let info = &url[start..end];
        let secret = info.split_once(':').map_or(info, |(_, pass)| pass);
        if !secret.is_empty() {
            out = out.replace(secret, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_replaced_and_the_rest_kept() {
        assert_eq!(
            redact_url("esdb://admin:changeit@db1:2113,db2:2113?tls=false&prefix=x-"),
            "esdb://admin:***@db1:2113,db2:2113?tls=false&prefix=x-"
        );
        assert_eq!(
            redact_url("esdb+discover://ops:p@ss/w0rd@cluster.local:2113"),
            "esdb+discover://ops:***@cluster.local:2113"
        );
        assert_eq!(redact_url("esdb://token@h:2113"), "esdb://***@h:2113");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "sqlite",
            "esdb://127.0.0.1:2113?tls=false",
            "esdb://h:2113?tlsCaFile=/etc/ca@x.pem",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn quoted_urls_and_bare_passwords_are_scrubbed_from_messages() {
        let url = "esdb://admin:s3cr3t@h:bad?tls=false";
        let message = format!("ClientSettings parsing error with '{url}': InvalidPort (s3cr3t)");
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains("s3cr3t"), "{scrubbed}");
        assert!(scrubbed.contains("esdb://admin:***@h:bad"), "{scrubbed}");
        assert_eq!(scrub("no secret here", "esdb://h:2113"), "no secret here");
    }
}
