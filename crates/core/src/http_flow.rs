//! The HTTP endpoint's whole flow as a state machine the worker drives, like
//! [`crate::attempts::Attempts`]: every ordering rule (route, method, token, declared
//! length, body, settings, dry run, `Idempotency-Key`, send, record, log) is decided
//! here, and the shell only reads the body, calls the ledger and `fetch`, and writes
//! what it is handed (docs/architecture.md, "A start over HTTP").
//!
//! Time is passed in (`now_ms`, unix milliseconds); nothing here reads a clock.

use crate::attempts::StartResult;
use crate::endpoint::{self, Prepared, Route};
use crate::error::TriggerError;
use crate::history::{self, Cause, Entry, Written};
use crate::history_routes::{AwaitingHistory, HistoryRequest};
use crate::hold;
use crate::idempotency::{self, IdempotencyKey, KeyAnswer};
use crate::ids::ApiKind;
use crate::ledger;
use crate::log_line::TriggerLog;
use crate::reply::Reply;
use crate::request_body::{too_large, MAX_BODY_BYTES};
use crate::respond_async;
use crate::retry::RetryLimits;
use crate::settings::Lookup;
use crate::upstream_request::UpstreamRequest;

/// The request before its body: method and URL, and its headers by name (lower
/// case), read only when the flow needs them: a request for an unknown route costs
/// no header reads.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The full request URL, as the runtime gives it.
    pub url: &'a str,
    pub headers: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the headers: one of them is the caller's token.
        write!(f, "RequestHead({} {})", self.method, self.url)
    }
}

/// One call to a ledger object: its name and the call's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCall {
    pub object: String,
    pub call: String,
}

/// How a request ends: the answer, and before it the ledger record to write (if any)
/// and the log line (if the request is a trigger); after it, the history entry of an
/// unkeyed start.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub reply: Reply,
    /// Write this first: a `finish` of the key's ledger record.
    pub record: Option<LedgerCall>,
    pub log_line: Option<String>,
    /// Send this after the answer is handed back, still within the request's
    /// `waitUntil` work, so the entry never delays the answer; a failure is logged
    /// ([`crate::log_line::history_write_failed_line`]) and changes nothing.
    pub history: Option<LedgerCall>,
}

/// What the shell does next.
#[derive(Debug)]
pub enum Next {
    /// Read the body, at most [`crate::request_body::MAX_BODY_BYTES`], then
    /// [`AwaitingBody::on_body`].
    ReadBody(AwaitingBody),
    /// Make [`AwaitingLedger::call`], then [`AwaitingLedger::on_ledger`].
    AskLedger(AwaitingLedger),
    /// A start accepted with `Prefer: respond-async`, now recorded in progress: hand
    /// [`Accepted::reply`] (the `202`) to the caller at once, then go on with
    /// [`Accepted::sending`] as with [`Next::Send`], still within the request's
    /// `waitUntil` work; its final reply is answered to no one.
    Accepted(Accepted),
    /// Make the start ([`Sending::request`] within [`Sending::limits`], as
    /// [`crate::attempts::Attempts`] says), then [`Sending::on_result`].
    Send(Sending),
    /// Panic on purpose: the test route, enabled and called with a valid token.
    Panic,
    /// A read of the start history or the schedules: call
    /// [`HistoryRequest::prepare`] with whether the deployment has the ledger.
    History(HistoryRequest),
    /// Make [`AwaitingHistory::call`], then [`AwaitingHistory::on_answer`].
    AskHistory(AwaitingHistory),
    /// Write the record and the log line, then answer.
    Done(Finished),
}

/// A start accepted with `Prefer: respond-async`: the `202` to answer now, and the
/// start to make after it.
#[derive(Debug)]
pub struct Accepted {
    pub reply: Reply,
    pub sending: Sending,
}

/// What a trigger has gathered so far, for its log line.
#[derive(Clone, Debug)]
struct Trigger {
    started_ms: u64,
    import_id: String,
    cause: String,
    /// The caller's name (or `token#N`), once authenticated.
    caller: Option<String>,
    api: ApiKind,
    dry_run: bool,
}

impl Trigger {
    fn log<'s>(&'s self, now_ms: u64, fill: impl FnOnce(&mut TriggerLog<'s>)) -> String {
        let mut entry = TriggerLog::new(Some(&self.import_id), &self.cause);
        entry.api = self.api;
        entry.dry_run = self.dry_run;
        entry.total_ms = now_ms.saturating_sub(self.started_ms);
        fill(&mut entry);
        entry.to_line()
    }

    /// A request refused before any upstream call: its answer and log line.
    fn refuse(&self, error: &TriggerError, now_ms: u64) -> Next {
        Next::Done(Finished {
            reply: endpoint::refusal_reply(error),
            record: None,
            log_line: Some(self.log(now_ms, |e| e.error = Some(error))),
            history: None,
        })
    }

    /// The history entry of this start, begun (in progress) at its start time.
    fn entry(&self, prepared: &Prepared, random: u64, key: Option<&str>) -> Entry {
        let started = self.started_ms as i64;
        let id = history::entry_id(started, random);
        let mut entry = Entry::begun(id, started, prepared.start.api(), Cause::Http);
        entry.import_id = Some(prepared.start.import_id.as_str().to_owned());
        entry.caller = self.caller.clone();
        entry.path = prepared
            .start
            .path
            .as_ref()
            .map(|p| history::redact_path(p.as_str()));
        entry.test_connection = prepared.start.test_connection;
        entry.idempotency_key = key.map(str::to_owned);
        entry
    }
}

