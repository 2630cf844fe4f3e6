//! Wiring the WebSocket gateway beside the FIX acceptor: which outputs each
//! gateway's ring takes, and the books the WebSocket hub starts from.

use std::collections::BTreeSet;

use engine::sequencer::{Output, Route};
use engine::types::{ParticipantId, Side};
use engine::{Engine, Event};
use gateway::ws::hub::{InitialBooks, WS_ORIGIN};

use crate::config::VenueConfig;

fn owner(event: &Event) -> Option<ParticipantId> {
    match event {
        Event::Exec(x) => Some(x.participant),
        Event::CancelReject(c) => Some(c.participant),
        Event::MassCancelReport(m) => Some(m.participant),
        Event::BookLevel(_) | Event::Trade(_) => None,
    }
}

/// The names of [`routes`]' rings, in order (for the metrics).
pub const ROUTE_NAMES: [&str; 2] = ["fix", "websocket"];

/// Two routes, in this order: the FIX gateway's (the private events of
/// participants with a FIX session, and refusals of FIX inputs) and the
/// WebSocket gateway's (all market data, the private events of participants
/// with WebSocket keys, and refusals of WebSocket inputs). A participant
/// with both gets its events on both.
#[must_use]
pub fn routes(config: &VenueConfig) -> Vec<Route> {
    let fix: BTreeSet<ParticipantId> = config.fix_sessions.iter().map(|s| s.participant).collect();
    let ws: BTreeSet<ParticipantId> = config.ws.participants.iter().map(|p| p.id).collect();
    vec![
        Box::new(move |out: &Output| match out {
            Output::Event { event, .. } => owner(event).is_some_and(|p| fix.contains(&p)),
            Output::Refused { origin, .. } => origin & WS_ORIGIN == 0,
        }),
        Box::new(move |out: &Output| match out {
            Output::Event { event, .. } => owner(event).is_none_or(|p| ws.contains(&p)),
            Output::Refused { origin, .. } => origin & WS_ORIGIN != 0,
        }),
    ]
}

/// Every instrument's book as it stands.
#[must_use]
pub fn books(engine: &Engine) -> InitialBooks {
    engine
        .config()
        .instruments
        .iter()
        .map(|i| {
            let mut levels = engine.book_levels(i.id, Side::Buy);
            levels.extend(engine.book_levels(i.id, Side::Sell));
            (i.id, levels)
        })
        .collect()
}
