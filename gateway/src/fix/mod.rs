//! FIX 4.4: the wire codec and dictionary, the session layer, the message
//! store, the application layer and the acceptor.
//!
//! - [`codec`]: [`codec::frame`] a read buffer, [`codec::parse`] a message
//!   into a reusable [`codec::FieldBuf`], typed getters on
//!   [`codec::Message`], and the [`codec::Encoder`].
//! - [`dict`]: the data dictionary and [`dict::validate`], which answers
//!   with a session-level reject reason (FIX tag 373).
//! - [`tags`]: tag numbers by their FIX names.
//! - [`time`]: `UTCTimestamp` text to and from nanoseconds.
//! - [`decimal`]: exact decimal text to and from ticks and lots.
//! - [`session`]: the session layer (logon, sequence numbers, resend,
//!   heartbeats, logout, rejects, rate limits), without I/O.
//! - [`store`]: the per-session message store and the delivery watermark.
//! - [`app`]: application messages to engine inputs, events to reports.
//! - [`acceptor`]: the one-thread mio loop over every session.
//! - [`config`], [`auth`], [`schedule`]: session settings, Argon2 logon
//!   passwords, the weekly sequence reset.
//! - [`metrics`]: per-session figures (quota use, sequence numbers, rejects)
//!   readable from any thread.
//!
//! Nothing here panics on input from the network, and the codec allocates
//! nothing per message once the caller's buffers have grown.

pub mod acceptor;
pub mod app;
pub mod auth;
pub mod codec;
pub mod config;
pub mod decimal;
pub mod dict;
pub mod metrics;
pub mod schedule;
pub mod session;
pub mod store;
pub mod tags;
pub mod time;

#[cfg(test)]
pub(crate) mod testing;
