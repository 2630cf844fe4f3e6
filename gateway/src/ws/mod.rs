//! The WebSocket API: JSON order entry, a numbered private stream, and
//! numbered public market data with book checksums. The protocol is
//! `docs/websocket-api.md`; [`protocol`] has its messages as types.

pub mod protocol;
