//! One connection's send queue: filled by the hub thread and by the
//! connection's reader, emptied by its writer task. Bounded by its owners:
//! the hub conflates book channels or closes the connection when it is too
//! long (see [`Outbox::len`]).
//!
//! Waking writers: a writer waits on its outbox's `Notify`. Waking a task of
//! the I/O runtime from another thread costs a system call (the runtime's
//! eventfd), so the hub, which fans one message out to many connections,
//! queues with [`Outbox::push_deferred`] and hands the outboxes that need a
//! wake to [`Wakeups::submit`] once per turn: one cross-thread wake of the
//! [`Wakeups::run`] task, which wakes the writers from inside the runtime.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Why and how a connection is being closed (a WebSocket close code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closing {
    /// Close code (1008 policy, 1009 too big, 1001 going away, ...).
    pub code: u16,
    /// Reason, for the client.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Utf8Bytes>,
    closing: Option<Closing>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
    closed: Notify,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue invalid.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues one message; returns the queue's length after it. Nothing is
    /// queued once the connection is closing.
    pub fn push(&self, msg: Utf8Bytes) -> usize {
        let mut inner = self.lock();
        if inner.closing.is_some() {
            return 0;
        }
        inner.queue.push_back(msg);
        let n = inner.queue.len();
        drop(inner);
        self.notify.notify_one();
        n
    }

    /// Queues one message without waking the writer; returns the queue's
    /// length after it, and whether the writer needs a wake (the queue was
    /// empty: every earlier message already has one coming). The caller
    /// passes each outbox that needs one to [`Wakeups::submit`] (or calls
    /// [`Outbox::wake`]).
    pub fn push_deferred(&self, msg: Utf8Bytes) -> (usize, bool) {
        let mut inner = self.lock();
        if inner.closing.is_some() {
            return (0, false);
        }
        inner.queue.push_back(msg);
        let n = inner.queue.len();
        (n, n == 1)
    }

    /// Wakes the writer.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Queues a message's JSON.
    pub fn push_str(&self, json: String) -> usize {
        self.push(Utf8Bytes::from(json))
    }

    /// Messages waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks the writer to send what is queued, then close. The first reason
    /// wins.
    pub fn close(&self, code: u16, reason: &str) {
        let mut inner = self.lock();
        if inner.closing.is_none() {
            inner.closing = Some(Closing {
                code,
                reason: reason.to_owned(),
            });
        }
        drop(inner);
        self.notify.notify_one();
        self.closed.notify_waiters();
    }

    /// Waits until a close is asked for.
    pub async fn wait_closing(&self) {
        let notified = self.closed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_closing() {
            return;
        }
        notified.await;
    }

    /// Whether the connection is closing.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.lock().closing.is_some()
    }

    /// Moves everything queued into `out`; returns the close request, if any.
    pub fn take(&self, out: &mut VecDeque<Utf8Bytes>) -> Option<Closing> {
        let mut inner = self.lock();
        std::mem::swap(&mut inner.queue, out);
        inner.closing.clone()
    }

    /// Waits until something is pushed or a close is asked for.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

/// Writer wakes batched across threads (see the module docs).
#[derive(Debug, Default)]
pub struct Wakeups {
    pending: Mutex<Vec<Arc<Outbox>>>,
    notify: Notify,
}

impl Wakeups {
    /// Takes the outboxes in `outboxes` (leaving it empty) to be woken by
    /// the [`Wakeups::run`] task; wakes that task if it had nothing to do.
    pub fn submit(&self, outboxes: &mut Vec<Arc<Outbox>>) {
        if outboxes.is_empty() {
            return;
        }
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let idle = pending.is_empty();
        pending.append(outboxes);
        drop(pending);
        // Pending outboxes already have a wake of the task coming.
        if idle {
            self.notify.notify_one();
        }
    }

    /// Wakes the writers of submitted outboxes, forever: spawn it on the
    /// runtime that runs the writers.
    pub async fn run(&self) {
        let mut batch = Vec::new();
        loop {
            self.notify.notified().await;
            std::mem::swap(
                &mut *self
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                &mut batch,
            );
            for outbox in batch.drain(..) {
                outbox.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deferred_pushes_wake_the_writer_through_the_wakeups_task() {
        let wakeups = Arc::new(Wakeups::default());
        tokio::spawn({
            let w = Arc::clone(&wakeups);
            async move { w.run().await }
        });
        let outbox = Arc::new(Outbox::default());
        let writer = tokio::spawn({
            let outbox = Arc::clone(&outbox);
            async move {
                let mut got = Vec::new();
                let mut batch = VecDeque::new();
                while got.len() < 3 {
                    outbox.take(&mut batch);
                    got.extend(batch.drain(..).map(|m| m.as_str().to_owned()));
                    if got.len() < 3 {
                        outbox.wait().await;
                    }
                }
                got
            }
        });
        let mut wake = Vec::new();
        for (i, m) in ["a", "b", "c"].into_iter().enumerate() {
            let (n, needs) = outbox.push_deferred(Utf8Bytes::from(m));
            // Only the first finds the queue empty (unless the writer took
            // it in between, which needs a wake again).
            assert!(n >= 1 && (needs || i > 0));
            if needs {
                wake.push(Arc::clone(&outbox));
            }
            wakeups.submit(&mut wake);
            assert!(wake.is_empty());
        }
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("the writer was woken")
            .expect("writer");
        assert_eq!(got, ["a", "b", "c"]);
        // A closing outbox takes nothing.
        outbox.close(1000, "bye");
        assert_eq!(outbox.push_deferred(Utf8Bytes::from("d")), (0, false));
    }
}
