//! One connection's send queue: filled by the hub thread and by the
//! connection's reader, emptied by its writer task. Bounded by its owners:
//! the hub conflates book channels or closes the connection when it is too
//! long (see [`Outbox::len`]).

use std::collections::VecDeque;
use std::sync::Mutex;

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
