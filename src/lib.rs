//! The `venue` library: what joins the engine and the journal into a running
//! venue. The binary (`src/main.rs`) and the integration tests use it.
//!
//! - [`runtime`]: the journal as the sequencer's [`engine::sequencer::InputLog`],
//!   restart by replay, idle strategies and the pinned loop thread.
#![forbid(unsafe_code)]

pub mod runtime;
