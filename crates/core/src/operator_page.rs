//! The operator page (docs/behaviour.md, "The operator page"): `GET /` and its two
//! assets, served by the worker itself with a strict Content-Security-Policy.
//!
//! The page is static: it holds no setting, secret, token or import id, and reads
//! everything through the JSON API with the caller token the person types in. Its
//! HTML, script and style are compiled in (`crates/core/page/`), so the worker needs
//! no asset storage and answers them like any other route, with the same headers.

use crate::error::TriggerError;
use crate::reply::Reply;
use crate::setting_names::OPERATOR_PAGE;
use crate::settings::{Lookup, SettingValue};

const HTML: &str = include_str!("../page/index.html");
const SCRIPT: &str = include_str!("../page/page.js");
const STYLE: &str = include_str!("../page/page.css");
const ICON: &str = include_str!("../page/favicon.svg");

/// Scripts and styles from the worker only, no inline code, nothing else loaded, never
/// framed. Cloudflare's "Security headers" Workers example lists these headers and why
/// (<https://developers.cloudflare.com/workers/examples/security-headers/>).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The page's paths: the page, its script, its style and its icon.
const PATHS: [(&str, &str, &str); 4] = [
    ("/", HTML, "text/html; charset=utf-8"),
    ("/page.js", SCRIPT, "text/javascript; charset=utf-8"),
    ("/page.css", STYLE, "text/css; charset=utf-8"),
    ("/favicon.svg", ICON, "image/svg+xml"),
];

/// Whether the page is served: `OPERATOR_PAGE` unset, `on` or `true` (text or
/// boolean) leave it on, `off` or `false` turn it off; anything else is malformed.
pub fn enabled(lookup: &dyn Lookup) -> Result<bool, TriggerError> {
    let malformed =
        || TriggerError::misconfigured(format!("{OPERATOR_PAGE}: must be on, off, true or false"));
    match lookup.get(OPERATOR_PAGE) {
        None => Ok(true),
        Some(SettingValue::Bool(on)) => Ok(on),
        Some(SettingValue::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" | "on" | "true" => Ok(true),
            "off" | "false" => Ok(false),
            _ => Err(malformed()),
        },
        Some(_) => Err(malformed()),
    }
}

/// The answer to `method path` when it is one of the page's paths; `None` for any
/// other path. Off, the page's paths are `404 not_found` like any unknown route.
pub fn serve(method: &str, path: &str, lookup: &dyn Lookup) -> Option<Reply> {
    let (_, body, content_type) = PATHS.iter().find(|(p, _, _)| *p == path)?;
    match enabled(lookup) {
        Ok(true) => {}
        Ok(false) => return Some(Reply::not_found()),
        Err(error) => return Some(crate::endpoint::refusal_reply(&error)),
    }
    if method != "GET" && method != "HEAD" {
        return Some(Reply::method_not_allowed("GET, HEAD"));
    }
    Some(Reply {
        status: 200,
        headers: vec![
            ("content-type", (*content_type).to_owned()),
            (
                "content-security-policy",
                CONTENT_SECURITY_POLICY.to_owned(),
            ),
            ("x-content-type-options", "nosniff".to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
            ("x-frame-options", "DENY".to_owned()),
        ],
        body: (*body).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lookup as env;

    /// One setting of any kind.
    struct One(SettingValue);
    impl Lookup for One {
        fn get(&self, name: &str) -> Option<SettingValue> {
            (name == OPERATOR_PAGE).then(|| self.0.clone())
        }
    }

    /// Whether `html` has an inline event handler (`onclick=` and the like).
    fn has_inline_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let rest = &html[i + 3..];
            let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_page_and_its_assets_are_served_with_strict_headers() {
        let lookup = env(&[]);
        for (path, kind) in [
            ("/", "text/html"),
            ("/page.js", "text/javascript"),
            ("/page.css", "text/css"),
        ] {
            let reply = serve("GET", path, &lookup).expect("a page path");
            assert_eq!(reply.status, 200);
            assert!(header(&reply, "content-type").unwrap().starts_with(kind));
            let csp = header(&reply, "content-security-policy").unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
            assert_eq!(header(&reply, "x-content-type-options"), Some("nosniff"));
            assert_eq!(header(&reply, "referrer-policy"), Some("no-referrer"));
        }
        assert_eq!(serve("POST", "/", &lookup).unwrap().status, 405);
        assert!(serve("GET", "/starts", &lookup).is_none());
        assert!(serve("GET", "/index.html", &lookup).is_none());
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_runs_no_inline_code() {
        assert!(!HTML.contains("<style") && !HTML.contains("style="));
        assert!(!HTML.contains("<script>") && !has_inline_handler(HTML));
        assert!(has_inline_handler(r#"<a onclick="x">"#));
        for text in [HTML, SCRIPT, STYLE, ICON] {
            // The SVG namespace is a name, not a load.
            let text = text.replace("\"http://www.w3.org/2000/svg\"", "");
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("localStorage") && !text.contains("document.cookie"));
        }
    }

    #[test]
    fn operator_page_turns_it_off_or_is_malformed_by_name() {
        for on in ["on", "true", " ON ", ""] {
            assert_eq!(
                serve("GET", "/", &env(&[(OPERATOR_PAGE, on)]))
                    .unwrap()
                    .status,
                200
            );
        }
        for off in ["off", "false", "Off"] {
            for path in ["/", "/page.js", "/page.css", "/favicon.svg"] {
                let reply = serve("GET", path, &env(&[(OPERATOR_PAGE, off)])).unwrap();
                assert_eq!(reply.status, 404);
                assert!(reply.body.contains("not_found"));
            }
        }
        let bad = serve("GET", "/", &env(&[(OPERATOR_PAGE, "maybe")])).unwrap();
        assert_eq!(bad.status, 500);
        assert!(bad.body.contains("OPERATOR_PAGE") && !bad.body.contains("maybe"));
        assert_eq!(enabled(&One(SettingValue::Bool(false))), Ok(false));
        assert_eq!(enabled(&One(SettingValue::Bool(true))), Ok(true));
        assert!(enabled(&One(SettingValue::Number(0.0))).is_err());
    }
}
