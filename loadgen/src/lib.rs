//! `loadgen`: certifies a venue's capacity with open-loop load.
//!
//! A scenario ([`scenario`]) says who connects, how fast and what they send;
//! the generator ([`generator`]) turns it into a deterministic schedule of
//! requests; a transport sends them (FIX over TCP, [`fix`], or the matching
//! loop in this process, [`inproc`]) while the runner ([`run`]) measures
//! every answer from its intended send time; the report ([`report`],
//! [`chart`]) prints, saves and plots the [`record::Results`]; `--verify`
//! ([`verify`]) reconciles what loadgen saw against the venue's journal.
#![forbid(unsafe_code)]

pub mod chart;
pub mod fix;
pub mod generator;
pub mod inproc;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sink;
pub mod state;
pub mod verify;
