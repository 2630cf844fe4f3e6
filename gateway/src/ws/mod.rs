//! The WebSocket API: JSON order entry, a numbered private stream, and
//! numbered public market data with book checksums. The protocol is
//! `docs/websocket-api.md`; [`protocol`] has its messages as types and
//! [`local_book`] is a client's copy of a subscribed book.

pub mod local_book;
pub mod protocol;
