//! FIX 4.4 acceptor and WebSocket API: the only code that knows wire formats.
//!
//! Empty until the FIX and WebSocket issues land; the crate exists so the
//! workspace has its final shape from the first commit.
#![forbid(unsafe_code)]
