//! `GET /starts`, `GET /starts/{start_id}` and `GET /schedules` (docs/behaviour.md,
//! "Start history and schedules"): after the token check ([`crate::http_flow`]), the
//! query and the settings they need are read here, the one call to the ledger object
//! is built, and its answer becomes the reply.
//!
//! Order of checks: the query (400 naming the parameter), the `START_LEDGER` binding
//! (500 naming it: the history lives in the ledger object), the settings (500 naming
//! the one at fault), then the object (503 when it fails).

use crate::account::{Account, SETTING_NAMES};
use crate::civil_time::rfc3339_ms;
use crate::endpoint::{self, HistoryRead};
use crate::error::{ErrorCode, TriggerError};
use crate::history::{self, ListQuery, Page};
use crate::http_flow::{answer_only, LedgerCall, Next};
use crate::ids::ApiKind;
use crate::json_text::{quoted, to_text};
use crate::ledger;
use crate::path_policy::PathPrefixes;
use crate::reply::Reply;
use crate::schedule::{CronEntry, Schedules};
use crate::setting_names::{SCHEDULES, START_LEDGER};
use crate::settings::{Lookup, SettingValue, Settings};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// An authenticated read, before its settings.
#[derive(Debug)]
pub struct HistoryRequest {
    read: HistoryRead,
    query: Option<String>,
}

/// Waiting for the ledger object's answer.
#[derive(Debug)]
pub struct AwaitingHistory {
    call: LedgerCall,
    pending: Pending,
}

#[derive(Debug)]
enum Pending {
    List(ListQuery),
    One,
    /// The schedules, their jobs' `last` to fill in, in order.
    Schedules(Vec<ScheduleView>),
}

/// The error when the deployment has no ledger, and so no history.
fn no_ledger() -> TriggerError {
    TriggerError::misconfigured(format!(
        "{START_LEDGER} is not bound: the start history lives in the ledger's Durable Object; declare the binding and its migration (see the shipped wrangler.toml)"
    ))
}

fn not_found() -> TriggerError {
    TriggerError::new(
        ErrorCode::StartNotFound,
        "the start history holds no start with this id",
    )
}

/// The query of a route that takes none: any parameter is unknown.
fn no_query(query: Option<&str>) -> Result<(), TriggerError> {
    match query.and_then(|q| q.split('&').find(|p| !p.is_empty())) {
        None => Ok(()),
        Some(pair) => {
            let key = pair.split('=').next().unwrap_or(pair);
            let shown: String = key.chars().take(40).collect();
            Err(TriggerError::invalid(
                "query",
                &format!(
                    "unknown parameter {} (this route takes none)",
                    quoted(&shown)
                ),
            ))
        }
    }
}

impl HistoryRequest {
    pub(crate) fn new(read: HistoryRead, query: Option<String>) -> HistoryRequest {
        HistoryRequest { read, query }
    }

    /// Reads the query and the settings: the answer at once (a refusal, or an empty
    /// `GET /schedules`), or the call to make. `ledger` is whether the deployment has
    /// the `START_LEDGER` binding; `now_ms` the clock (for `next_run`).
    pub fn prepare(self, lookup: &dyn Lookup, ledger: bool, now_ms: u64) -> Next {
        match self.prepared(lookup, ledger, now_ms) {
            Ok(next) => next,
            Err(error) => answer_only(endpoint::refusal_reply(&error)),
        }
    }

