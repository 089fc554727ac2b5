//! Two small ways of running futures together, written here rather than taken from
//! `futures-util`: its `select` and `buffer_unordered` (FuturesUnordered) cost a few KB
//! of wasm, and the worker needs only these two simple forms.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Which of two futures finished first.
pub enum First<A, B> {
    Left(A),
    Right(B),
}

/// Runs both futures and returns the first to finish; the other is dropped.
pub async fn race<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(First::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(First::Right(y));
        }
        Poll::Pending
    })
    .await
}

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
