//! FIX 4.4: the wire codec and dictionary, the session layer, the message
//! store, the application layer and the acceptor.
pub mod acceptor;
pub mod app;
pub mod auth;
pub mod codec;
pub mod config;
pub mod decimal;
pub mod dict;
pub mod schedule;
pub mod session;
pub mod store;
pub mod tags;
pub mod time;
