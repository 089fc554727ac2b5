//! Running the jobs of a cron event together, at most N at a time. Written here rather
//! than taken from `futures-util`: its `buffer_unordered` (FuturesUnordered) costs a few
//! KB of wasm, and the worker needs only this simple form.

use std::future::{poll_fn, Future};
use std::task::Poll;

/// Runs `tasks` through `f`, at most `limit` at a time, and returns the outputs in
/// the order of `tasks`.
pub async fn map_bounded<T, O, F, Fut>(tasks: Vec<T>, limit: usize, f: F) -> Vec<O>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = O>,
{
    let total = tasks.len();
    let mut waiting = tasks.into_iter().enumerate();
    let mut running: Vec<(usize, std::pin::Pin<Box<Fut>>)> = Vec::new();
    let mut done: Vec<Option<O>> = (0..total).map(|_| None).collect();
    poll_fn(|cx| loop {
        while running.len() < limit.max(1) {
            match waiting.next() {
                Some((i, task)) => running.push((i, Box::pin(f(task)))),
                None => break,
            }
        }
        let before = running.len();
        running.retain_mut(|(i, fut)| match fut.as_mut().poll(cx) {
            Poll::Ready(out) => {
                done[*i] = Some(out);
                false
            }
            Poll::Pending => true,
        });
        if running.is_empty() && waiting.len() == 0 {
            return Poll::Ready(());
        }
        if running.len() == before {
            return Poll::Pending;
        }
    })
    .await;
    done.into_iter().flatten().collect()
}