pub(crate) fn answer_only(reply: Reply) -> Next {
    Next::Done(Finished {
        reply,
        record: None,
        log_line: None,
        history: None,
    })
}

/// Starts the flow of one request.
pub fn begin(head: &RequestHead<'_>, lookup: &dyn Lookup, now_ms: u64) -> Next {
    // The operator page and its assets: static, no token (it asks for one).
    if let Some(reply) =
        crate::operator_page::serve(head.method, endpoint::path_of(head.url), lookup)
    {
        return answer_only(reply);
    }
    let panic_route = endpoint::panic_route_enabled(lookup);
    let raw_import_id = match endpoint::route(head.method, endpoint::path_of(head.url), panic_route)
    {
        Err(reply) => return answer_only(reply),
        Ok(Route::Health) => return answer_only(Reply::health()),
        // A route for tests only, and even then only for a caller with a valid token.
        Ok(Route::Panic) => {
            let authorization = (head.headers)("authorization");
            return match endpoint::authorize(lookup, authorization.as_deref()) {
                Ok(_) => Next::Panic,
                Err(error) => answer_only(endpoint::refusal_reply(&error)),
            };
        }
        Ok(Route::Start { raw_import_id }) => raw_import_id,
        // The history and the schedules: the same token check as a start.
        Ok(Route::History(read)) => {
            let authorization = (head.headers)("authorization");
            return match endpoint::authorize(lookup, authorization.as_deref()) {
                Ok(_) => Next::History(HistoryRequest::new(
                    read,
                    endpoint::query_of(head.url).map(str::to_owned),
                )),
                Err(error) => answer_only(endpoint::refusal_reply(&error)),
            };
        }
    };
    let mut trigger = Trigger {
        started_ms: now_ms,
        import_id: raw_import_id,
        cause: "http:unauthenticated".to_owned(),
        caller: None,
        api: ApiKind::default(),
        dry_run: false,
    };
    match endpoint::authorize(lookup, (head.headers)("authorization").as_deref()) {
        Ok(caller) => {
            trigger.cause = format!("http:{caller}");
            trigger.caller = Some(caller);
        }
        Err(error) => return trigger.refuse(&error, now_ms),
    }
    let declared = endpoint::declared_length((head.headers)("content-length").as_deref());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return trigger.refuse(&too_large(), now_ms);
    }
    Next::ReadBody(AwaitingBody {
        trigger,
        query: endpoint::query_of(head.url).map(str::to_owned),
        key: (head.headers)(idempotency::HEADER),
        respond_async: respond_async::prefers_async(
            (head.headers)(respond_async::HEADER).as_deref(),
        ),
        length_declared: declared.is_some(),
    })
}

/// Waiting for the request's body.
#[derive(Debug)]
pub struct AwaitingBody {
    trigger: Trigger,
    query: Option<String>,
    key: Option<String>,
    /// Whether the request asked for `Prefer: respond-async`.
    respond_async: bool,
    length_declared: bool,
}

impl AwaitingBody {
    /// Whether the request declared a length within the limit: the runtime holds a body
    /// to its declared length, so it can be read whole in one call; any other body is
    /// read in chunks and stopped at the limit.
    pub fn length_declared(&self) -> bool {
        self.length_declared
    }

    /// Takes the body (or the error reading it gave: too large, unreadable). `ledger` is
    /// whether the deployment has the `START_LEDGER` binding (and so a history);
    /// `random` is 64 random bits for the history entry's id.
    pub fn on_body(
        self,
        body: Result<impl AsRef<[u8]>, TriggerError>,
        lookup: &dyn Lookup,
        ledger: bool,
        now_ms: u64,
        random: u64,
    ) -> Next {
        let mut trigger = self.trigger;
        let prepared = match body.and_then(|body| {
            endpoint::prepare(
                &trigger.import_id,
                self.query.as_deref(),
                body.as_ref(),
                lookup,
            )
        }) {
            Ok(prepared) => prepared,
            Err(error) => return trigger.refuse(&error, now_ms),
        };
        trigger.import_id = prepared.start.import_id.as_str().to_owned();
        trigger.api = prepared.start.api();
        trigger.dry_run = prepared.dry_run;
        if prepared.dry_run {
            // Dry runs ignore the key: nothing starts, so there is nothing to keep.
            return Next::Done(Finished {
                reply: endpoint::dry_run_reply(&prepared),
                record: None,
                log_line: Some(trigger.log(now_ms, |_| {})),
                history: None,
            });
        }
        // Without the ledger there is nothing to record the start in: the preference is
        // ignored and the start runs as usual.
        let accepting = self.respond_async && ledger;
        // An accepted start pushed back is held up to `HOLD_MAX_SECONDS`: a malformed
        // setting refuses it, as any other.
        let hold_max_ms = if accepting {
            match hold::max_ms(lookup) {
                Ok(ms) => Some(ms),
                Err(error) => return trigger.refuse(&error, now_ms),
            }
        } else {
            None
        };
        let Some(raw_key) = self.key else {
            if let Some(max) = hold_max_ms {
                return accept_unkeyed(trigger, prepared, random, max);
            }
            // Written once, when it ends: it never shows in progress.
            let entry = ledger.then(|| trigger.entry(&prepared, random, None));
            return Next::Send(Sending {
                trigger,
                prepared,
                held: None,
                entry,
                hold_max_ms: None,
            });
        };
        let entry = trigger.entry(&prepared, random, Some(&raw_key));
        let started = trigger.started_ms as i64;
        let begun = (started, &entry, accepting);
        match key_call(&raw_key, &prepared, lookup, ledger, begun) {
            Ok((call, record, fingerprint)) => Next::AskLedger(AwaitingLedger {
                trigger,
                prepared,
                call,
                held: Held {
                    record,
                    fingerprint,
                },
                entry,
                accepting,
                hold_max_ms,
            }),
            Err(error) => trigger.refuse(&error, now_ms),
        }
    }
}

