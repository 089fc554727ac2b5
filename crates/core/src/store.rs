//! The ledger object's storage: every SQL statement the `StartLedger` Durable Object
//! runs, and what it decides with the rows (docs/architecture.md, "The ledger
//! object"). The object hands its SQLite to [`handle`], [`clean_up`] and
//! [`alarm_due`] through the [`Sql`] trait and moves bytes; host tests run the same
//! statements on SQLite itself (rusqlite).
//!
//! Two tables: `records` (the ledger's, one per key and per cron job of an event) and
//! `history` (one row per start, its entry's JSON in `body` and the columns the
//! queries filter and sort on), with `meta` keeping the history's row count so a
//! write never counts the table. SQL runs synchronously inside a Durable Object call,
//! so a read, a decision and its writes happen with nothing in between
//! (<https://developers.cloudflare.com/durable-objects/api/sql-storage/>).

use crate::attempts::StartResult;
use crate::history::{
    Entry, HistoryCall, ListQuery, OutcomeFilter, Page, Position, Written, IN_PROGRESS,
    MAX_ENTRIES, SKIPPED,
};
use crate::hold::{self, HeldStart};
use crate::json_text::to_text;
use crate::ledger::{self, Begin, Write};
use serde::{Deserialize, Serialize};

/// A value bound to, or read from, a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    /// A whole number, however the driver returned it (the Durable Object's SQL
    /// returns numbers as JavaScript numbers).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(n) => Some(*n),
            SqlValue::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Integer(n)
    }
}

impl From<&str> for SqlValue {
    fn from(t: &str) -> Self {
        SqlValue::Text(t.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(t: String) -> Self {
        SqlValue::Text(t)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Why a statement failed, as the driver said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError(pub String);

/// A SQLite database: runs one statement with positional `?` parameters and returns
/// its rows, each a list of column values in the statement's order.
pub trait Sql {
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError>;
}

/// The tables and indexes, each statement on its own (run once per object instance;
/// every statement is idempotent, so objects made by earlier versions gain the new
/// tables). The indexes serve, in order: the ledger's clean-up and earliest expiry;
/// `GET /starts` newest first (the keyset cursor over `started_at, id`); the same for
/// one import id, one outcome, and the failed ones (so `outcome=failed` reads only
/// failures, not every row); the history's retention (oldest ended first, and the
/// in-progress rows, whose `ended_at` is NULL); the newest entry of a cron's job for
/// `GET /schedules`; then the held starts ([`crate::hold`]), by state and due time.
pub const SCHEMA: [&str; 12] = [
    "CREATE TABLE IF NOT EXISTS records (name TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at)",
    "CREATE TABLE IF NOT EXISTS history (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, unknown_at INTEGER, import_id TEXT, outcome TEXT NOT NULL, failed INTEGER NOT NULL, cause TEXT NOT NULL, caller TEXT, cron TEXT, job INTEGER, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS history_by_start ON history (started_at, id)",
    "CREATE INDEX IF NOT EXISTS history_by_import ON history (import_id, started_at, id)",
    "CREATE INDEX IF NOT EXISTS history_by_outcome ON history (outcome, started_at, id)",
    "CREATE INDEX IF NOT EXISTS history_by_failed ON history (failed, started_at, id)",
    "CREATE INDEX IF NOT EXISTS history_by_end ON history (ended_at, id)",
    "CREATE INDEX IF NOT EXISTS history_by_job ON history (cron, job, started_at, id)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS held (id TEXT PRIMARY KEY, state TEXT NOT NULL, due_at INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS held_by_due ON held (due_at)",
];

/// Creates what [`SCHEMA`] lists.
pub fn ensure_schema(db: &dyn Sql) -> Result<(), SqlError> {
    SCHEMA.iter().try_for_each(|s| db.run(s, &[]).map(drop))
}

/// What the object knows from its own environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSettings {
    /// How long an ended entry is kept (`HISTORY_RETENTION_DAYS`); `None` when the
    /// setting is malformed: then no entry is deleted for its age (the cap still
    /// holds) until it is fixed.
    pub retention_ms: Option<u64>,
    /// The most entries kept ([`MAX_ENTRIES`]).
    pub max_entries: u64,
    /// `HISTORY_TEST_HOOKS=enabled`: the `cleanup`, `fill` and `alarm` calls the tests use.
    pub test_hooks: bool,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        ObjectSettings {
            retention_ms: Some(crate::history::DEFAULT_RETENTION_DAYS * 86_400_000),
            max_entries: MAX_ENTRIES,
            test_hooks: false,
        }
    }
}

/// What one call did: the answer, and (for the log) why its history write failed,
/// when it did. A failed history write never changes a ledger decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Handled {
    pub answer: String,
    pub history_error: Option<String>,
}

/// The most rows one clean-up deletes from the history; the next alarm, due at
/// once, goes on.
const CLEANUP_BATCH: i64 = 10_000;

/// The history part of a ledger call.
#[derive(Deserialize)]
struct LedgerPart {
    op: String,
    #[serde(default)]
    deadline_ms: u64,
    #[serde(default)]
    history: Option<Written>,
    #[serde(default)]
    held: Option<HeldStart>,
}

#[derive(Serialize)]
struct Refused<'a> {
    error: &'a str,
}

#[derive(Serialize)]
struct Recorded {
    recorded: bool,
}

#[derive(Serialize)]
struct One<'a> {
    start: Option<&'a serde_json::value::RawValue>,
}

#[derive(Serialize)]
struct Lasts {
    last: Vec<Option<Box<serde_json::value::RawValue>>>,
}

#[derive(Serialize)]
struct Count {
    count: i64,
}

