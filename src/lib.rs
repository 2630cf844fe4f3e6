//! The `venue` library: what joins the engine and the journal into a running
//! venue. The binary (`src/main.rs`) and the integration tests use it.
//!
//! - [`runtime`]: the journal as the sequencer's [`engine::sequencer::InputLog`],
//!   restart from the newest good snapshot plus the journal after it, idle
//!   strategies and the pinned loop thread.
//! - [`snapshot`]: engine snapshots on disk.
//! - [`config`]: the venue's TOML configuration file, read and checked.
//! - [`data_lock`]: one writer per data directory (an advisory lock file).
//! - [`logging`]: structured logs (`tracing`), written off the matching thread.
//! - [`demo`]: a small built-in venue for `venue selfcheck` and the tests.
//! - [`fix_gateway`]: the FIX acceptor's thread, its session stores, and
//!   the re-derivation of undelivered execution reports after a crash.
//! - [`admin`]: the operator's HTTP API (actions as journaled inputs,
//!   health, readiness, metrics).
//! - [`incident`]: the journal tools behind `venue journal ...`: replay to
//!   any point, books, an order's life, decoded inputs, order records.
//! - [`node`]: a whole running venue, started from a checked configuration.
//! - [`ws_gateway`]: which outputs go to the FIX and the WebSocket
//!   gateways, and the books the WebSocket gateway starts from.
//! - [`metrics`]: the metrics endpoint's text (OpenMetrics), read from the
//!   loop's, the FIX sessions' and the WebSocket gateway's figures, and the
//!   rate-limit quota warnings.
#![forbid(unsafe_code)]

pub mod admin;
pub mod config;
pub mod data_lock;
pub mod demo;
pub mod fix_gateway;
pub mod incident;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod read_ahead;
pub mod runtime;
pub mod snapshot;
pub mod ws_gateway;