/// A start accepted with `Prefer: respond-async` and no key: a `begin` on a record of
/// its own ([`respond_async::record_name`]), which writes its entry in progress (and
/// makes it read "outcome unknown" if the worker stops mid-start) before the `202`.
fn accept_unkeyed(trigger: Trigger, prepared: Prepared, random: u64, hold_max_ms: u64) -> Next {
    let entry = trigger.entry(&prepared, random, None);
    let record = respond_async::record_name(&entry.id);
    let fingerprint = idempotency::fingerprint(&prepared.start);
    let call = LedgerCall {
        object: ledger::object_name(&prepared.scope),
        call: ledger::begin_accepted(
            &record,
            &fingerprint,
            prepared.limits.deadline_ms,
            respond_async::UNKEYED_RECORD_TTL_MS,
            begun(trigger.started_ms as i64, &entry),
        ),
    };
    Next::AskLedger(AwaitingLedger {
        trigger,
        prepared,
        call,
        held: Held {
            record,
            fingerprint,
        },
        entry,
        accepting: true,
        hold_max_ms: Some(hold_max_ms),
    })
}

/// A start's entry as its `begin` writes it: in progress.
fn begun(started_ms: i64, entry: &Entry) -> Written {
    Written {
        started_ms,
        ended_ms: None,
        entry: entry.clone(),
        skip_if_found: false,
    }
}

/// The ledger's `begin` for a key (carrying the start's entry, which the object
/// writes in progress when the start proceeds, and, for a start accepted with
/// `Prefer: respond-async`, its id), and the request's fingerprint; or why the key
/// cannot be used: invalid, no binding, a time to live that does not fit.
fn key_call(
    raw_key: &str,
    prepared: &Prepared,
    lookup: &dyn Lookup,
    ledger: bool,
    (started_ms, entry, accepting): (i64, &Entry, bool),
) -> Result<(LedgerCall, String, String), TriggerError> {
    let key = IdempotencyKey::parse(raw_key)?;
    if !ledger {
        return Err(idempotency::unavailable());
    }
    let ttl_ms = idempotency::ttl_ms(lookup, prepared.limits.deadline_ms)?;
    // `Prefer` is not part of it: a repeat with or without it is the same request.
    let fingerprint = idempotency::fingerprint(&prepared.start);
    let record = key.record_name();
    let deadline_ms = prepared.limits.deadline_ms;
    let written = begun(started_ms, entry);
    let call = LedgerCall {
        object: ledger::object_name(&prepared.scope),
        call: if accepting {
            ledger::begin_accepted(&record, &fingerprint, deadline_ms, ttl_ms, written)
        } else {
            ledger::begin(&record, &fingerprint, deadline_ms, ttl_ms, Some(written))
        },
    };
    Ok((call, record, fingerprint))
}

/// The ledger record a start holds: its name and the request's fingerprint.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub(crate) record: String,
    pub(crate) fingerprint: String,
}

impl Held {
    /// The `finish` call on the record, in the object `object`, with the start's
    /// ended history entry.
    pub(crate) fn finish(
        &self,
        object: String,
        result: &StartResult,
        reply: &Reply,
        history: Option<Written>,
    ) -> LedgerCall {
        LedgerCall {
            object,
            call: ledger::finish(&self.record, &self.fingerprint, result, reply, history),
        }
    }
}

/// Waiting for the ledger's decision on the request's key.
#[derive(Debug)]
pub struct AwaitingLedger {
    trigger: Trigger,
    prepared: Prepared,
    call: LedgerCall,
    held: Held,
    entry: Entry,
    /// Whether the start is accepted with `Prefer: respond-async` once it proceeds.
    accepting: bool,
    /// An accepted start's `HOLD_MAX_SECONDS`, in ms.
    hold_max_ms: Option<u64>,
}

impl AwaitingLedger {
    /// The call to make.
    pub fn call(&self) -> &LedgerCall {
        &self.call
    }

