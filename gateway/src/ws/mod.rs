//! The WebSocket API: JSON order entry, a numbered private stream, and
//! numbered public market data with book checksums. The protocol is
//! `docs/websocket-api.md`; [`protocol`] has its messages as types,
//! [`server`] runs it (with [`hub`] ordering every stream), [`client`] is a
//! Rust client for it and [`local_book`] the client's copy of a book.

pub mod client;
pub mod config;
pub mod convert;
pub mod hub;
pub mod local_book;
pub mod outbox;
pub mod protocol;
pub mod server;
pub mod tls;
