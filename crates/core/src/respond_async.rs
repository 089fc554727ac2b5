//! `Prefer: respond-async` (RFC 7240) on a start: with the ledger, the worker answers
//! `202 Accepted` as soon as the start is recorded in progress, and the start runs on
//! in the background; its history entry tells how it ends (docs/behaviour.md,
//! "Prefer: respond-async").
//!
//! This module decides what is particular to it: whether a `Prefer` header asks for
//! it, the `202` answer, and the ledger record an unkeyed accepted start holds while it
//! runs. [`crate::http_flow`] drives the flow.

use crate::reply::Reply;
use serde::Serialize;

/// The request header.
pub const HEADER: &str = "prefer";
/// The preference.
pub const PREFERENCE: &str = "respond-async";
/// How long the ledger record of an accepted start without a key is kept once its
/// start's time is over: it exists only so the start is recorded (and its entry reads
/// "outcome unknown" if the worker stops mid-start); no request can name it again.
pub const UNKEYED_RECORD_TTL_MS: u64 = 60_000;

/// Whether a `Prefer` header value asks for `respond-async`: the header is a
/// comma-separated list of preferences, each a token with an optional `=value` and
/// `;` parameters (RFC 7240, section 2); the token is matched case-insensitively.
/// Commas and semicolons inside quoted values do not separate.
pub fn prefers_async(value: Option<&str>) -> bool {
    let Some(value) = value else {
        return false;
    };
    split_unquoted(value, ',').into_iter().any(|preference| {
        let head = split_unquoted(preference, ';')
            .into_iter()
            .next()
            .unwrap_or_default();
        let token = head.split('=').next().unwrap_or_default();
        token.trim().eq_ignore_ascii_case(PREFERENCE)
    })
}

/// `text` split at each `separator` outside a quoted string (with `\` escapes).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The ledger record of an accepted start without a key: named by its entry's id,
/// which no other start has, so one request can make it only once.
pub fn record_name(start_id: &str) -> String {
    format!("async\n{start_id}")
}

#[derive(Serialize)]
struct AcceptedAnswer<'a> {
    ok: bool,
    status: &'a str,
    start_id: &'a str,
}

/// `202 {"ok": true, "status": "accepted", "start_id": ...}` with `Location:
/// /starts/{start_id}` and `Preference-Applied: respond-async`; `replayed` adds
/// `idempotent-replayed: true` (a repeat of a keyed start still under way).
pub fn accepted_reply(start_id: &str, replayed: bool) -> Reply {
    let mut reply = Reply::json(
        202,
        &AcceptedAnswer {
            ok: true,
            status: "accepted",
            start_id,
        },
    );
    reply
        .headers
        .push(("location", format!("/starts/{start_id}")));
    reply
        .headers
        .push(("preference-applied", PREFERENCE.to_owned()));
    if replayed {
        reply
            .headers
            .push(("idempotent-replayed", "true".to_owned()));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preference_is_found_among_others_whatever_its_case_and_parameters() {
        for yes in [
            "respond-async",
            "Respond-Async",
            " respond-async ",
            "wait=10, respond-async",
            "respond-async, wait=10",
            "handling=lenient,RESPOND-ASYNC;x=1",
            "respond-async=\"\"",
            "return=minimal; foo=\"a,b\", respond-async",
        ] {
            assert!(prefers_async(Some(yes)), "{yes}");
        }
        for no in [
            "",
            "wait=10",
            "respond-asyncx",
            "x-respond-async",
            "foo=\"a, respond-async\"",
            "return=minimal;respond-async",
            "foo=respond-async",
        ] {
            assert!(!prefers_async(Some(no)), "{no}");
        }
        assert!(!prefers_async(None));
    }

    #[test]
    fn the_accepted_answer_names_the_start_and_where_to_follow_it() {
        let reply = accepted_reply("abc-01", false);
        assert_eq!(reply.status, 202);
        assert_eq!(
            reply.body,
            r#"{"ok":true,"status":"accepted","start_id":"abc-01"}"#
        );
        assert_eq!(
            reply.headers,
            vec![
                ("location", "/starts/abc-01".to_owned()),
                ("preference-applied", "respond-async".to_owned())
            ]
        );
        let again = accepted_reply("abc-01", true);
        assert_eq!(again.body, reply.body);
        assert!(again
            .headers
            .contains(&("idempotent-replayed", "true".to_owned())));
        assert_eq!(record_name("abc-01"), "async\nabc-01");
    }
}