    fn prepared(
        self,
        lookup: &dyn Lookup,
        ledger: bool,
        now_ms: u64,
    ) -> Result<Next, TriggerError> {
        let query = self.query.as_deref();
        let read = match &self.read {
            HistoryRead::Starts => Some(history::parse_list_query(query)?),
            _ => {
                no_query(query)?;
                None
            }
        };
        if !ledger {
            return Err(no_ledger());
        }
        let (account, prefixes) = Settings::target_only(lookup)?;
        history::retention_ms(lookup)?;
        let object = ledger::object_name(&account.ledger_scope());
        let ask = |call: String, pending: Pending| {
            Ok(Next::AskHistory(AwaitingHistory {
                call: LedgerCall {
                    object: object.clone(),
                    call,
                },
                pending,
            }))
        };
        match self.read {
            HistoryRead::Starts => {
                let query = read.unwrap_or_else(|| ListQuery {
                    filters: Default::default(),
                    limit: history::DEFAULT_LIMIT,
                    after: None,
                });
                ask(history::list_call(&query), Pending::List(query))
            }
            HistoryRead::Start(id) => {
                if !history::is_entry_id(&id) {
                    return Err(not_found());
                }
                ask(history::get_call(&id), Pending::One)
            }
            HistoryRead::Schedules => {
                let schedules = match lookup.get(SCHEDULES) {
                    None => return Ok(answer_only(schedules_reply(&[]))),
                    Some(SettingValue::Text(t)) if t.trim().is_empty() => {
                        return Ok(answer_only(schedules_reply(&[])))
                    }
                    value => Schedules::from_setting(value)?,
                };
                let views: Vec<ScheduleView> = schedules
                    .0
                    .iter()
                    .map(|entry| schedule_view(entry, &account, prefixes.as_ref(), now_ms))
                    .collect();
                let jobs: Vec<(String, u32)> = views
                    .iter()
                    .flat_map(|v| {
                        let count = v.jobs.as_ref().map_or(0, Vec::len);
                        (0..count).map(move |i| (v.cron.clone(), i as u32))
                    })
                    .collect();
                if jobs.is_empty() {
                    return Ok(answer_only(schedules_reply(&views)));
                }
                ask(history::last_call(jobs), Pending::Schedules(views))
            }
        }
    }
}

impl AwaitingHistory {
    /// The call to make.
    pub fn call(&self) -> &LedgerCall {
        &self.call
    }

    /// Takes the object's answer, or the error the call failed with (`503
    /// ledger_unavailable`, as is an answer that cannot be read).
    pub fn on_answer(self, answer: Result<impl AsRef<str>, TriggerError>) -> Next {
        let reply = answer
            .and_then(|a| self.reply(a.as_ref()))
            .unwrap_or_else(|error| endpoint::refusal_reply(&error));
        answer_only(reply)
    }

    fn reply(self, answer: &str) -> Result<Reply, TriggerError> {
        let unreadable = |_| ledger::unavailable();
        match self.pending {
            Pending::List(query) => {
                let page: Page = serde_json::from_str(answer).map_err(unreadable)?;
                Ok(Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: history::list_answer(&query, &page),
                })
            }
            Pending::One => {
                #[derive(Deserialize)]
                struct One {
                    start: Option<Box<RawValue>>,
                }
                #[derive(Serialize)]
                struct Answer<'a> {
                    ok: bool,
                    start: &'a RawValue,
                }
                let one: One = serde_json::from_str(answer).map_err(unreadable)?;
                let start = one.start.ok_or_else(not_found)?;
                Ok(Reply::json(
                    200,
                    &Answer {
                        ok: true,
                        start: &start,
                    },
                ))
            }
            Pending::Schedules(mut views) => {
                #[derive(Deserialize)]
                struct Lasts {
                    last: Vec<Option<Box<RawValue>>>,
                }
                let lasts: Lasts = serde_json::from_str(answer).map_err(unreadable)?;
                let mut lasts = lasts.last.into_iter();
                for job in views.iter_mut().flat_map(|v| v.jobs.iter_mut().flatten()) {
                    job.last = lasts.next().flatten();
                }
                Ok(schedules_reply(&views))
            }
        }
    }
}

/// One item of `GET /schedules`.
#[derive(Debug, Serialize)]
struct ScheduleView {
    cron: String,
    next_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs: Option<Vec<JobView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorView>,
}

#[derive(Debug, Serialize)]
struct JobView {
    #[serde(skip_serializing_if = "Option::is_none")]
    import_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<ApiKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_connection: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_offset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorView>,
    /// The newest entry of this job that is not `skipped`, or `null`.
    last: Option<Box<RawValue>>,
}

#[derive(Debug, Serialize)]
struct ErrorView {
    code: ErrorCode,
    message: String,
}