    /// Takes the object's answer, or the error the call failed with.
    pub fn on_ledger(self, answer: Result<impl AsRef<str>, TriggerError>, now_ms: u64) -> Next {
        let trigger = self.trigger;
        let begin = match answer.and_then(|a| ledger::read_begin(a.as_ref())) {
            Ok(begin) => begin,
            Err(error) => return trigger.refuse(&error, now_ms),
        };
        match idempotency::answer(begin) {
            KeyAnswer::Proceed => {
                // Recorded in progress: an accepted start is answered now.
                let accepted = self
                    .accepting
                    .then(|| respond_async::accepted_reply(&self.entry.id, false));
                let sending = Sending {
                    trigger,
                    prepared: self.prepared,
                    held: Some((self.call.object, self.held)),
                    entry: Some(self.entry),
                    hold_max_ms: self.hold_max_ms.filter(|_| self.accepting),
                };
                match accepted {
                    Some(reply) => Next::Accepted(Accepted { reply, sending }),
                    None => Next::Send(sending),
                }
            }
            // A replay is not recorded: the first start's entry stands.
            KeyAnswer::Replay(reply, error) => Next::Done(Finished {
                reply,
                record: None,
                log_line: Some(trigger.log(now_ms, |e| {
                    e.replayed = true;
                    e.error = error.as_ref();
                })),
                history: None,
            }),
            KeyAnswer::Refuse(error) => trigger.refuse(&error, now_ms),
        }
    }
}

/// Ready to start the import.
#[derive(Debug)]
pub struct Sending {
    trigger: Trigger,
    prepared: Prepared,
    /// The ledger object and record of the key, when the start holds one.
    held: Option<(String, Held)>,
    /// Its history entry, when the deployment keeps a history.
    entry: Option<Entry>,
    /// An accepted start's `HOLD_MAX_SECONDS` (ms): pushed back, it is held.
    hold_max_ms: Option<u64>,
}

impl Sending {
    /// The request to send.
    pub fn request(&self) -> &UpstreamRequest {
        &self.prepared.upstream
    }

    /// The bounds of its attempts (an HTTP start's deadline already capped).
    pub fn limits(&self) -> RetryLimits {
        self.prepared.limits
    }

    /// Takes the start's outcome: the answer, its ledger record, its log line and its
    /// history entry (carried by the record's `finish`, or a call of its own).
    pub fn on_result(self, result: &StartResult, now_ms: u64) -> Next {
        let reply = endpoint::outcome_reply(&self.prepared.start, result);
        if let Some(hold) = self.hold_call(result, now_ms) {
            let log_line = self.trigger.log(now_ms, |e| e.record_run(result));
            return Next::Done(Finished {
                reply,
                record: Some(hold),
                log_line: Some(log_line),
                history: None,
            });
        }
        let written = self.entry.map(|mut entry| {
            entry.end(result);
            Written {
                started_ms: self.trigger.started_ms as i64,
                ended_ms: Some(now_ms as i64),
                entry,
                skip_if_found: false,
            }
        });
        let object = ledger::object_name(&self.prepared.scope);
        let (record, history) = match self.held {
            Some((object, held)) => (Some(held.finish(object, result, &reply, written)), None),
            None => (
                None,
                written.map(|w| LedgerCall {
                    object,
                    call: history::record_call(&w),
                }),
            ),
        };
        let log_line = self.trigger.log(now_ms, |e| e.record_run(result));
        Next::Done(Finished {
            reply,
            record,
            log_line: Some(log_line),
            history,
        })
    }
}

