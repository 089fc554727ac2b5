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

/// Host tests: `map_bounded` is plain Rust, so it is driven here by a minimal executor
/// (a no-op waker, polled until ready), with futures that take a few polls each.
#[cfg(test)]
mod tests {
    use super::map_bounded;
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
        panic!("the future did not finish")
    }

    /// Ready after `polls` polls; counts how many such futures run at once.
    async fn task(value: u64, polls: u64, running: Rc<Cell<usize>>, peak: Rc<Cell<usize>>) -> u64 {
        running.set(running.get() + 1);
        peak.set(peak.get().max(running.get()));
        let mut left = polls;
        std::future::poll_fn(|_| {
            if left == 0 {
                Poll::Ready(())
            } else {
                left -= 1;
                Poll::Pending
            }
        })
        .await;
        running.set(running.get() - 1);
        value * 10
    }

    #[test]
    fn outputs_keep_the_order_of_the_tasks_and_at_most_limit_run_at_once() {
        let (running, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let out = block_on(map_bounded((0..9u64).collect(), 3, |i| {
            task(i, 9 - i, running.clone(), peak.clone())
        }));
        assert_eq!(out, (0..9u64).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.get(), 3);
        assert_eq!(running.get(), 0);
    }

    #[test]
    fn no_tasks_and_a_zero_limit_still_finish() {
        assert!(block_on(map_bounded(Vec::<u8>::new(), 6, |x| async move { x })).is_empty());
        let (running, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let out = block_on(map_bounded(vec![1, 2], 0, |i| {
            task(i, 1, running.clone(), peak.clone())
        }));
        assert_eq!((out, peak.get()), (vec![10, 20], 1));
    }
}
