//! The Bloomreach API base: scheme, host, optional port and path prefix.
//!
//! Hand-written rather than the `url` crate: `url` with `idna` adds well over 100 KB
//! to the wasm bundle, and a base URL needs only these few checks.

use crate::error::TriggerError;

/// The default base of the Engagement APIs (`data-v1`, `imports-v1`) when
/// `BLOOMREACH_API_BASE` is not set.
pub(crate) const DEFAULT_BASE: &str = "https://api.exponea.com";
/// The default base of the Data hub API (`data-hub`).
pub(crate) const DATA_HUB_BASE: &str = "https://api.bloomreach.com";

/// A validated base URL, kept without a trailing slash so paths join with one `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl Default for BaseUrl {
    fn default() -> Self {
        BaseUrl(DEFAULT_BASE.to_owned())
    }
}

impl BaseUrl {
    /// One of the bases above, known to be valid.
    pub(crate) fn known(base: &'static str) -> BaseUrl {
        BaseUrl(base.to_owned())
    }

    /// Parses a base such as `https://api.eu1.exponea.com` or
    /// `http://127.0.0.1:8787/prefix/`. `field` names the setting or option in errors.
    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        let bad = |why: &str| TriggerError::invalid(field, why);
        let (scheme, rest) = value
            .split_once("://")
            .ok_or_else(|| bad("must be an http:// or https:// URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad("must be an http:// or https:// URL"));
        }
        if rest
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '\\'))
        {
            return Err(bad("must be a plain URL without spaces, query or fragment"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad("must not carry a user name or password"));
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| bad("has an invalid host"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(bad("has an invalid host")),
                },
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if let Some(port) = port {
            if port.is_empty()
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err()
            {
                return Err(bad("has an invalid port"));
            }
        }
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        if scheme == "http" && !is_loopback(host) {
            // Basic credentials would cross the network in clear text.
            return Err(bad(
                "must use https:// (http:// only for a loopback host: 127.x.x.x, localhost or [::1])",
            ));
        }
        let path = path.trim_end_matches('/');
        let dot_segment = |s: &str| {
            let decoded = s.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        };
        if path.split('/').any(dot_segment) {
            return Err(bad("must not contain '.' or '..' segments"));
        }
        Ok(BaseUrl(format!(
            "{scheme}://{}{path}",
            authority.to_ascii_lowercase()
        )))
    }

    pub fn parse(value: &str) -> Result<Self, TriggerError> {
        Self::parse_as("base_url", value)
    }

    /// The base without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A loopback host, the only kind `http://` may name: a dotted-decimal IPv4 literal in
/// 127.0.0.0/8, exactly `localhost`, or `::1` (from `[::1]`). `127.0.0.1.evil.test` is
/// a DNS name that anyone can point anywhere, so it is not one.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && o.parse::<u8>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_defaults_to_api_exponea_com() {
        assert_eq!(BaseUrl::default().as_str(), "https://api.exponea.com");
    }

    #[test]
    fn base_keeps_port_and_path_prefix_and_drops_trailing_slashes() {
        for (input, want) in [
            ("https://api.eu1.exponea.com", "https://api.eu1.exponea.com"),
            (
                "https://api.eu1.exponea.com/",
                "https://api.eu1.exponea.com",
            ),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            (
                "http://127.0.0.1:8787/prefix//",
                "http://127.0.0.1:8787/prefix",
            ),
            (
                "HTTPS://API-Engagement.Bloomreach.com/x/y",
                "https://api-engagement.bloomreach.com/x/y",
            ),
            ("http://[::1]:9000/", "http://[::1]:9000"),
            ("http://[::1]/", "http://[::1]"),
            ("http://localhost:8787", "http://localhost:8787"),
            ("http://127.5.6.7", "http://127.5.6.7"),
        ] {
            assert_eq!(BaseUrl::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn base_refuses_what_is_not_a_plain_http_url() {
        for bad in [
            "",
            "api.exponea.com",
            "ftp://api.exponea.com",
            "https://",
            "https://:443",
            "https://user:pw@api.exponea.com",
            "https://api.exponea.com:99999",
            "https://api.exponea.com:x",
            "https://api.exponea.com/?q=1",
            "https://api.exponea.com/#f",
            "https://api.exponea.com /",
            "https://api.exponea.com/../x",
            "https://api.exponea.com\\x",
            // Clear-text http to anything but loopback.
            "http://api.exponea.com",
            "http://127.0.0.1.evil.test",
            "http://128.0.0.1",
            "http://127.0.0.256",
            "http://127.1",
            "http://localhost.evil.test",
            "http://[::2]",
            "http://0x7f.0.0.1",
            // Encoded dot segments.
            "https://api.exponea.com/%2e%2e/x",
            "https://api.exponea.com/%2E./x",
            "https://api.exponea.com/a/%2e",
        ] {
            let err = BaseUrl::parse_as("BLOOMREACH_API_BASE", bad).unwrap_err();
            assert!(err.message.starts_with("BLOOMREACH_API_BASE:"), "{bad}");
            assert!(!err.message.contains(bad) || bad.is_empty());
        }
    }
}