impl Sending {
    /// The `hold` call of an accepted start whose outcome is still retryable, when
    /// it can be tried again before `HOLD_MAX_SECONDS` from its start
    /// ([`crate::hold`]): its entry stays in progress with its next try's time.
    fn hold_call(&self, result: &StartResult, now_ms: u64) -> Option<LedgerCall> {
        let (max, (object, held), entry) =
            (self.hold_max_ms?, self.held.as_ref()?, self.entry.as_ref()?);
        crate::hold::first_hold_call(
            crate::hold::FirstTry {
                sent: hold::Sent::of(&self.prepared.start),
                entry,
                object,
                held,
                cause: &self.trigger.cause,
                started_ms: self.trigger.started_ms,
                max_ms: max,
                deadline_ms: self.prepared.limits.deadline_ms,
            },
            result,
            now_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting_names::*;
    use crate::test_support::deployment as env;
    use serde_json::Value;

    const URL: &str = "https://w.example/imports/imp-1/start";

    /// A request's head for the tests: method, URL and headers.
    struct Head {
        method: &'static str,
        url: &'static str,
        headers: Vec<(&'static str, String)>,
    }

    impl Head {
        fn post(url: &'static str) -> Head {
            Head {
                method: "POST",
                url,
                headers: Vec::new(),
            }
        }
        fn get(url: &'static str) -> Head {
            Head {
                method: "GET",
                ..Head::post(url)
            }
        }
        fn with(mut self, name: &'static str, value: &str) -> Head {
            self.headers.push((name, value.to_owned()));
            self
        }
        fn auth(self, value: &str) -> Head {
            self.with("authorization", value)
        }
        fn begin(&self, lookup: &dyn Lookup, now_ms: u64) -> Next {
            let headers = |name: &str| {
                self.headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            begin(
                &RequestHead {
                    method: self.method,
                    url: self.url,
                    headers: &headers,
                },
                lookup,
                now_ms,
            )
        }
    }

    const BEARER: &str = "Bearer caller-token-0123456789";

    fn done(next: Next) -> Finished {
        match next {
            Next::Done(finished) => finished,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    fn log(finished: &Finished) -> Value {
        serde_json::from_str(finished.log_line.as_deref().expect("a log line")).unwrap()
    }

    fn ok_result() -> StartResult {
        crate::test_support::accepted(40)
    }

    #[test]
    fn routes_answer_without_a_log_line_and_the_panic_route_needs_a_token() {
        let lookup = env(&[(endpoint::PANIC_TEST_ROUTE, "enabled")]);
        let health = done(Head::get("https://w.example/healthz").begin(&lookup, 0));
        assert_eq!((health.reply.status, health.log_line), (200, None));
        let unknown = done(Head::post("https://w.example/nope").begin(&lookup, 0));
        assert_eq!(unknown.reply.status, 404);
        let panic_url = "https://w.example/__panic";
        assert_eq!(
            done(Head::post(panic_url).begin(&lookup, 0)).reply.status,
            401
        );
        assert!(matches!(
            Head::post(panic_url).auth(BEARER).begin(&lookup, 0),
            Next::Panic
        ));
        assert_eq!(
            done(Head::post(panic_url).auth(BEARER).begin(&env(&[]), 0))
                .reply
                .status,
            404
        );
    }

    #[test]
    fn the_token_comes_before_the_length_and_the_body() {
        let lookup = env(&[]);
        let refused = done(
            Head::post(URL)
                .auth("Bearer wrong-token-0000000000")
                .with("content-length", "999999")
                .begin(&lookup, 5),
        );
        assert_eq!(refused.reply.status, 401);
        let line = log(&refused);
        assert_eq!(
            (line["outcome"].as_str(), line["cause"].as_str()),
            (Some("unauthorized"), Some("http:unauthenticated"))
        );
        let long = Head::post(URL)
            .auth(BEARER)
            .with("content-length", "999999");
        assert_eq!(done(long.begin(&lookup, 5)).reply.status, 413);
        let short = Head::post(URL).auth(BEARER).with("content-length", "10");
        assert!(matches!(short.begin(&lookup, 5), Next::ReadBody(_)));
    }

    #[test]
    fn a_start_without_a_key_sends_then_logs_once_with_the_whole_duration() {
        let lookup = env(&[]);
        let Next::ReadBody(awaiting) = Head::post(URL).auth(BEARER).begin(&lookup, 1_000) else {
            panic!("reads the body")
        };
        let Next::Send(sending) =
            awaiting.on_body(Ok(br#"{"path":"/a.csv"}"#), &lookup, true, 1_010, 9)
        else {
            panic!("sends")
        };
        assert_eq!(
            sending.request().body.as_deref(),
            Some(r#"{"path":"/a.csv"}"#)
        );
        let finished = done(sending.on_result(&ok_result(), 1_250));
        assert_eq!(finished.reply.status, 200);
        assert_eq!(finished.record, None);
        let line = log(&finished);
        assert_eq!(line["outcome"], "ok");
        assert_eq!(line["duration_ms"], 250);
        assert_eq!(line["cause"], "http:token#1");
        let reply: Value = serde_json::from_str(&finished.reply.body).unwrap();
        assert_eq!(
            reply["duration_ms"], 40,
            "the answer's duration is the attempts'"
        );
    }

    #[test]
    fn bad_bodies_and_read_errors_are_refused_and_logged() {
        let lookup = env(&[]);
        for (body, status) in [(Ok(&b"{\"x\":1}"[..]), 400), (Err(too_large()), 413)] {
            let Next::ReadBody(awaiting) = Head::post(URL).auth(BEARER).begin(&lookup, 0) else {
                panic!()
            };
            let finished = done(awaiting.on_body(body, &lookup, true, 1, 9));
            assert_eq!(finished.reply.status, status);
            assert!(finished.log_line.is_some());
        }
    }

    #[test]
    fn a_dry_run_answers_and_ignores_the_key() {
        let lookup = env(&[]);
        let h = Head::post("https://w.example/imports/imp-1/start?dry_run=1")
            .auth(BEARER)
            .with("idempotency-key", "k");
        let Next::ReadBody(awaiting) = h.begin(&lookup, 0) else {
            panic!()
        };
        let finished = done(awaiting.on_body(Ok(b""), &lookup, false, 1, 9));
        assert_eq!(finished.reply.status, 200);
        assert_eq!(log(&finished)["dry_run"], true);
    }

    fn keyed(lookup: &dyn Lookup, key: &str, ledger: bool) -> Next {
        let h = Head::post(URL).auth(BEARER).with("idempotency-key", key);
        let Next::ReadBody(awaiting) = h.begin(lookup, 0) else {
            panic!()
        };
        awaiting.on_body(Ok(b""), lookup, ledger, 1, 9)
    }

    #[test]
    fn a_key_needs_a_valid_value_the_ledger_and_a_fitting_ttl() {
        let lookup = env(&[]);
        let bad = done(keyed(&lookup, "a b", true));
        assert_eq!(bad.reply.status, 400);
        let unbound = done(keyed(&lookup, "k", false));
        assert_eq!(unbound.reply.status, 400);
        assert!(unbound.reply.body.contains("START_LEDGER"));
        let short = env(&[(idempotency::TTL_SETTING, "60"), (DEADLINE_MS, "5000")]);
        assert!(matches!(keyed(&short, "k", true), Next::AskLedger(_)));
        let too_short = env(&[(idempotency::TTL_SETTING, "60"), (DEADLINE_MS, "60000")]);
        assert!(
            matches!(keyed(&too_short, "k", true), Next::AskLedger(_)),
            "the HTTP deadline is capped at 25 s, under 60 s"
        );
    }

    #[test]
    fn the_ledger_decides_then_the_start_is_recorded_before_it_is_logged() {
        let lookup = env(&[]);
        let Next::AskLedger(asking) = keyed(&lookup, "key-1", true) else {
            panic!()
        };
        assert!(asking.call().object.starts_with("ledger\n"));
        assert!(asking
            .call()
            .call
            .contains(r#""record":"idempotency\nkey-1""#));
        assert!(asking.call().call.contains(r#""op":"begin""#));
        let Next::Send(sending) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 2) else {
            panic!("proceeds")
        };
        let finished = done(sending.on_result(&ok_result(), 3));
        let record = finished.record.expect("the outcome is recorded");
        assert!(record.call.contains(r#""record":"idempotency\nkey-1""#));
        assert!(record.call.contains(r#""op":"finish""#));
        assert!(finished.log_line.is_some());
    }

    #[test]
    fn ledger_refusals_replays_and_failures_are_answered_without_a_start() {
        let lookup = env(&[]);
        for (answer, status) in [
            (Ok(r#"{"decision":"reused"}"#), 422),
            (
                Ok(r#"{"decision":"in_progress","started_at":1,"retry_after_secs":4}"#),
                409,
            ),
            (Ok(r#"{"decision":"outcome_unknown","started_at":1}"#), 502),
            (Ok("garbage"), 503),
            (Err(crate::ledger::unavailable()), 503),
            (
                Ok(
                    r#"{"decision":"replay","started_at":1,"kept":{"outcome":"ok","evidence":"started","status":200,"body":"{}","retry_after":null}}"#,
                ),
                200,
            ),
        ] {
            let Next::AskLedger(asking) = keyed(&lookup, "key-2", true) else {
                panic!()
            };
            let finished = done(asking.on_ledger(answer.clone(), 5));
            assert_eq!(finished.reply.status, status, "{answer:?}");
            assert_eq!(finished.record, None);
            let line = log(&finished);
            if status == 200 {
                assert_eq!(line["idempotent_replay"], true);
                assert_eq!(line["attempts"], 0);
            }
        }
        let Next::AskLedger(asking) = keyed(&lookup, "key-3", true) else {
            panic!()
        };
        let busy = done(asking.on_ledger(
            Ok(r#"{"decision":"in_progress","started_at":1,"retry_after_secs":4}"#),
            5,
        ));
        assert!(busy.reply.headers.contains(&("retry-after", "4".into())));
    }

    fn written(call: &str) -> Value {
        let v: Value = serde_json::from_str(call).unwrap();
        v["history"].clone()
    }

    #[test]
    fn an_unkeyed_start_records_its_entry_after_its_answer_with_the_named_caller() {
        let lookup = env(&[(TRIGGER_TOKENS, "ci-2026-12:caller-token-0123456789")]);
        let h = Head::post(URL).auth(BEARER);
        let Next::ReadBody(awaiting) = h.begin(&lookup, 1_000) else {
            panic!()
        };
        let body =
            br#"{"path":"https://u:p@files.example.com/a.csv?sig=s3cr3t","test_connection":false}"#;
        let Next::Send(sending) = awaiting.on_body(Ok(body), &lookup, true, 1_010, 0xab) else {
            panic!("sends")
        };
        let finished = done(sending.on_result(&ok_result(), 1_250));
        assert_eq!(log(&finished)["cause"], "http:ci-2026-12");
        assert_eq!(finished.record, None);
        let history = finished
            .history
            .expect("an entry to write after the answer");
        assert!(history.object.starts_with("ledger\n"));
        let v: Value = serde_json::from_str(&history.call).unwrap();
        assert_eq!(v["op"], "record");
        let e = &v["history"]["entry"];
        assert_eq!(
            e,
            &serde_json::json!({
                "id": "3e8-00000000000000ab", "started_at": "1970-01-01T00:00:01.000Z",
                "import_id": "imp-1", "api": "data-v1", "cause": "http", "caller": "ci-2026-12",
                "path": "https://***@files.example.com/a.csv?***", "test_connection": false,
                "outcome": "ok", "upstream_status": 200, "attempts": 1, "duration_ms": 40
            })
        );
        assert_eq!(v["history"]["started_ms"], 1_000);
        assert_eq!(v["history"]["ended_ms"], 1_250);
        assert!(!history.call.contains("s3cr3t") && !history.call.contains("u:p"));
        // Without the ledger there is no history.
        let Next::ReadBody(awaiting) = Head::post(URL).auth(BEARER).begin(&lookup, 0) else {
            panic!()
        };
        let Next::Send(sending) = awaiting.on_body(Ok(b""), &lookup, false, 1, 1) else {
            panic!()
        };
        assert_eq!(done(sending.on_result(&ok_result(), 2)).history, None);
    }

    #[test]
    fn a_keyed_start_writes_its_entry_with_its_begin_and_its_finish() {
        let lookup = env(&[]);
        let Next::AskLedger(asking) = keyed(&lookup, "key-9", true) else {
            panic!()
        };
        let begun = written(&asking.call().call);
        assert_eq!(begun["entry"]["outcome"], "in_progress");
        assert_eq!(begun["entry"]["idempotency_key"], "key-9");
        assert_eq!(begun["entry"]["caller"], "token#1");
        assert_eq!(begun.get("ended_ms"), None);
        let Next::Send(sending) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 2) else {
            panic!()
        };
        let mut failed = ok_result();
        let mut error = TriggerError::new(
            crate::ErrorCode::ImportNotFound,
            "Bloomreach answered 404: gone",
        );
        error.upstream_status = Some(404);
        failed.outcome = Err(error);
        let finished = done(sending.on_result(&failed, 3));
        assert_eq!(finished.history, None, "the finish carries it");
        let ended = written(&finished.record.unwrap().call);
        assert_eq!(ended["entry"]["id"], begun["entry"]["id"]);
        assert_eq!(ended["entry"]["outcome"], "import_not_found");
        assert_eq!(ended["entry"]["message"], "Bloomreach answered 404: gone");
        assert_eq!(ended["entry"]["upstream_status"], 404);
        assert_eq!(ended["ended_ms"], 3);
    }

    #[test]
    fn dry_runs_replays_and_refusals_write_no_entry() {
        let lookup = env(&[]);
        let h = Head::post("https://w.example/imports/imp-1/start?dry_run=1").auth(BEARER);
        let Next::ReadBody(awaiting) = h.begin(&lookup, 0) else {
            panic!()
        };
        assert_eq!(
            done(awaiting.on_body(Ok(b""), &lookup, true, 1, 1)).history,
            None
        );
        let Next::AskLedger(asking) = keyed(&lookup, "key-r", true) else {
            panic!()
        };
        let replay = r#"{"decision":"replay","started_at":1,"kept":{"outcome":"ok","evidence":"started","status":200,"body":"{}","retry_after":null}}"#;
        let finished = done(asking.on_ledger(Ok(replay), 5));
        assert_eq!((finished.history, finished.record), (None, None));
        let Next::ReadBody(awaiting) = Head::post(URL).auth(BEARER).begin(&lookup, 0) else {
            panic!()
        };
        let refused = done(awaiting.on_body(Ok(b"{\"x\":1}"), &lookup, true, 1, 1));
        assert_eq!((refused.reply.status, refused.history), (400, None));
    }

    fn async_start(lookup: &dyn Lookup, key: Option<&str>, body: &[u8], ledger: bool) -> Next {
        let mut h = Head::post(URL)
            .auth(BEARER)
            .with("prefer", "wait=5, Respond-Async");
        if let Some(key) = key {
            h = h.with("idempotency-key", key);
        }
        let Next::ReadBody(awaiting) = h.begin(lookup, 1_000) else {
            panic!("reads the body")
        };
        awaiting.on_body(Ok(body), lookup, ledger, 1_010, 0xab)
    }

    #[test]
    fn an_unkeyed_async_start_is_recorded_in_progress_then_answered_202_then_ended() {
        let lookup = env(&[]);
        let Next::AskLedger(asking) = async_start(&lookup, None, b"", true) else {
            panic!("records the start first")
        };
        let v: Value = serde_json::from_str(&asking.call().call).unwrap();
        assert_eq!(v["op"], "begin");
        assert_eq!(v["record"], "async\n3e8-00000000000000ab");
        assert_eq!(v["accepted"], "3e8-00000000000000ab");
        assert_eq!(v["ttl_ms"], respond_async::UNKEYED_RECORD_TTL_MS);
        assert_eq!(v["history"]["entry"]["outcome"], "in_progress");
        assert_eq!(v["history"]["entry"].get("idempotency_key"), None);
        let Next::Accepted(accepted) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 1_020)
        else {
            panic!("accepted")
        };
        assert_eq!(
            accepted.reply,
            respond_async::accepted_reply("3e8-00000000000000ab", false)
        );
        let mut failed = ok_result();
        let mut error = TriggerError::new(crate::ErrorCode::ImportNotFound, "gone");
        error.upstream_status = Some(404);
        failed.outcome = Err(error);
        let finished = done(accepted.sending.on_result(&failed, 1_300));
        assert_eq!(finished.history, None, "the finish carries it");
        let ended = written(&finished.record.as_ref().expect("a finish").call);
        assert_eq!(ended["entry"]["id"], "3e8-00000000000000ab");
        assert_eq!(ended["entry"]["outcome"], "import_not_found");
        assert_eq!(log(&finished)["outcome"], "import_not_found");
        // A ledger that cannot record it: refused, nothing started.
        let Next::AskLedger(asking) = async_start(&lookup, None, b"", true) else {
            panic!()
        };
        let refused = done(asking.on_ledger(Err::<String, _>(crate::ledger::unavailable()), 2));
        assert_eq!(refused.reply.status, 503);
    }

    #[test]
    fn respond_async_is_ignored_without_the_ledger_and_by_dry_runs_and_refusals_stand() {
        let lookup = env(&[]);
        assert!(matches!(
            async_start(&lookup, None, b"", false),
            Next::Send(_)
        ));
        let refused = done(async_start(&lookup, None, b"{\"x\":1}", true));
        assert_eq!(refused.reply.status, 400);
        let h = Head::post("https://w.example/imports/imp-1/start?dry_run=1")
            .auth(BEARER)
            .with("prefer", "respond-async");
        let Next::ReadBody(awaiting) = h.begin(&lookup, 0) else {
            panic!()
        };
        let dry = done(awaiting.on_body(Ok(b""), &lookup, true, 1, 1));
        assert_eq!(dry.reply.status, 200);
        assert!(dry.reply.headers.is_empty());
        let unauthorized = done(
            Head::post(URL)
                .with("prefer", "respond-async")
                .begin(&lookup, 0),
        );
        assert_eq!(unauthorized.reply.status, 401);
    }

    #[test]
    fn a_keyed_async_start_keeps_its_id_in_the_record_and_a_repeat_gets_the_202() {
        let lookup = env(&[]);
        let Next::AskLedger(asking) = async_start(&lookup, Some("key-a"), b"", true) else {
            panic!()
        };
        let v: Value = serde_json::from_str(&asking.call().call).unwrap();
        assert_eq!(v["record"], "idempotency\nkey-a");
        assert_eq!(v["accepted"], v["history"]["entry"]["id"]);
        // The same fingerprint as without the preference.
        let Next::AskLedger(plain) = keyed(&lookup, "key-a", true) else {
            panic!()
        };
        let p: Value = serde_json::from_str(&plain.call().call).unwrap();
        assert_eq!(p["fingerprint"], v["fingerprint"]);
        assert_eq!(p.get("accepted"), None);
        let Next::Accepted(accepted) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 2) else {
            panic!()
        };
        assert_eq!(accepted.reply.status, 202);
        let finished = done(accepted.sending.on_result(&ok_result(), 3));
        let record = finished.record.unwrap();
        assert!(record.call.contains(r#""op":"finish""#));
        assert!(record.call.contains(r#""status":200"#), "the kept answer");
        let Next::AskLedger(again) = async_start(&lookup, Some("key-a"), b"", true) else {
            panic!()
        };
        let replay = done(again.on_ledger(
            Ok(r#"{"decision":"accepted","started_at":1,"start_id":"s-1"}"#),
            4,
        ));
        assert_eq!(replay.reply, respond_async::accepted_reply("s-1", true));
        assert_eq!(log(&replay)["idempotent_replay"], true);
        assert_eq!((replay.record, replay.history), (None, None));
    }

    #[test]
    fn an_accepted_start_still_pushed_back_is_held_not_finished() {
        let limited = || crate::test_support::pushed_back(2);
        let lookup = env(&[(HOLD_MAX_SECONDS, "60")]);
        let Next::AskLedger(asking) = async_start(&lookup, Some("key-h"), b"", true) else {
            panic!()
        };
        let Next::Accepted(accepted) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 1_020)
        else {
            panic!()
        };
        let finished = done(accepted.sending.on_result(&limited(), 1_500));
        let v: Value = serde_json::from_str(&finished.record.as_ref().unwrap().call).unwrap();
        assert_eq!(v["op"], "hold");
        assert_eq!(v["record"], "idempotency\nkey-h");
        // The last try could start at 1 000 + 60 000 and end 25 s + 3 s later.
        assert_eq!(v["until"], 61_000 + 28_000);
        assert_eq!(v["history"]["entry"]["outcome"], "in_progress");
        assert_eq!(v["history"]["entry"]["upstream_status"], 429);
        assert_eq!(
            v["history"]["entry"]["next_attempt_at"],
            crate::civil_time::rfc3339_ms(3_500)
        );
        assert_eq!(v["held"]["next_ms"], 3_500);
        assert_eq!(v["held"]["give_up_ms"], 61_000);
        assert_eq!(v["held"]["cause"], "http:token#1");
        assert_eq!(log(&finished)["outcome"], "upstream_rate_limited");
        // Past HOLD_MAX_SECONDS already, or an ambiguous outcome: finished as before.
        let Next::AskLedger(asking) = async_start(&lookup, None, b"", true) else {
            panic!()
        };
        let Next::Accepted(accepted) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), 1_020)
        else {
            panic!()
        };
        let finished = done(accepted.sending.on_result(&limited(), 60_000));
        assert!(finished.record.unwrap().call.contains(r#""op":"finish""#));
        // A start answered in the request is never held; a malformed setting refuses.
        let Next::AskLedger(plain) = keyed(&lookup, "key-p", true) else {
            panic!()
        };
        let Next::Send(sending) = plain.on_ledger(Ok(r#"{"decision":"proceed"}"#), 2) else {
            panic!()
        };
        let finished = done(sending.on_result(&limited(), 3));
        assert!(finished.record.unwrap().call.contains(r#""op":"finish""#));
        let bad = env(&[(HOLD_MAX_SECONDS, "0")]);
        assert_eq!(done(async_start(&bad, None, b"", true)).reply.status, 500);
    }

    #[test]
    fn history_routes_need_the_token_then_answer_through_the_ledger() {
        let lookup = env(&[]);
        let unauthorized = done(Head::get("https://w.example/starts").begin(&lookup, 0));
        assert_eq!(
            (unauthorized.reply.status, unauthorized.log_line),
            (401, None)
        );
        let wrong = done(
            Head::post("https://w.example/starts")
                .auth(BEARER)
                .begin(&lookup, 0),
        );
        assert_eq!(wrong.reply.status, 405);
        let Next::History(read) = Head::get("https://w.example/starts?limit=2")
            .auth(BEARER)
            .begin(&lookup, 0)
        else {
            panic!("a history read")
        };
        let Next::AskHistory(asking) = read.prepare(&lookup, true, 0) else {
            panic!("asks the ledger")
        };
        assert!(asking.call().call.contains(r#""op":"list""#));
        let finished = done(asking.on_answer(Ok(r#"{"starts":[{"id":"a"}],"next":null}"#)));
        assert_eq!(finished.reply.status, 200);
        assert_eq!(
            finished.reply.body,
            r#"{"ok":true,"starts":[{"id":"a"}],"next_cursor":null}"#
        );
    }
}
