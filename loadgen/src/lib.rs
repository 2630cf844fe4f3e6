//! The bundled load generator.
//!
//! Empty until the loadgen issue lands; the crate exists so the workspace has
//! its final shape from the first commit.
#![forbid(unsafe_code)]
