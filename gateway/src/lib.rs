//! FIX 4.4 acceptor and WebSocket API: the only code that knows wire formats.
//!
//! - [`fix`]: the FIX 4.4 wire codec (framing, parsing, validation against
//!   the data dictionary, encoding) that the FIX session layer builds on.
#![forbid(unsafe_code)]

pub mod fix;
