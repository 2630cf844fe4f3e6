//! The WebSocket API: JSON order entry, a numbered private stream, and
//! numbered public market data with book checksums. The protocol is
//! `docs/websocket-api.md`; [`protocol`] has its messages as types,
//! [`client`] is a Rust client for it and [`local_book`] the client's copy
//! of a subscribed book.

pub mod client;
pub mod local_book;
pub mod protocol;