/// Runs one call on the object at `now_ms`: a ledger `begin` or `finish` (with the
/// history write it carries), a history `record`, `list`, `get` or `last`, or a
/// `batch` of those ([`crate::call_batch`]), run in order, each as it runs alone. `Err`
/// when SQL failed: the object answers with an error status, which the worker reads
/// as `ledger_unavailable` (in a batch, that call's answer is `null`, read the same).
pub fn handle(
    db: &dyn Sql,
    call: &str,
    now_ms: u64,
    settings: &ObjectSettings,
) -> Result<Handled, SqlError> {
    let Some(calls) = crate::call_batch::calls_of(call) else {
        return handle_one(db, call, now_ms, settings);
    };
    let mut answers = Vec::with_capacity(calls.len());
    let mut errors = Vec::new();
    for call in calls {
        match handle_one(db, call, now_ms, settings) {
            Ok(handled) => {
                answers.push(Some(handled.answer));
                errors.extend(handled.history_error);
            }
            Err(e) => {
                answers.push(None);
                errors.push(e.0);
            }
        }
    }
    Ok(Handled {
        answer: crate::call_batch::answers_text(answers),
        history_error: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

/// One call of [`handle`] (a batch inside a batch is refused as unreadable).
fn handle_one(
    db: &dyn Sql,
    call: &str,
    now_ms: u64,
    settings: &ObjectSettings,
) -> Result<Handled, SqlError> {
    let now = now_ms as i64;
    if let Ok(part) = serde_json::from_str::<LedgerPart>(call) {
        if part.op == "begin" || part.op == "finish" || part.op == "hold" {
            return ledger_call(db, call, part, now_ms);
        }
    }
    let answer = |text: String| {
        Ok(Handled {
            answer: text,
            history_error: None,
        })
    };
    let history_call = match serde_json::from_str::<HistoryCall>(call) {
        Ok(c) => c,
        Err(e) => {
            return answer(to_text(&Refused {
                error: &format!("the call cannot be read: {e}"),
            }))
        }
    };
    match history_call {
        HistoryCall::Record { history } => {
            insert(db, &history, None)?;
            answer(to_text(&Recorded { recorded: true }))
        }
        HistoryCall::List { query } => {
            settle(db, now)?;
            answer(to_text(&list(db, &query)?))
        }
        HistoryCall::Get { id } => {
            settle(db, now)?;
            let rows = db.run("SELECT body FROM history WHERE id = ?", &[id.into()])?;
            let body = first_text(&rows).and_then(raw);
            answer(to_text(&One {
                start: body.as_deref(),
            }))
        }
        HistoryCall::Last { jobs } => {
            settle(db, now)?;
            let mut last = Vec::with_capacity(jobs.len());
            for (cron, job) in jobs {
                let rows = db.run(
                    "SELECT body FROM history WHERE cron = ? AND job = ? AND outcome != 'skipped' ORDER BY started_at DESC, id DESC LIMIT 1",
                    &[cron.into(), i64::from(job).into()],
                )?;
                last.push(first_text(&rows).and_then(raw));
            }
            answer(to_text(&Lasts { last }))
        }
        HistoryCall::Cleanup { now_ms } if settings.test_hooks => {
            let count = clean_up(db, now_ms, settings)?;
            answer(to_text(&Count { count }))
        }
        HistoryCall::Fill {
            count,
            started_ms,
            import_id,
        } if settings.test_hooks => {
            for i in 0..count {
                let started = started_ms + i64::from(i);
                let mut entry = Entry::begun(
                    crate::history::entry_id(started, u64::from(i)),
                    started,
                    crate::ids::ApiKind::DataV1,
                    crate::history::Cause::Http,
                );
                entry.import_id = Some(import_id.clone());
                entry.caller = Some("fill".to_owned());
                entry.end(&crate::attempts::StartResult {
                    outcome: Ok(crate::upstream_answer::Accepted { status: 200 }),
                    attempts: 1,
                    attempts_ms: 50,
                    evidence: crate::attempts::Evidence::Started,
                });
                let written = Written {
                    started_ms: started,
                    ended_ms: Some(started + 50),
                    entry,
                    skip_if_found: false,
                };
                insert(db, &written, None)?;
            }
            answer(to_text(&Count {
                count: history_count(db)?,
            }))
        }
        HistoryCall::Cleanup { .. } | HistoryCall::Fill { .. } => answer(to_text(&Refused {
            error: "test hooks are off (HISTORY_TEST_HOOKS)",
        })),
    }
}

/// A ledger call: read the record, run [`ledger::apply`], write its result; then the
/// history write the call carries. The history write comes second and its failure is
/// reported, not thrown, so it never changes the ledger's decision.
fn ledger_call(
    db: &dyn Sql,
    call: &str,
    part: LedgerPart,
    now_ms: u64,
) -> Result<Handled, SqlError> {
    let name = ledger::record_of(call).unwrap_or_default();
    let rows = db.run(
        "SELECT body FROM records WHERE name = ?",
        &[name.as_str().into()],
    )?;
    let stored = first_text(&rows).map(str::to_owned);
    let applied = ledger::apply(stored.as_deref(), call, now_ms);
    match applied.write {
        Write::Nothing => {}
        Write::Put {
            record,
            expires_at_ms,
        } => {
            db.run(
                "INSERT OR REPLACE INTO records (name, body, expires_at) VALUES (?, ?, ?)",
                &[name.into(), record.into(), (expires_at_ms as i64).into()],
            )?;
            // A held start's row only once its record says held: a row without such a
            // record could be tried while a repeat of its key starts anew. The row
            // comes second: if it cannot be written, the record alone reads "outcome
            // unknown" in time, and nothing is sent twice. An existing row (a repeated
            // call, or one being tried) is never reset.
            if let Some(held) = &part.held {
                db.run(
                    "INSERT OR IGNORE INTO held (id, state, due_at, body) VALUES (?, ?, ?, ?)",
                    &[
                        held.id.as_str().into(),
                        hold::HELD.into(),
                        (held.next_ms as i64).into(),
                        to_text(held).into(),
                    ],
                )?;
            }
        }
        Write::Delete => {
            db.run("DELETE FROM records WHERE name = ?", &[name.into()])?;
        }
    }
    let history_error = match part.history {
        None => None,
        Some(written) => {
            let now = now_ms as i64;
            let result = if part.op == "begin" {
                match ledger::read_begin(&applied.answer) {
                    Ok(Begin::Proceed) => {
                        let unknown_at = ledger::unknown_at(now_ms, part.deadline_ms) as i64;
                        insert(db, &written, Some(unknown_at)).map(drop)
                    }
                    Ok(found) if written.skip_if_found => {
                        match crate::schedule::skipped_job(&found) {
                            Some((skipped, _)) => {
                                let mut entry = written.entry.clone();
                                entry.outcome = SKIPPED.to_owned();
                                entry.recorded_outcome = Some(skipped.recorded_outcome.to_owned());
                                entry.attempts = 0;
                                entry.duration_ms = Some(0);
                                let skipped = Written {
                                    ended_ms: Some(now),
                                    entry,
                                    ..written
                                };
                                insert(db, &skipped, None).map(drop)
                            }
                            None => Ok(()),
                        }
                    }
                    _ => Ok(()),
                }
            } else {
                update(db, &written)
            };
            result.err().map(|e| e.0)
        }
    };
    Ok(Handled {
        answer: applied.answer,
        history_error,
    })
}

/// Inserts an entry (once: a second insert of the same id changes nothing) and counts
/// it. `unknown_at`: when an in-progress entry reads as outcome unknown.
fn insert(db: &dyn Sql, written: &Written, unknown_at: Option<i64>) -> Result<bool, SqlError> {
    let e = &written.entry;
    let rows = db.run(
        "INSERT INTO history (id, started_at, ended_at, unknown_at, import_id, outcome, failed, cause, caller, cron, job, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
        &[
            e.id.as_str().into(),
            written.started_ms.into(),
            written.ended_ms.into(),
            unknown_at.into(),
            e.import_id.clone().into(),
            e.outcome.as_str().into(),
            i64::from(e.failed()).into(),
            e.cause.as_str().into(),
            e.caller.clone().into(),
            e.cron.clone().into(),
            e.job.map(i64::from).into(),
            to_text(e).into(),
        ],
    )?;
    let inserted = !rows.is_empty();
    if inserted {
        db.run(
            "INSERT INTO meta (name, value) VALUES ('history_count', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
            &[],
        )?;
    }
    Ok(inserted)
}

/// Writes how a start ended into its entry.
fn update(db: &dyn Sql, written: &Written) -> Result<(), SqlError> {
    let e = &written.entry;
    db.run(
        "UPDATE history SET ended_at = ?, unknown_at = NULL, outcome = ?, failed = ?, body = ? WHERE id = ?",
        &[
            written.ended_ms.into(),
            e.outcome.as_str().into(),
            i64::from(e.failed()).into(),
            to_text(e).into(),
            e.id.as_str().into(),
        ],
    )
    .map(drop)
}

/// Turns the in-progress entries whose ledger record now reads "outcome unknown" (the
/// worker was stopped mid-start) into `upstream_outcome_unknown`, ended when their
/// record turned. Run before every read and every clean-up, so no answer shows such
/// an entry in progress.
fn settle(db: &dyn Sql, now: i64) -> Result<(), SqlError> {
    let rows = db.run(
        "SELECT id, body, unknown_at FROM history WHERE ended_at IS NULL AND unknown_at <= ?",
        &[now.into()],
    )?;
    for row in rows {
        let (Some(id), Some(body), Some(at)) = (
            row.first().and_then(SqlValue::as_text),
            row.get(1).and_then(SqlValue::as_text),
            row.get(2).and_then(SqlValue::as_i64),
        ) else {
            continue;
        };
        let Ok(mut entry) = serde_json::from_str::<Entry>(body) else {
            continue;
        };
        entry.settle_unknown();
        db.run(
            "UPDATE history SET ended_at = ?, unknown_at = NULL, outcome = ?, failed = 1, body = ? WHERE id = ?",
            &[
                at.into(),
                entry.outcome.as_str().into(),
                to_text(&entry).into(),
                id.into(),
            ],
        )?;
    }
    Ok(())
}

/// One page of `GET /starts`, newest first: `limit` entries after `query.after`, and
/// where the next page starts when there may be one.
fn list(db: &dyn Sql, query: &ListQuery) -> Result<Page, SqlError> {
    let (sql, params) = list_sql(query);
    let rows = db.run(&sql, &params)?;
    let limit = query.limit.clamp(1, crate::history::MAX_LIMIT) as usize;
    let more = rows.len() > limit;
    let mut starts = Vec::with_capacity(limit);
    let mut last = None;
    for row in rows.iter().take(limit) {
        let (Some(started_ms), Some(id)) = (
            row.first().and_then(SqlValue::as_i64),
            row.get(1).and_then(SqlValue::as_text),
        ) else {
            continue;
        };
        // The cursor moves past a row whose body cannot be read, so the pages after
        // it still come; only that body is left out.
        last = Some(Position {
            started_ms,
            id: id.to_owned(),
        });
        if let Some(body) = row.get(2).and_then(SqlValue::as_text).and_then(raw) {
            starts.push(body);
        }
    }
    Ok(Page {
        starts,
        next: if more { last } else { None },
    })
}

/// The statement of one page: the filters as conditions on the indexed columns, the
/// cursor as a row-value comparison, which SQLite answers from the `(started_at, id)`
/// indexes, and one row more than the page to tell whether there is a next one.
pub fn list_sql(query: &ListQuery) -> (String, Vec<SqlValue>) {
    let f = &query.filters;
    let mut conditions: Vec<&str> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(import_id) = &f.import_id {
        conditions.push("import_id = ?");
        params.push(import_id.as_str().into());
    }
    match &f.outcome {
        None => {}
        Some(OutcomeFilter::Failed) => conditions.push("failed = 1"),
        Some(other) => {
            conditions.push("outcome = ?");
            params.push(
                match other {
                    OutcomeFilter::Ok => "ok",
                    OutcomeFilter::Skipped => SKIPPED,
                    OutcomeFilter::InProgress => IN_PROGRESS,
                    OutcomeFilter::Code(code) => code,
                    OutcomeFilter::Failed => "",
                }
                .into(),
            );
        }
    }
    if let Some(cause) = f.cause {
        conditions.push("cause = ?");
        params.push(cause.as_str().into());
    }
    if let Some(caller) = &f.caller {
        conditions.push("caller = ?");
        params.push(caller.as_str().into());
    }
    if let Some(since) = f.since_ms {
        conditions.push("started_at >= ?");
        params.push(since.into());
    }
    if let Some(until) = f.until_ms {
        conditions.push("started_at < ?");
        params.push(until.into());
    }
    if let Some(after) = &query.after {
        conditions.push("(started_at, id) < (?, ?)");
        params.push(after.started_ms.into());
        params.push(after.id.as_str().into());
    }
    let mut sql = "SELECT started_at, id, body FROM history".to_owned();
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
    params.push(i64::from(query.limit.clamp(1, crate::history::MAX_LIMIT) + 1).into());
    (sql, params)
}

/// The clean-up (the object's alarm): settles stopped starts, deletes expired ledger
/// records, the entries that ended more than the retention ago, and the oldest ended
/// entries past the cap (never one in progress), at most `CLEANUP_BATCH` of each
/// per run. Returns the entries left, which it also keeps in `meta`. Safe to run
/// twice or late.
pub fn clean_up(db: &dyn Sql, now_ms: u64, settings: &ObjectSettings) -> Result<i64, SqlError> {
    let now = now_ms as i64;
    settle(db, now)?;
    db.run("DELETE FROM records WHERE expires_at <= ?", &[now.into()])?;
    if let Some(retention_ms) = settings.retention_ms {
        let cutoff = now.saturating_sub(retention_ms as i64);
        db.run(
            "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE ended_at < ? ORDER BY ended_at LIMIT ?)",
            &[cutoff.into(), CLEANUP_BATCH.into()],
        )?;
    }
    let mut count = count_rows(db)?;
    let cap = settings.max_entries as i64;
    if count > cap {
        db.run(
            "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE ended_at IS NOT NULL ORDER BY ended_at, id LIMIT ?)",
            &[(count - cap).min(CLEANUP_BATCH).into()],
        )?;
        count = count_rows(db)?;
    }
    db.run(
        "INSERT INTO meta (name, value) VALUES ('history_count', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[count.into()],
    )?;
    Ok(count)
}

fn count_rows(db: &dyn Sql) -> Result<i64, SqlError> {
    let rows = db.run("SELECT COUNT(*) FROM history", &[])?;
    Ok(first_int(&rows).unwrap_or(0))
}

/// The entries as `meta` counts them.
fn history_count(db: &dyn Sql) -> Result<i64, SqlError> {
    let rows = db.run("SELECT value FROM meta WHERE name = 'history_count'", &[])?;
    Ok(first_int(&rows).unwrap_or(0))
}

/// When the clean-up is next due: the earliest of the first ledger record's expiry,
/// the oldest ended entry's end of retention, and now when the history holds more
/// entries than the cap (counted in `meta`, not by a scan). `None`: nothing to clean.
pub fn alarm_due(
    db: &dyn Sql,
    now_ms: u64,
    settings: &ObjectSettings,
) -> Result<Option<u64>, SqlError> {
    let rows = db.run(
        "SELECT (SELECT MIN(expires_at) FROM records), (SELECT MIN(ended_at) FROM history), (SELECT value FROM meta WHERE name = 'history_count'), (SELECT MIN(due_at) FROM held)",
        &[],
    )?;
    let row = rows.first();
    let column = |i: usize| row.and_then(|r| r.get(i)).and_then(SqlValue::as_i64);
    Ok(crate::cleanup::due(crate::cleanup::Due {
        now_ms,
        earliest_record_expiry: column(0).map(|v| v.max(0) as u64),
        oldest_end: column(1).map(|v| v.max(0) as u64),
        retention_ms: settings.retention_ms,
        entries: column(2).map_or(0, |v| v.max(0) as u64),
        max_entries: settings.max_entries,
        earliest_held: column(3).map(|v| v.max(0) as u64),
    }))
}

/// Whether a call is the test hook that runs the alarm's work now.
pub fn is_alarm_hook(call: &str, settings: &ObjectSettings) -> bool {
    #[derive(Deserialize)]
    struct Op {
        op: String,
    }
    settings.test_hooks && serde_json::from_str::<Op>(call).is_ok_and(|o| o.op == "alarm")
}

/// Runs a ledger call the object makes itself (for a held start).
fn run_ledger(db: &dyn Sql, call: &str, now_ms: u64) -> Result<(), SqlError> {
    let part = serde_json::from_str::<LedgerPart>(call).map_err(|e| SqlError(e.to_string()))?;
    let handled = ledger_call(db, call, part, now_ms)?;
    match handled.history_error {
        Some(e) => Err(SqlError(e)),
        None => Ok(()),
    }
}

/// The alarm's held starts (docs/behaviour.md, "Holding"): a try whose outcome was
/// never written by its time ends `upstream_outcome_unknown` (its ledger record reads
/// so from now); one whose time ran out gives up; and at most
/// [`hold::TRIES_PER_ALARM`] whose time has come are marked trying, here, with no
/// `await` before the object sends them, and returned to be tried. The rest stay due,
/// so the next alarm is at once. Safe to run twice, late or during a try: a row being
/// tried is never returned again.
pub fn take_due(db: &dyn Sql, now_ms: u64) -> Result<Vec<HeldStart>, SqlError> {
    let now = now_ms as i64;
    let rows = db.run(
        "SELECT state, due_at, body, id FROM held WHERE due_at <= ? ORDER BY due_at LIMIT ?",
        &[now.into(), (hold::TRIES_PER_ALARM as i64 * 10).into()],
    )?;
    let mut tries = Vec::new();
    for row in rows {
        let (Some(state), Some(due), Some(held)) = (
            row.first().and_then(SqlValue::as_text),
            row.get(1).and_then(SqlValue::as_i64),
            row.get(2)
                .and_then(SqlValue::as_text)
                .and_then(|b| serde_json::from_str::<HeldStart>(b).ok()),
        ) else {
            // A row that cannot be read is never tried: it is dropped, so it does not
            // keep the alarm due nor stand before readable rows. Its record reads
            // "outcome unknown" in time; nothing is sent twice.
            if let Some(id) = row.get(3).and_then(SqlValue::as_text) {
                db.run("DELETE FROM held WHERE id = ?", &[id.into()])?;
            }
            continue;
        };
        match hold::pick(state, due.max(0) as u64, held.give_up_ms, now_ms) {
            hold::Pick::Leave => {}
            hold::Pick::Try if tries.len() >= hold::TRIES_PER_ALARM => {}
            hold::Pick::Try => {
                let until = hold::try_until(now_ms, crate::endpoint::HTTP_DEADLINE_CAP_MS) as i64;
                db.run(
                    "UPDATE held SET state = ?, due_at = ? WHERE id = ?",
                    &[hold::TRYING.into(), until.into(), held.id.as_str().into()],
                )?;
                db.run(
                    "UPDATE history SET unknown_at = ? WHERE id = ? AND ended_at IS NULL",
                    &[until.into(), held.id.as_str().into()],
                )?;
                tries.push(held);
            }
            hold::Pick::GiveUp => end_held(db, &held, &held.given_up(now_ms), now_ms)?,
            hold::Pick::Unknown => {
                // Never sent again: the record reads "outcome unknown" from now, and
                // the entry (its `unknown_at` passed) is settled so.
                run_ledger(
                    db,
                    &ledger::hold(&held.record, &held.fingerprint, now_ms, None, None),
                    now_ms,
                )?;
                settle(db, now)?;
                db.run("DELETE FROM held WHERE id = ?", &[held.id.as_str().into()])?;
            }
        }
    }
    Ok(tries)
}

/// Writes how a try of `held` ended (`result`, at `now_ms`): held again with its next
/// time, or ended (its entry, its ledger record finished or released). `false` when
/// the row is no longer being tried (it was settled meanwhile): nothing is written.
pub fn after_try(
    db: &dyn Sql,
    held: &HeldStart,
    result: &StartResult,
    now_ms: u64,
) -> Result<bool, SqlError> {
    let rows = db.run(
        "SELECT state FROM held WHERE id = ?",
        &[held.id.as_str().into()],
    )?;
    if first_text(&rows) != Some(hold::TRYING) {
        return Ok(false);
    }
    match held.after(result, now_ms) {
        Some(again) => {
            db.run(
                "UPDATE held SET state = ?, due_at = ?, body = ? WHERE id = ?",
                &[
                    hold::HELD.into(),
                    (again.next_ms as i64).into(),
                    to_text(&again).into(),
                    held.id.as_str().into(),
                ],
            )?;
            if let Some(mut entry) = entry_of(db, &held.id)? {
                entry.attempts = again.attempts;
                entry.upstream_status = again.last_status;
                entry.message = Some(crate::history::short_message(&crate::history::redact_text(
                    &again.last_message,
                )));
                entry.next_attempt_at = Some(crate::civil_time::rfc3339_ms(again.next_ms as i64));
                update(
                    db,
                    &Written {
                        started_ms: held.began_ms as i64,
                        ended_ms: None,
                        entry,
                        skip_if_found: false,
                    },
                )?;
            }
        }
        None => end_held(db, held, &held.final_result(result, now_ms), now_ms)?,
    }
    Ok(true)
}

fn entry_of(db: &dyn Sql, id: &str) -> Result<Option<Entry>, SqlError> {
    let rows = db.run("SELECT body FROM history WHERE id = ?", &[id.into()])?;
    Ok(first_text(&rows).and_then(|b| serde_json::from_str::<Entry>(b).ok()))
}

/// Ends a held start with `result`: its entry, its ledger record (released when the
/// outcome proves nothing started, else keeping the answer), its row deleted.
fn end_held(
    db: &dyn Sql,
    held: &HeldStart,
    result: &StartResult,
    now_ms: u64,
) -> Result<(), SqlError> {
    let written = entry_of(db, &held.id)?.map(|mut entry| {
        entry.end(result);
        entry.next_attempt_at = None;
        Written {
            started_ms: held.began_ms as i64,
            ended_ms: Some(now_ms as i64),
            entry,
            skip_if_found: false,
        }
    });
    let reply = crate::endpoint::start_reply(&held.import_id, held.api, result);
    run_ledger(
        db,
        &ledger::finish(&held.record, &held.fingerprint, result, &reply, written),
        now_ms,
    )?;
    db.run("DELETE FROM held WHERE id = ?", &[held.id.as_str().into()])?;
    Ok(())
}

fn first_text(rows: &[Vec<SqlValue>]) -> Option<&str> {
    rows.first()?.first()?.as_text()
}

fn first_int(rows: &[Vec<SqlValue>]) -> Option<i64> {
    rows.first()?.first()?.as_i64()
}

/// A stored body, passed on as it is (it was written as JSON by [`insert`]).
fn raw(body: &str) -> Option<Box<serde_json::value::RawValue>> {
    serde_json::value::RawValue::from_string(body.to_owned()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempts::{Evidence, StartResult};
    use crate::error::{ErrorCode, TriggerError};
    use crate::history::{entry_id, Cause};
    use crate::ids::ApiKind;
    use crate::reply::Reply;
    use crate::upstream_answer::Accepted;
    use rusqlite::types::Value;
    use serde_json::Value as Json;

    /// SQLite itself, as the Durable Object has it.
    struct Db(rusqlite::Connection);

    impl Db {
        fn new() -> Db {
            let db = Db(rusqlite::Connection::open_in_memory().unwrap());
            ensure_schema(&db).unwrap();
            db
        }
    }

    impl Sql for Db {
        fn run(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
            let fail = |e: rusqlite::Error| SqlError(e.to_string());
            let mut statement = self.0.prepare(sql).map_err(fail)?;
            let values: Vec<Value> = params
                .iter()
                .map(|p| match p {
                    SqlValue::Null => Value::Null,
                    SqlValue::Integer(n) => Value::Integer(*n),
                    SqlValue::Real(f) => Value::Real(*f),
                    SqlValue::Text(t) => Value::Text(t.clone()),
                })
                .collect();
            let columns = statement.column_count();
            let mut rows = statement
                .query(rusqlite::params_from_iter(values))
                .map_err(fail)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(fail)? {
                let mut values = Vec::with_capacity(columns);
                for i in 0..columns {
                    values.push(match row.get::<_, Value>(i).map_err(fail)? {
                        Value::Null => SqlValue::Null,
                        // The Durable Object returns numbers as JavaScript numbers.
                        Value::Integer(n) => SqlValue::Real(n as f64),
                        Value::Real(f) => SqlValue::Real(f),
                        Value::Text(t) => SqlValue::Text(t),
                        Value::Blob(b) => SqlValue::Text(String::from_utf8_lossy(&b).into()),
                    });
                }
                out.push(values);
            }
            Ok(out)
        }
    }

    /// A database whose history statements fail (the ledger's still work).
    struct BrokenHistory(Db);

    impl Sql for BrokenHistory {
        fn run(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
            if sql.contains("history") && !sql.starts_with("CREATE") {
                return Err(SqlError("disk full".into()));
            }
            self.0.run(sql, params)
        }
    }

    const DAY: u64 = 86_400_000;
    const T0: i64 = 1_795_834_800_000; // 2026-11-28T03:00:00Z

    fn settings() -> ObjectSettings {
        ObjectSettings {
            retention_ms: Some(30 * DAY),
            max_entries: MAX_ENTRIES,
            test_hooks: true,
        }
    }

    fn call(db: &dyn Sql, text: &str, now: i64) -> Json {
        let handled = handle(db, text, now as u64, &settings()).unwrap();
        assert_eq!(handled.history_error, None, "{text}");
        serde_json::from_str(&handled.answer).unwrap()
    }

    fn entry(id: &str, started: i64, cause: Cause) -> Entry {
        let mut e = Entry::begun(id.into(), started, ApiKind::DataV1, cause);
        e.import_id = Some("imp".into());
        e
    }

    fn ok_result(ms: u64) -> StartResult {
        StartResult {
            outcome: Ok(Accepted { status: 200 }),
            attempts: 1,
            attempts_ms: ms,
            evidence: Evidence::Started,
        }
    }

    fn failed_result(code: ErrorCode, status: u16) -> StartResult {
        let mut e = TriggerError::new(code, "Bloomreach answered");
        e.upstream_status = Some(status);
        StartResult {
            outcome: Err(e),
            attempts: 1,
            attempts_ms: 7,
            evidence: Evidence::of_status(status),
        }
    }

    /// Records an ended entry through the `record` call.
    fn record(db: &dyn Sql, mut e: Entry, started: i64, result: &StartResult) -> String {
        e.end(result);
        let id = e.id.clone();
        let answer = call(
            db,
            &crate::history::record_call(&Written {
                started_ms: started,
                ended_ms: Some(started + 10),
                entry: e,
                skip_if_found: false,
            }),
            started + 10,
        );
        assert_eq!(answer, serde_json::json!({"recorded": true}));
        id
    }

    fn list(db: &dyn Sql, q: &str, now: i64) -> (Vec<Json>, Option<String>) {
        let query = crate::history::parse_list_query(Some(q)).unwrap();
        let answer = handle(
            db,
            &crate::history::list_call(&query),
            now as u64,
            &settings(),
        )
        .unwrap();
        let page: Page = serde_json::from_str(&answer.answer).unwrap();
        let reply: Json =
            serde_json::from_str(&crate::history::list_answer(&query, &page)).unwrap();
        let starts = reply["starts"].as_array().unwrap().clone();
        (starts, reply["next_cursor"].as_str().map(str::to_owned))
    }

    fn ids(starts: &[Json]) -> Vec<String> {
        starts
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn begin_call(record: &str, written: Option<Written>) -> String {
        ledger::begin(record, "f", 25_000, DAY, written)
    }

    #[test]
    fn the_schema_is_idempotent_and_upgrades_a_ledger_of_an_earlier_version() {
        let db = Db(rusqlite::Connection::open_in_memory().unwrap());
        db.run(SCHEMA[0], &[]).unwrap();
        db.run(
            "INSERT INTO records (name, body, expires_at) VALUES ('r', '{}', 5)",
            &[],
        )
        .unwrap();
        ensure_schema(&db).unwrap();
        ensure_schema(&db).unwrap();
        assert_eq!(count_rows(&db).unwrap(), 0);
        assert_eq!(
            first_int(&db.run("SELECT COUNT(*) FROM records", &[]).unwrap()),
            Some(1)
        );
    }

    #[test]
    fn a_keyed_start_is_in_progress_then_ends_in_its_entry() {
        let db = Db::new();
        let mut e = entry("k-1", T0, Cause::Http);
        e.idempotency_key = Some("key-1".into());
        e.caller = Some("ci".into());
        let begun = Written {
            started_ms: T0,
            ended_ms: None,
            entry: e.clone(),
            skip_if_found: false,
        };
        assert_eq!(
            call(&db, &begin_call("idempotency\nkey-1", Some(begun)), T0),
            serde_json::json!({"decision": "proceed"})
        );
        let (starts, _) = list(&db, "", T0 + 1);
        assert_eq!(starts[0]["outcome"], "in_progress");
        assert_eq!(starts[0].get("duration_ms"), None);
        assert_eq!(list(&db, "outcome=in_progress", T0 + 1).0.len(), 1);
        e.end(&ok_result(40));
        let ended = Written {
            started_ms: T0,
            ended_ms: Some(T0 + 50),
            entry: e,
            skip_if_found: false,
        };
        let finish = ledger::finish(
            "idempotency\nkey-1",
            "f",
            &ok_result(40),
            &Reply::json(200, &serde_json::json!({"ok": true})),
            Some(ended),
        );
        assert_eq!(
            call(&db, &finish, T0 + 50),
            serde_json::json!({"decision": "finished"})
        );
        let got = call(&db, &crate::history::get_call("k-1"), T0 + 60);
        let start = &got["start"];
        assert_eq!(
            (
                start["outcome"].as_str(),
                start["duration_ms"].as_u64(),
                start["upstream_status"].as_u64()
            ),
            (Some("ok"), Some(40), Some(200))
        );
        assert_eq!(start["idempotency_key"], "key-1");
        assert_eq!(start["caller"], "ci");
        assert_eq!(list(&db, "outcome=in_progress", T0 + 60).0.len(), 0);
        assert_eq!(
            call(&db, &crate::history::get_call("nope"), T0),
            serde_json::json!({"start": null})
        );
        // A repeat that finds the record (a replay) writes no entry.
        let again = Written {
            started_ms: T0 + 70,
            ended_ms: None,
            entry: entry("k-2", T0 + 70, Cause::Http),
            skip_if_found: false,
        };
        assert_eq!(
            call(&db, &begin_call("idempotency\nkey-1", Some(again)), T0 + 70)["decision"],
            "replay"
        );
        assert_eq!(ids(&list(&db, "", T0 + 80).0), ["k-1"]);
    }

    #[test]
    fn a_redelivered_cron_job_is_recorded_as_skipped_with_its_recorded_outcome() {
        let db = Db::new();
        let mut job = entry("c-1", T0, Cause::Cron);
        job.cron = Some("0 3 * * *".into());
        job.job = Some(0);
        let first = Written {
            started_ms: T0,
            ended_ms: None,
            entry: job.clone(),
            skip_if_found: true,
        };
        call(&db, &begin_call("cron-record", Some(first)), T0);
        // A second delivery while the first runs: skipped, in progress.
        let second = Written {
            started_ms: T0 + 5,
            ended_ms: None,
            entry: Entry {
                id: "c-2".into(),
                ..job.clone()
            },
            skip_if_found: true,
        };
        assert_eq!(
            call(&db, &begin_call("cron-record", Some(second)), T0 + 5)["decision"],
            "in_progress"
        );
        job.end(&failed_result(ErrorCode::UpstreamError, 500));
        let finish = ledger::finish(
            "cron-record",
            "f",
            &failed_result(ErrorCode::UpstreamError, 500),
            &Reply::json(502, &serde_json::json!({"ok": false})),
            Some(Written {
                started_ms: T0,
                ended_ms: Some(T0 + 9),
                entry: job.clone(),
                skip_if_found: false,
            }),
        );
        call(&db, &finish, T0 + 9);
        let third = Written {
            started_ms: T0 + 20,
            ended_ms: None,
            entry: Entry {
                id: "c-3".into(),
                ..job.clone()
            },
            skip_if_found: true,
        };
        call(&db, &begin_call("cron-record", Some(third)), T0 + 20);
        let (starts, _) = list(&db, "cause=cron", T0 + 30);
        assert_eq!(ids(&starts), ["c-3", "c-2", "c-1"]);
        assert_eq!(
            (
                starts[0]["outcome"].as_str(),
                starts[0]["recorded_outcome"].as_str(),
                starts[0]["duration_ms"].as_u64()
            ),
            (Some("skipped"), Some("upstream_error"), Some(0))
        );
        assert_eq!(starts[1]["recorded_outcome"], "in_progress");
        assert_eq!(starts[2]["outcome"], "upstream_error");
        assert_eq!(
            ids(&list(&db, "outcome=skipped", T0 + 30).0),
            ["c-3", "c-2"]
        );
        assert_eq!(ids(&list(&db, "outcome=failed", T0 + 30).0), ["c-1"]);
        // The job's last entry skips the skipped ones.
        let last = call(
            &db,
            &crate::history::last_call(vec![("0 3 * * *".into(), 0), ("0 3 * * *".into(), 1)]),
            T0 + 30,
        );
        assert_eq!(last["last"][0]["id"], "c-1");
        assert_eq!(last["last"][1], Json::Null);
    }

    #[test]
    fn a_start_stopped_midway_reads_as_outcome_unknown_once_its_record_does() {
        let db = Db::new();
        let begun = Written {
            started_ms: T0,
            ended_ms: None,
            entry: entry("s-1", T0, Cause::Http),
            skip_if_found: false,
        };
        call(&db, &begin_call("idempotency\nstopped", Some(begun)), T0);
        let unknown_at = T0 + 25_000 + ledger::WRITE_GRACE_MS as i64;
        assert_eq!(list(&db, "", unknown_at - 1).0[0]["outcome"], "in_progress");
        assert_eq!(list(&db, "outcome=failed", unknown_at - 1).0.len(), 0);
        let (starts, _) = list(&db, "outcome=upstream_outcome_unknown", unknown_at);
        assert_eq!(ids(&starts), ["s-1"]);
        assert!(starts[0]["message"]
            .as_str()
            .unwrap()
            .contains("never recorded"));
        assert_eq!(ids(&list(&db, "outcome=failed", unknown_at).0), ["s-1"]);
        // The ledger agrees.
        let again = call(&db, &begin_call("idempotency\nstopped", None), unknown_at);
        assert_eq!(again["decision"], "outcome_unknown");
        // Settled, it ended when its record turned, and retention counts from then.
        let row = db
            .run("SELECT ended_at FROM history WHERE id = 's-1'", &[])
            .unwrap();
        assert_eq!(first_int(&row), Some(unknown_at));
    }

    #[test]
    fn every_filter_selects_its_entries() {
        let db = Db::new();
        let mut a = entry("a", T0, Cause::Http);
        a.caller = Some("ci".into());
        record(&db, a, T0, &ok_result(1));
        let mut b = entry("b", T0 + 1_000, Cause::Http);
        b.caller = Some("token#2".into());
        b.import_id = Some("other".into());
        record(
            &db,
            b,
            T0 + 1_000,
            &failed_result(ErrorCode::ImportNotFound, 404),
        );
        let mut c = entry("c", T0 + 2_000, Cause::Cron);
        c.cron = Some("0 3 * * *".into());
        record(
            &db,
            c,
            T0 + 2_000,
            &failed_result(ErrorCode::UpstreamRateLimited, 429),
        );
        let now = T0 + 10_000;
        for (q, expected) in [
            ("", vec!["c", "b", "a"]),
            ("import_id=imp", vec!["c", "a"]),
            ("import_id=other", vec!["b"]),
            ("outcome=ok", vec!["a"]),
            ("outcome=failed", vec!["c", "b"]),
            ("outcome=import_not_found", vec!["b"]),
            ("outcome=upstream_error", vec![]),
            ("outcome=skipped", vec![]),
            ("cause=http", vec!["b", "a"]),
            ("cause=cron", vec!["c"]),
            ("caller=ci", vec!["a"]),
            ("caller=token%232", vec!["b"]),
            ("since=2026-11-28T03:00:01Z", vec!["c", "b"]),
            ("since=2026-11-28T03:00:00.001Z", vec!["c", "b"]),
            ("until=2026-11-28T03:00:01Z", vec!["a"]),
            ("until=2026-11-28T03:00:01.001Z", vec!["b", "a"]),
            (
                "since=2026-11-28T03:00:01Z&until=2026-11-28T03:00:02Z",
                vec!["b"],
            ),
            (
                "since=2026-11-28T04:00:01%2B01:00&import_id=imp&outcome=failed&cause=cron",
                vec!["c"],
            ),
        ] {
            assert_eq!(ids(&list(&db, q, now).0), expected, "{q}");
        }
    }

    #[test]
    fn following_the_cursor_returns_each_entry_once_while_new_ones_arrive() {
        let db = Db::new();
        // Ten entries, some in the same millisecond (ties go by id).
        let mut expected = Vec::new();
        for i in 0..10i64 {
            let started = T0 + (i / 3) * 1_000;
            let id = entry_id(started, i as u64);
            record(
                &db,
                entry(&id, started, Cause::Http),
                started,
                &ok_result(1),
            );
            expected.push((started, id));
        }
        expected.sort();
        expected.reverse();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = match &cursor {
                None => "limit=3".to_owned(),
                Some(c) => format!("limit=3&cursor={c}"),
            };
            let (starts, next) = list(&db, &q, T0 + 100_000);
            seen.extend(ids(&starts));
            pages += 1;
            // A newer start and an older one arrive between pages.
            let newer = T0 + 50_000 + pages;
            record(
                &db,
                entry(&format!("new-{pages}"), newer, Cause::Http),
                newer,
                &ok_result(1),
            );
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let old: Vec<&String> = seen.iter().filter(|id| !id.starts_with("new-")).collect();
        assert_eq!(old, expected.iter().collect::<Vec<_>>());
        assert_eq!(pages, 4);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "never twice");
    }

    #[test]
    fn the_queries_use_the_indexes_without_sorting() {
        let db = Db::new();
        for q in [
            "",
            "import_id=imp",
            "import_id=imp&cursor=x",
            "outcome=import_not_found&cursor=x",
            "outcome=failed&limit=7",
        ] {
            let mut query =
                crate::history::parse_list_query(Some(q.split("&cursor").next().unwrap())).unwrap();
            if q.contains("cursor") {
                query.after = Some(Position {
                    started_ms: T0,
                    id: "z".into(),
                });
            }
            let (sql, params) = list_sql(&query);
            let plan = db
                .run(&format!("EXPLAIN QUERY PLAN {sql}"), &params)
                .unwrap();
            let text: Vec<String> = plan
                .iter()
                .filter_map(|r| r.get(3).and_then(SqlValue::as_text).map(str::to_owned))
                .collect();
            let text = text.join("; ");
            assert!(!text.contains("TEMP B-TREE"), "{q}: {text}");
            let index = if q.contains("import_id") {
                "history_by_import"
            } else if q.contains("outcome=failed") {
                "history_by_failed"
            } else if q.contains("outcome=") {
                "history_by_outcome"
            } else {
                "history_by_start"
            };
            assert!(text.contains(index), "{q}: {text}");
        }
        let plan = db.run("EXPLAIN QUERY PLAN SELECT body FROM history WHERE cron = ? AND job = ? AND outcome != 'skipped' ORDER BY started_at DESC, id DESC LIMIT 1", &["c".into(), 0.into()]).unwrap();
        assert!(format!("{plan:?}").contains("history_by_job"), "{plan:?}");
    }

    #[test]
    fn retention_deletes_what_ended_more_than_the_days_ago_never_what_runs() {
        let db = Db::new();
        record(&db, entry("old", T0, Cause::Http), T0, &ok_result(1)); // ended T0 + 10
        record(
            &db,
            entry("new", T0 + DAY as i64, Cause::Http),
            T0 + DAY as i64,
            &ok_result(1),
        );
        let running = Written {
            started_ms: T0 - 40 * DAY as i64,
            ended_ms: None,
            entry: entry("running", T0 - 40 * DAY as i64, Cause::Http),
            skip_if_found: false,
        };
        // An in-progress entry of a start still under way (its record's deadline far).
        insert(&db, &running, Some(i64::MAX)).unwrap();
        let s = settings();
        let ended_old = T0 as u64 + 10;
        assert_eq!(
            alarm_due(&db, T0 as u64, &s).unwrap(),
            Some(ended_old + 30 * DAY + 1)
        );
        // Exactly 30 days after it ended: kept; a millisecond more: deleted.
        assert_eq!(clean_up(&db, ended_old + 30 * DAY, &s).unwrap(), 3);
        assert_eq!(clean_up(&db, ended_old + 30 * DAY + 1, &s).unwrap(), 2);
        assert_eq!(ids(&list(&db, "", T0).0), ["new", "running"]);
        assert_eq!(
            alarm_due(&db, T0 as u64, &s).unwrap(),
            Some(T0 as u64 + DAY + 10 + 30 * DAY + 1)
        );
        // Years later the running one is still there.
        assert_eq!(clean_up(&db, T0 as u64 + 3_000 * DAY, &s).unwrap(), 1);
        assert_eq!(alarm_due(&db, T0 as u64, &s).unwrap(), None);
        // A malformed retention deletes nothing for age.
        record(&db, entry("kept", T0, Cause::Http), T0, &ok_result(1));
        let malformed = ObjectSettings {
            retention_ms: None,
            ..s
        };
        assert_eq!(
            clean_up(&db, T0 as u64 + 3_000 * DAY, &malformed).unwrap(),
            2
        );
        assert_eq!(alarm_due(&db, T0 as u64, &malformed).unwrap(), None);
    }

    #[test]
    fn past_the_cap_the_oldest_ended_go_first_and_the_alarm_is_due_at_once() {
        let db = Db::new();
        let s = ObjectSettings {
            max_entries: 3,
            ..settings()
        };
        let running = Written {
            started_ms: T0 - 1_000,
            ended_ms: None,
            entry: entry("running", T0 - 1_000, Cause::Http),
            skip_if_found: false,
        };
        insert(&db, &running, Some(i64::MAX)).unwrap();
        for i in 0..4 {
            let started = T0 + i * 1_000;
            record(
                &db,
                entry(&format!("e{i}"), started, Cause::Http),
                started,
                &ok_result(1),
            );
        }
        // Five rows, counted without a scan: due now.
        assert_eq!(history_count(&db).unwrap(), 5);
        let now = T0 as u64 + 10_000;
        assert_eq!(alarm_due(&db, now, &s).unwrap(), Some(now));
        assert_eq!(clean_up(&db, now, &s).unwrap(), 3);
        assert_eq!(ids(&list(&db, "", now as i64).0), ["e3", "e2", "running"]);
        assert_eq!(history_count(&db).unwrap(), 3);
        assert_ne!(alarm_due(&db, now, &s).unwrap(), Some(now));
        // A count that drifted (an insert the count missed) is corrected by a clean-up.
        db.run("UPDATE meta SET value = 0", &[]).unwrap();
        assert_eq!(clean_up(&db, now, &s).unwrap(), 3);
        assert_eq!(history_count(&db).unwrap(), 3);
    }

    fn batch_of(ids: &[&str], started: i64) -> String {
        let calls: Vec<String> = ids
            .iter()
            .map(|id| {
                let mut e = entry(id, started, Cause::Http);
                e.end(&ok_result(5));
                crate::history::record_call(&Written {
                    started_ms: started,
                    ended_ms: Some(started + 5),
                    entry: e,
                    skip_if_found: false,
                })
            })
            .collect();
        crate::call_batch::batch_call(&calls.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn a_batch_runs_its_calls_in_order_and_sent_twice_writes_each_entry_once() {
        let db = Db::new();
        let batch = batch_of(&["b1", "b2", "b3"], 100);
        let recorded = serde_json::json!({"answers": [{"recorded": true}, {"recorded": true}, {"recorded": true}]});
        assert_eq!(call(&db, &batch, 110), recorded);
        // The same call again (a retried write): nothing more.
        assert_eq!(call(&db, &batch, 120), recorded);
        let (starts, _) = list(&db, "limit=10", 130);
        assert_eq!(ids(&starts), vec!["b3", "b2", "b1"]);
        assert_eq!(history_count(&db).unwrap(), 3);
    }

    #[test]
    fn two_begins_of_one_key_in_a_batch_decide_one_after_the_other() {
        let db = Db::new();
        let begin = begin_call("k", None);
        let batch = crate::call_batch::batch_call(&[&begin, &begin]).unwrap();
        let answers = call(&db, &batch, 0);
        assert_eq!(answers["answers"][0]["decision"], "proceed");
        assert_eq!(answers["answers"][1]["decision"], "in_progress");
    }

    #[test]
    fn a_batch_inside_a_batch_is_refused_and_the_rest_still_runs() {
        let db = Db::new();
        let inner = batch_of(&["n1"], 100);
        let mut e = entry("n2", 100, Cause::Http);
        e.end(&ok_result(5));
        let alone = crate::history::record_call(&Written {
            started_ms: 100,
            ended_ms: Some(105),
            entry: e,
            skip_if_found: false,
        });
        let outer = crate::call_batch::batch_call(&[&inner, &alone]).unwrap();
        let answers = call(&db, &outer, 110);
        assert!(answers["answers"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("the call cannot be read"));
        assert_eq!(answers["answers"][1], serde_json::json!({"recorded": true}));
        assert_eq!(ids(&list(&db, "limit=10", 130).0), vec!["n2"]);
    }

    #[test]
    fn the_ledgers_records_expire_as_before() {
        let db = Db::new();
        call(&db, &begin_call("r", None), 0);
        let due = alarm_due(&db, 0, &settings()).unwrap().unwrap();
        assert_eq!(due, 25_000 + ledger::WRITE_GRACE_MS + DAY);
        clean_up(&db, due - 1, &settings()).unwrap();
        assert_eq!(
            call(&db, &begin_call("r", None), due as i64 - 1)["decision"],
            "outcome_unknown"
        );
        clean_up(&db, due, &settings()).unwrap();
        assert_eq!(alarm_due(&db, due, &settings()).unwrap(), None);
        assert_eq!(
            call(&db, &begin_call("r", None), due as i64)["decision"],
            "proceed"
        );
    }

    #[test]
    fn a_failed_history_write_never_changes_the_ledgers_decision() {
        let db = BrokenHistory(Db::new());
        let begun = Written {
            started_ms: T0,
            ended_ms: None,
            entry: entry("x", T0, Cause::Http),
            skip_if_found: false,
        };
        let handled = handle(&db, &begin_call("k", Some(begun)), T0 as u64, &settings()).unwrap();
        assert_eq!(handled.answer, r#"{"decision":"proceed"}"#);
        assert_eq!(handled.history_error.as_deref(), Some("disk full"));
        // The record was written: a repeat is in progress.
        let again = handle(&db, &begin_call("k", None), T0 as u64 + 1, &settings()).unwrap();
        assert!(again.answer.contains("in_progress"));
        // A read fails whole (503 to the caller).
        assert!(handle(&db, &crate::history::get_call("x"), 0, &settings()).is_err());
    }

    /// A start accepted at T0 whose first try was pushed back, held in the object as
    /// the worker's `hold` call leaves it; `give_up` ms after it began.
    fn held_start(db: &dyn Sql, give_up: u64) -> HeldStart {
        let e = entry("h-1", T0, Cause::Http);
        let begun = Written {
            started_ms: T0,
            ended_ms: None,
            entry: e.clone(),
            skip_if_found: false,
        };
        let begin = ledger::begin_accepted("key\nk", "fp", 25_000, DAY, begun);
        assert_eq!(
            call(db, &begin, T0),
            serde_json::json!({"decision": "proceed"})
        );
        let start = crate::upstream_request::StartRequest {
            target: crate::account::Target::DataV1(
                crate::ids::ProjectToken::parse("proj-1").unwrap(),
            ),
            import_id: crate::ids::ImportId::parse("imp").unwrap(),
            path: None,
            test_connection: None,
        };
        let first = failed_result(ErrorCode::UpstreamRateLimited, 429);
        let held = HeldStart::after_first_try(
            hold::Sent::of(&start),
            ("h-1", "key\nk", "fp"),
            ("http:ci", T0 as u64, give_up),
            &first,
            T0 as u64 + 100,
        )
        .expect("held");
        let mut e = e;
        e.attempts = 1;
        e.next_attempt_at = Some(crate::civil_time::rfc3339_ms(held.next_ms as i64));
        let written = Written {
            started_ms: T0,
            ended_ms: None,
            entry: e,
            skip_if_found: false,
        };
        let until = ledger::unknown_at(held.give_up_ms, 25_000);
        let hold_call = ledger::hold("key\nk", "fp", until, Some(written), Some(held.clone()));
        assert_eq!(
            call(db, &hold_call, T0 + 100),
            serde_json::json!({"decision": "finished"})
        );
        held
    }

    fn get(db: &dyn Sql, now: i64) -> Json {
        call(db, &crate::history::get_call("h-1"), now)["start"].clone()
    }

    fn key_begin(db: &dyn Sql, now: i64) -> Begin {
        let answer = handle(
            db,
            &ledger::begin("key\nk", "fp", 25_000, DAY, None),
            now as u64,
            &settings(),
        )
        .unwrap();
        ledger::read_begin(&answer.answer).unwrap()
    }

    #[test]
    fn a_held_start_is_tried_once_per_due_time_until_it_ends_ok() {
        let db = Db::new();
        let held = held_start(&db, 3_600_000);
        let next = held.next_ms;
        assert_eq!(next, T0 as u64 + 100 + 30_000);
        let e = get(&db, T0 + 200);
        assert_eq!(
            (e["outcome"].as_str(), e["attempts"].as_u64()),
            (Some("in_progress"), Some(1))
        );
        assert_eq!(
            e["next_attempt_at"],
            crate::civil_time::rfc3339_ms(next as i64)
        );
        // Held past the start's own deadline: still in progress, the key still its 202.
        assert_eq!(get(&db, T0 + 29_000)["outcome"], "in_progress");
        assert!(matches!(
            key_begin(&db, T0 + 29_000),
            Begin::InProgress { .. } | Begin::Accepted { .. }
        ));
        // The alarm fires early: nothing is due. Then on time: one try.
        assert_eq!(
            alarm_due(&db, T0 as u64 + 200, &settings()).unwrap(),
            Some(next)
        );
        assert!(take_due(&db, next - 1).unwrap().is_empty());
        let tries = take_due(&db, next).unwrap();
        assert_eq!(tries.len(), 1);
        // Delivered twice, or during the try: no second try.
        assert!(take_due(&db, next).unwrap().is_empty());
        assert!(take_due(&db, next + 20_000).unwrap().is_empty());
        // Pushed back again: held, its next time in the entry.
        let t1 = next + 500;
        assert!(after_try(
            &db,
            &tries[0],
            &failed_result(ErrorCode::UpstreamRateLimited, 429),
            t1
        )
        .unwrap());
        // Its outcome written twice (a repeated write) changes nothing more.
        assert!(!after_try(&db, &tries[0], &ok_result(5), t1).unwrap());
        let next2 = t1 + 60_000;
        let e = get(&db, t1 as i64);
        assert_eq!(
            (
                e["outcome"].as_str(),
                e["attempts"].as_u64(),
                e["upstream_status"].as_u64()
            ),
            (Some("in_progress"), Some(2), Some(429))
        );
        assert_eq!(
            e["next_attempt_at"],
            crate::civil_time::rfc3339_ms(next2 as i64)
        );
        let tries = take_due(&db, next2).unwrap();
        assert!(after_try(&db, &tries[0], &ok_result(5), next2 + 10).unwrap());
        let e = get(&db, next2 as i64 + 20);
        assert_eq!(
            (e["outcome"].as_str(), e["attempts"].as_u64()),
            (Some("ok"), Some(3))
        );
        assert!(e.get("next_attempt_at").is_none());
        // The key replays the ended start; nothing is left to try.
        assert!(matches!(
            key_begin(&db, next2 as i64 + 30),
            Begin::Replay { .. }
        ));
        assert!(take_due(&db, u64::MAX / 4).unwrap().is_empty());
    }

    #[test]
    fn a_held_start_gives_up_at_its_time_and_releases_its_key() {
        let db = Db::new();
        // 100 s: a second try at +30.1 s, a third would be at +90.6 s, a fourth past it.
        let held = held_start(&db, 100_000);
        let tries = take_due(&db, held.next_ms).unwrap();
        let t = held.next_ms + 500;
        assert!(after_try(
            &db,
            &tries[0],
            &failed_result(ErrorCode::UpstreamRateLimited, 429),
            t
        )
        .unwrap());
        let again = take_due(&db, t + 60_000).unwrap();
        assert_eq!(again.len(), 1);
        let t = t + 60_000 + 500;
        assert!(after_try(
            &db,
            &again[0],
            &failed_result(ErrorCode::UpstreamRateLimited, 503),
            t
        )
        .unwrap());
        let e = get(&db, t as i64 + 1);
        assert_eq!(
            (e["outcome"].as_str(), e["attempts"].as_u64()),
            (Some("upstream_rate_limited"), Some(3))
        );
        assert_eq!(key_begin(&db, t as i64 + 2), Begin::Proceed, "released");
        // A late alarm, past the give-up, never tries: it gives up.
        let db = Db::new();
        let held = held_start(&db, 100_000);
        assert!(take_due(&db, held.give_up_ms + 1).unwrap().is_empty());
        assert_eq!(get(&db, T0 + 200_000)["outcome"], "upstream_rate_limited");
    }

    #[test]
    fn an_ambiguous_try_ends_the_start_and_is_never_repeated() {
        let db = Db::new();
        let held = held_start(&db, 3_600_000);
        let tries = take_due(&db, held.next_ms).unwrap();
        let t = held.next_ms + 10;
        assert!(after_try(
            &db,
            &tries[0],
            &failed_result(ErrorCode::UpstreamError, 500),
            t
        )
        .unwrap());
        assert_eq!(get(&db, t as i64)["outcome"], "upstream_error");
        assert!(matches!(key_begin(&db, t as i64), Begin::Replay { .. }));
        assert!(take_due(&db, u64::MAX / 4).unwrap().is_empty());
        assert_eq!(
            alarm_due(
                &db,
                t,
                &ObjectSettings {
                    retention_ms: None,
                    ..settings()
                }
            )
            .unwrap(),
            Some(ledger::unknown_at(T0 as u64 + 3_600_000, 25_000) + DAY)
        );
    }

    #[test]
    fn a_try_whose_outcome_was_never_written_ends_unknown_and_is_not_sent_again() {
        let db = Db::new();
        let held = held_start(&db, 3_600_000);
        let tries = take_due(&db, held.next_ms).unwrap();
        assert_eq!(tries.len(), 1);
        // The object was reset mid-try: nothing written. Before its time, in progress.
        let until = hold::try_until(held.next_ms, 25_000);
        assert!(take_due(&db, until - 1).unwrap().is_empty());
        assert_eq!(get(&db, until as i64 - 1)["outcome"], "in_progress");
        assert!(take_due(&db, until).unwrap().is_empty());
        assert_eq!(
            get(&db, until as i64)["outcome"],
            "upstream_outcome_unknown"
        );
        assert!(matches!(
            key_begin(&db, until as i64),
            Begin::OutcomeUnknown { .. }
        ));
        // The try's outcome arriving late is not written.
        assert!(!after_try(&db, &tries[0], &ok_result(5), until + 1).unwrap());
        assert_eq!(
            get(&db, until as i64 + 2)["outcome"],
            "upstream_outcome_unknown"
        );
        // A try whose write failed (the history cannot be written): the row stays
        // trying and ends unknown the same way.
        let db = Db::new();
        let held = held_start(&db, 3_600_000);
        let tries = take_due(&db, held.next_ms).unwrap();
        let broken = BrokenHistory(Db(db.0));
        assert!(after_try(&broken, &tries[0], &ok_result(5), held.next_ms + 5).is_err());
        let db = broken.0;
        assert!(take_due(&db, until).unwrap().is_empty());
        assert_eq!(
            get(&db, until as i64)["outcome"],
            "upstream_outcome_unknown"
        );
    }

    #[test]
    fn one_alarm_makes_at_most_ten_tries_and_the_rest_are_due_at_once() {
        let db = Db::new();
        let held = held_start(&db, 3_600_000);
        for i in 0..14 {
            let mut other = held.clone();
            other.id = format!("h-x{i}");
            db.run(
                "INSERT INTO held (id, state, due_at, body) VALUES (?, 'held', ?, ?)",
                &[
                    other.id.as_str().into(),
                    (held.next_ms as i64).into(),
                    to_text(&other).into(),
                ],
            )
            .unwrap();
        }
        let now = held.next_ms;
        assert_eq!(take_due(&db, now).unwrap().len(), hold::TRIES_PER_ALARM);
        assert_eq!(alarm_due(&db, now, &settings()).unwrap(), Some(now));
        assert_eq!(take_due(&db, now).unwrap().len(), 5);
    }

    #[test]
    fn test_hooks_and_unreadable_calls() {
        let db = Db::new();
        let off = ObjectSettings {
            test_hooks: false,
            ..settings()
        };
        for text in [
            r#"{"op":"cleanup","now_ms":5}"#,
            r#"{"op":"fill","count":3,"started_ms":5,"import_id":"x"}"#,
        ] {
            let handled = handle(&db, text, 0, &off).unwrap();
            assert!(
                handled.answer.contains("HISTORY_TEST_HOOKS"),
                "{}",
                handled.answer
            );
        }
        assert_eq!(history_count(&db).unwrap(), 0);
        let filled = call(
            &db,
            r#"{"op":"fill","count":3,"started_ms":5,"import_id":"x"}"#,
            0,
        );
        assert_eq!(filled, serde_json::json!({"count": 3}));
        assert_eq!(list(&db, "import_id=x", 100).0.len(), 3);
        for text in ["", "{", r#"{"op":"list"}"#, r#"{"op":"drop"}"#, "[]"] {
            let handled = handle(&db, text, 0, &settings()).unwrap();
            assert!(
                handled.answer.starts_with(r#"{"error":"#),
                "{text}: {}",
                handled.answer
            );
        }
        // A ledger call the ledger cannot read changes nothing and answers an error.
        let bad_begin = r#"{"op":"begin","record":"r"}"#;
        let handled = handle(&db, bad_begin, 0, &settings()).unwrap();
        assert!(
            handled.answer.starts_with(r#"{"error":"#),
            "{}",
            handled.answer
        );
        assert_eq!(
            first_int(&db.run("SELECT COUNT(*) FROM records", &[]).unwrap()),
            Some(0)
        );
    }
}