impl ErrorView {
    fn of(error: &TriggerError) -> ErrorView {
        ErrorView {
            code: error.code,
            message: error.message.clone(),
        }
    }
}

/// A cron as `GET /schedules` shows it at `now_ms`: its next run, and each job with
/// the path that run would send (rendered, redacted) or what is wrong with it.
fn schedule_view(
    entry: &CronEntry,
    account: &Account,
    prefixes: Option<&PathPrefixes>,
    now_ms: u64,
) -> ScheduleView {
    let next_ms = crate::cron_expr::next_run(&entry.cron, now_ms as i64);
    let mut view = ScheduleView {
        cron: entry.cron.clone(),
        next_run: next_ms.map(rfc3339_ms),
        jobs: None,
        error: None,
    };
    let jobs = match &entry.jobs {
        Ok(jobs) => jobs,
        Err(error) => {
            view.error = Some(ErrorView::of(error));
            return view;
        }
    };
    let views = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let mut j = JobView {
                import_id: job.import_id.as_ref().map(|id| id.as_str().to_owned()),
                api: None,
                path: None,
                next_path: None,
                test_connection: None,
                time_offset: None,
                error: None,
                last: None,
            };
            let spec = match &job.spec {
                Ok(spec) => spec,
                Err(error) => {
                    j.error = Some(ErrorView::of(error));
                    return j;
                }
            };
            j.api = Some(spec.api.unwrap_or_else(|| account.default_api()));
            j.path = spec.path_text.as_deref().map(history::redact_path);
            j.test_connection = spec.test_connection;
            j.time_offset = spec.time_offset.clone();
            let name = crate::schedule::label(&entry.cron, i);
            let checked = match next_ms {
                Some(at) => {
                    crate::schedule::start_of(&name, spec, at.div_euclid(1000), account, prefixes)
                        .map(|start| {
                            j.next_path = start.path.map(|p| history::redact_path(p.as_str()))
                        })
                }
                None => account
                    .target(spec.api, SETTING_NAMES)
                    .map(drop)
                    .map_err(|e| TriggerError::misconfigured(format!("{name}: {}", e.message))),
            };
            j.error = checked.err().as_ref().map(ErrorView::of);
            j
        })
        .collect();
    view.jobs = Some(views);
    view
}

