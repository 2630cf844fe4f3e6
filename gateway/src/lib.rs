//! FIX 4.4 acceptor and WebSocket API: the only code that knows wire formats.
//!
//! - [`fix`]: the FIX 4.4 acceptor: wire codec, dictionary, session layer,
//!   message store, application layer and the acceptor loop.
#![forbid(unsafe_code)]

pub mod fix;
pub mod ws;
