//! FIX 4.4 on the wire: framing, parsing, validation against the venue's
//! data dictionary, and encoding. The session layer (logon, sequence
//! numbers, heartbeats, resend) builds on this module and is the only user
//! of it.
//!
//! - [`codec`]: [`codec::frame`] a read buffer, [`codec::parse`] a message
//!   into a reusable [`codec::FieldBuf`], typed getters on
//!   [`codec::Message`], and the [`codec::Encoder`].
//! - [`dict`]: the data dictionary and [`dict::validate`], which answers
//!   with a session-level reject reason (FIX tag 373).
//! - [`tags`]: tag numbers by their FIX names.
//! - [`time`]: `UTCTimestamp` text to and from nanoseconds.
//! - [`decimal`]: exact decimal text to and from ticks and lots.
//!
//! Nothing here panics on input from the network, and nothing allocates per
//! message once the caller's buffers have grown to the largest message.

pub mod codec;
pub mod decimal;
pub mod dict;
pub mod tags;
pub mod time;

#[cfg(test)]
pub(crate) mod testing;