fn schedules_reply(views: &[ScheduleView]) -> Reply {
    #[derive(Serialize)]
    struct Answer<'a> {
        ok: bool,
        schedules: &'a [ScheduleView],
    }
    Reply {
        status: 200,
        headers: Vec::new(),
        body: to_text(&Answer {
            ok: true,
            schedules: views,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting_names::*;
    use crate::test_support::deployment as env;
    use serde_json::{json, Value};

    /// 2026-11-28T03:00:00Z, a Saturday.
    const NOW: u64 = 1_795_834_800_000;

    fn prepare(read: HistoryRead, query: Option<&str>, lookup: &dyn Lookup, ledger: bool) -> Next {
        HistoryRequest::new(read, query.map(str::to_owned)).prepare(lookup, ledger, NOW)
    }

    fn refused(next: Next) -> (u16, Value) {
        match next {
            Next::Done(f) => (f.reply.status, serde_json::from_str(&f.reply.body).unwrap()),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    fn asking(next: Next) -> AwaitingHistory {
        match next {
            Next::AskHistory(a) => a,
            other => panic!("expected a ledger call, got {other:?}"),
        }
    }

    fn answered(asking: AwaitingHistory, answer: &str) -> (u16, Value) {
        refused(asking.on_answer(Ok(answer)))
    }

    #[test]
    fn bad_parameters_come_first_then_the_binding_then_the_settings() {
        let (status, body) = refused(prepare(
            HistoryRead::Starts,
            Some("limit=0"),
            &env(&[]),
            false,
        ));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_request"))
        );
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("limit: "));
        for read in [
            HistoryRead::Starts,
            HistoryRead::Start("a".into()),
            HistoryRead::Schedules,
        ] {
            let (status, body) = refused(prepare(read, None, &env(&[]), false));
            assert_eq!(status, 500);
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("START_LEDGER is not bound"));
        }
        let (status, body) = refused(prepare(
            HistoryRead::Schedules,
            Some("x=1"),
            &env(&[]),
            true,
        ));
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r#""x""#));
        let (status, body) = refused(prepare(
            HistoryRead::Starts,
            None,
            &env(&[(HISTORY_RETENTION_DAYS, "0")]),
            true,
        ));
        assert_eq!(status, 500);
        assert_eq!(
            body["error"]["message"],
            "HISTORY_RETENTION_DAYS: must be a whole number from 1 to 365"
        );
        let (status, body) = refused(prepare(
            HistoryRead::Starts,
            None,
            &env(&[(PROJECT_TOKEN, "")]),
            true,
        ));
        assert_eq!(status, 500);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BLOOMREACH_PROJECT_TOKEN"));
        // No Bloomreach credentials needed.
        let no_keys = env(&[
            (API_KEY_ID, ""),
            (API_SECRET, ""),
            (HISTORY_RETENTION_DAYS, "365"),
        ]);
        asking(prepare(HistoryRead::Starts, None, &no_keys, true));
    }

    #[test]
    fn one_entry_or_not_found() {
        let lookup = env(&[]);
        let a = asking(prepare(
            HistoryRead::Start("abc-1".into()),
            None,
            &lookup,
            true,
        ));
        assert_eq!(a.call().call, r#"{"op":"get","id":"abc-1"}"#);
        let (status, body) = answered(a, r#"{"start":{"id":"abc-1","outcome":"ok"}}"#);
        assert_eq!(
            (status, body),
            (
                200,
                json!({"ok": true, "start": {"id": "abc-1", "outcome": "ok"}})
            )
        );
        let a = asking(prepare(
            HistoryRead::Start("abc-2".into()),
            None,
            &lookup,
            true,
        ));
        let (status, body) = answered(a, r#"{"start":null}"#);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("start_not_found"))
        );
        // An id no entry can have is not looked up.
        let (status, _) = refused(prepare(
            HistoryRead::Start("a.b".into()),
            None,
            &lookup,
            true,
        ));
        assert_eq!(status, 404);
        let a = asking(prepare(
            HistoryRead::Start("abc-3".into()),
            None,
            &lookup,
            true,
        ));
        assert_eq!(answered(a, "garbage").0, 503);
        let a = asking(prepare(
            HistoryRead::Start("abc-3".into()),
            None,
            &lookup,
            true,
        ));
        let (status, body) = refused(a.on_answer(Err::<&str, _>(ledger::unavailable())));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("ledger_unavailable"))
        );
    }

    #[test]
    fn schedules_show_the_next_run_the_next_path_redacted_and_each_jobs_last() {
        let schedules = r#"{
            "0 3 * * *": [
                {"import_id": "customers", "path": "https://u:p@files.example.com/{date}/c.csv?sig=x", "time_offset": "-1d"},
                {"import_id": "bad-template", "path": "/x/{dat}"},
                {"path": "/no-id.csv"},
                {"import_id": "hub", "api": "data-hub"}
            ],
            "0 12 * * 2": [{"import_id": "weekly", "test_connection": false}],
            "15 * * * *": [],
            "0 0 31 2 *": [{"import_id": "never", "path": "/n/{date}"}]
        }"#;
        let lookup = env(&[(SCHEDULES, schedules)]);
        let a = asking(prepare(HistoryRead::Schedules, None, &lookup, true));
        let call: Value = serde_json::from_str(&a.call().call).unwrap();
        assert_eq!(call["op"], "last");
        assert_eq!(
            call["jobs"],
            json!([
                ["0 3 * * *", 0],
                ["0 3 * * *", 1],
                ["0 3 * * *", 2],
                ["0 3 * * *", 3],
                ["0 12 * * 2", 0],
                ["0 0 31 2 *", 0]
            ])
        );
        let last = r#"{"last":[{"id":"e1","outcome":"ok"},null,null,null,null,null]}"#;
        let (status, body) = answered(a, last);
        assert_eq!(status, 200);
        let s = &body["schedules"];
        assert_eq!(s[0]["cron"], "0 3 * * *");
        assert_eq!(s[0]["next_run"], "2026-11-29T03:00:00.000Z");
        assert_eq!(
            s[0]["jobs"][0],
            json!({"import_id": "customers", "api": "data-v1",
                   "path": "https://***@files.example.com/{date}/c.csv?***",
                   "next_path": "https://***@files.example.com/2026-11-28/c.csv?***",
                   "time_offset": "-1d", "last": {"id": "e1", "outcome": "ok"}})
        );
        assert_eq!(s[0]["jobs"][1]["import_id"], "bad-template");
        assert_eq!(s[0]["jobs"][1]["error"]["code"], "misconfigured");
        assert!(s[0]["jobs"][1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("{dat}"));
        assert_eq!(s[0]["jobs"][1]["last"], Value::Null);
        assert_eq!(s[0]["jobs"][2].get("import_id"), None);
        assert!(s[0]["jobs"][2]["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("import_id: is required"));
        assert_eq!(s[0]["jobs"][3]["api"], "data-hub");
        assert!(s[0]["jobs"][3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BLOOMREACH_WORKSPACE_ID"));
        // Weekday 2 is Monday in Cloudflare's numbering.
        assert_eq!(s[1]["next_run"], "2026-11-30T12:00:00.000Z");
        assert_eq!(s[1]["jobs"][0]["test_connection"], false);
        assert_eq!(s[1]["jobs"][0].get("next_path"), None);
        assert_eq!(s[2]["jobs"], json!([]));
        // A cron that never fires has no next run and no next path.
        assert_eq!(s[3]["next_run"], Value::Null);
        assert_eq!(s[3]["jobs"][0].get("next_path"), None);
        assert_eq!(s[3]["jobs"][0]["path"], "/n/{date}");
        assert_eq!(s.as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_cron_listed_twice_has_its_error_and_no_schedules_is_an_empty_list() {
        let lookup = env(&[(
            SCHEDULES,
            r#"{"0 3 * * *": [{"import_id": "a"}], "0  3 * * *": []}"#,
        )]);
        let (status, body) = refused(prepare(HistoryRead::Schedules, None, &lookup, true));
        assert_eq!(status, 200);
        assert_eq!(body["schedules"][0]["error"]["code"], "misconfigured");
        assert_eq!(body["schedules"][0].get("jobs"), None);
        assert_eq!(body["schedules"][0]["next_run"], "2026-11-29T03:00:00.000Z");
        for unset in [env(&[]), env(&[(SCHEDULES, "  ")])] {
            let (status, body) = refused(prepare(HistoryRead::Schedules, None, &unset, true));
            assert_eq!((status, body), (200, json!({"ok": true, "schedules": []})));
        }
        let (status, body) = refused(prepare(
            HistoryRead::Schedules,
            None,
            &env(&[(SCHEDULES, "{")]),
            true,
        ));
        assert_eq!(status, 500);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("SCHEDULES:"));
    }

    #[test]
    fn a_page_gets_a_cursor_for_its_filters() {
        let lookup = env(&[]);
        let a = asking(prepare(
            HistoryRead::Starts,
            Some("outcome=failed&limit=1"),
            &lookup,
            true,
        ));
        let (status, body) = answered(
            a,
            r#"{"starts":[{"id":"b"}],"next":{"started_ms":5,"id":"b"}}"#,
        );
        assert_eq!(status, 200);
        let cursor = body["next_cursor"].as_str().unwrap();
        let next = format!("outcome=failed&limit=1&cursor={cursor}");
        let a = asking(prepare(HistoryRead::Starts, Some(&next), &lookup, true));
        assert!(
            a.call()
                .call
                .contains(r#""after":{"started_ms":5,"id":"b"}"#),
            "{}",
            a.call().call
        );
        let other = format!("outcome=ok&cursor={cursor}");
        assert_eq!(
            refused(prepare(HistoryRead::Starts, Some(&other), &lookup, true)).0,
            400
        );
    }
}
