//! FIX 4.4 acceptor and WebSocket API: the only code that knows wire formats.
#![forbid(unsafe_code)]

pub mod fix;
