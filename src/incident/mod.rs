//! Incident analysis: the library side of `venue journal verify|dump|book|
//! order|replay|export`. Everything here reads a journal (and the venue's
//! snapshots) and never writes to it, takes no lock, and reads only frames
//! whose length word the writer has published, so it runs on a copy, on a
//! crashed venue's data, or beside a running venue.
//!
//! - [`source`]: where the journal and snapshots are ([`source::JournalPaths`]),
//!   reading frames ([`source::Frames`]: complete frames only; a torn tail
//!   after the durable mark ends the data with a warning, damage to durable
//!   data is an error), the journal's bounds, and points in it (a sequence
//!   number or a time, RFC 3339 or ns: [`source::Point`]).
//! - [`names`]: symbols, participant names and exact decimal prices and
//!   quantities for display ([`names::Names`]), and the decoded form of an
//!   input ([`names::InputRow`]).
//! - [`replay`]: the engine rebuilt to any sequence number, from the newest
//!   snapshot at or before it or from an empty state, every checkpoint
//!   verified on the way ([`replay::Replay`]); the whole-journal check behind
//!   `verify` ([`replay::verify`]).
//! - [`book`]: one instrument's book, level 2 or level 3 ([`book::BookView`]).
//! - [`order`]: one order's whole life ([`order::order_life`]).
//! - [`export`]: one record per order event, with the fields of order record
//!   keeping ([`export::OrderRecord`]).
//!
//! Determinism is what makes this work: the engine is a function of its
//! inputs, so replaying the journal to sequence `s` gives exactly the state
//! and the events the live venue had at `s` (PRODUCT.md, promise 3). The
//! tools need the configuration the venue ran with (instruments and
//! participants); a different one shows up as a checkpoint divergence.
//!
//! Cost: a replay runs at the engine's speed plus one decode per input (see
//! README, "Investigating an incident", for measured figures); a point is
//! reached from the newest snapshot at or before it, so `book --at` costs at
//! most one snapshot interval of replay where the snapshots are kept.
//! `order` replays twice: once over the whole journal to find the order, once
//! from the snapshot before its entry.

pub mod book;
pub mod export;
pub mod names;
pub mod order;
pub mod replay;
pub mod source;
