//! The WebSocket API: JSON order entry, a numbered private stream, and
//! numbered public market data with book checksums. The protocol is
//! `docs/websocket-api.md`; [`protocol`] has its messages as types,
//! [`server`] runs it, and the client library keeps an in-order local view.

pub mod config;
pub mod convert;
pub mod hub;
pub mod outbox;
pub mod protocol;
pub mod server;
pub mod tls;
