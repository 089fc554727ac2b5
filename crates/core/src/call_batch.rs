//! Several ledger calls in one: the group commit of the history's entries.
//!
//! One ledger object runs its calls one at a time, and each call's writes are
//! committed on their own, so with a call for every unkeyed start's history entry the
//! object set the ceiling of a deployment's start rate: about 540 starts a second
//! locally against about 1,500 without the history (README, "Performance"); and
//! Cloudflare gives one object a soft limit of about 1,000 requests a second
//! (<https://developers.cloudflare.com/durable-objects/platform/limits/>).
//!
//! So the worker gathers the entries written in one isolate within
//! [`HISTORY_GATHER_MS`] of each other and sends them as one `batch` call (at most
//! [`MAX_CALLS`]). The object runs a batch's calls in their order, each exactly as it
//! runs alone, and answers each. An entry written twice (a call sent again) is kept
//! once. Calls whose answer a request needs before its own (a key's `begin` and
//! `finish`) are not gathered: docs/architecture.md, "Group commit", says why.

use crate::json_text::to_text;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// How long the first history entry of a batch waits for others, in ms: entries are
/// written after the answer, so they can wait (an entry is still readable well within
/// a second of its answer), and the wait also lets the runtime send the answer before
/// the call runs.
pub const HISTORY_GATHER_MS: u64 = 10;

/// The most calls one batch carries.
pub const MAX_CALLS: usize = 100;

#[derive(Serialize, Deserialize)]
struct Batch<'a> {
    op: &'a str,
    #[serde(borrow)]
    calls: Vec<&'a RawValue>,
}

#[derive(Serialize, Deserialize)]
struct Answers {
    answers: Vec<Option<Box<RawValue>>>,
}

const OP: &str = "batch";

/// The one call that runs `calls` in their order. `Err` names a call that is not JSON
/// (the core writes them all, so never in practice): the shell then sends none of
/// them and each reads as the ledger unavailable.
pub fn batch_call(calls: &[&str]) -> Result<String, String> {
    let calls = calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            serde_json::from_str::<&RawValue>(call)
                .map_err(|e| format!("call {i} of the batch is not JSON: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(to_text(&Batch { op: OP, calls }))
}

/// The calls of a `batch` call; `None` when `call` is not one.
pub(crate) fn calls_of(call: &str) -> Option<Vec<&str>> {
    serde_json::from_str::<Batch<'_>>(call)
        .ok()
        .filter(|b| b.op == OP)
        .map(|b| b.calls.into_iter().map(RawValue::get).collect())
}

/// The object's answer to a batch: each call's answer, `None` where it failed.
pub(crate) fn answers_text(answers: Vec<Option<String>>) -> String {
    let answers = answers
        .into_iter()
        .map(|a| a.and_then(|text| RawValue::from_string(text).ok()))
        .collect();
    to_text(&Answers { answers })
}

/// Each call's answer, in the batch's order, read from the object's answer to a
/// batch of `count` calls; `None` for a call that failed, and for every call when the
/// answer is not one of `count` answers.
pub fn read_answers(answer: &str, count: usize) -> Vec<Option<String>> {
    match serde_json::from_str::<Answers>(answer) {
        Ok(read) if read.answers.len() == count => read
            .answers
            .into_iter()
            .map(|a| a.map(|raw| raw.get().to_owned()))
            .collect(),
        _ => vec![None; count],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_carries_each_call_as_written_and_reads_back() {
        let calls = [
            r#"{"op":"get","id":"a"}"#,
            r#"{"op":"record","history":{"x":1}}"#,
        ];
        let batch = batch_call(&calls).unwrap();
        assert_eq!(
            batch,
            r#"{"op":"batch","calls":[{"op":"get","id":"a"},{"op":"record","history":{"x":1}}]}"#
        );
        assert_eq!(calls_of(&batch).unwrap(), calls.to_vec());
    }

    #[test]
    fn a_call_that_is_not_json_is_named_by_its_place() {
        let error = batch_call(&[r#"{"op":"get"}"#, "{not json"]).unwrap_err();
        assert!(
            error.starts_with("call 1 of the batch is not JSON"),
            "{error}"
        );
    }

    #[test]
    fn other_calls_are_not_batches() {
        assert_eq!(calls_of(r#"{"op":"get","id":"a"}"#), None);
        assert_eq!(calls_of(r#"{"op":"record","calls":[]}"#), None);
        assert_eq!(calls_of("[]"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_answer_text_reads_as_one_answer_a_call_and_never_panics(text in ".{0,200}", count in 0usize..5) {
            proptest::prop_assert_eq!(read_answers(&text, count).len(), count);
        }

        #[test]
        fn any_json_calls_go_through_a_batch_unchanged(values in proptest::collection::vec("[a-z0-9 ]{0,12}", 0..6)) {
            let calls: Vec<String> = values
                .iter()
                .map(|v| to_text(&serde_json::json!({"op": "get", "id": v})))
                .collect();
            let texts: Vec<&str> = calls.iter().map(String::as_str).collect();
            let batch = batch_call(&texts).unwrap();
            proptest::prop_assert_eq!(calls_of(&batch).unwrap(), texts);
        }

        #[test]
        fn any_text_is_a_batch_or_not_and_never_panics(text in ".{0,200}") {
            let _ = calls_of(&text);
            let _ = batch_call(&[&text]);
        }
    }

    #[test]
    fn answers_read_back_in_order_and_a_short_list_fails_every_call() {
        let text = answers_text(vec![Some(r#"{"recorded":true}"#.into()), None]);
        assert_eq!(text, r#"{"answers":[{"recorded":true},null]}"#);
        assert_eq!(
            read_answers(&text, 2),
            vec![Some(r#"{"recorded":true}"#.to_owned()), None]
        );
        assert_eq!(read_answers(&text, 3), vec![None, None, None]);
        assert_eq!(read_answers("oops", 1), vec![None]);
    }
}
