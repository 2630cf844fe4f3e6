//! Order books and matching (work in progress).
#![forbid(unsafe_code)]
