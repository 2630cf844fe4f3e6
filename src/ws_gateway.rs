//! Wiring the WebSocket gateway beside the FIX acceptor: which outputs each
//! gateway's ring takes, and the books the WebSocket hub starts from.

use std::collections::BTreeSet;

use engine::sequencer::{Output, Route};
use engine::types::{ParticipantId, Side};
use engine::{AdminAction, AdminReport, Engine, Event, Input};
use gateway::ws::hub::{InitialBooks, WS_ORIGIN};

use crate::config::VenueConfig;

fn owner(event: &Event) -> Option<ParticipantId> {
    match event {
        Event::Exec(x) => Some(x.participant),
        Event::CancelReject(c) => Some(c.participant),
        Event::MassCancelReport(m) => Some(m.participant),
        Event::BookLevel(_)
        | Event::Trade(_)
        | Event::InstrumentStatus(_)
        | Event::AdminReport(_) => None,
    }
}

/// The participant whose rate limit the operator changed, if `event` says so.
fn rate_change(event: &Event) -> Option<ParticipantId> {
    match event {
        Event::AdminReport(AdminReport {
            action: AdminAction::SetRateLimit { participant, .. },
            reject: None,
            ..
        }) => Some(*participant),
        _ => None,
    }
}

/// The names of [`routes`]' rings, in order (for the metrics).
pub const ROUTE_NAMES: [&str; 3] = ["fix", "websocket", "admin"];

/// Three routes, in this order: the FIX gateway's (the private events of
/// participants with a FIX session, and refusals of FIX inputs), the
/// WebSocket gateway's (all market data, the private events of participants
/// with WebSocket keys, phase changes, and refusals of WebSocket inputs),
/// and the admin API's ([`crate::admin::is_admin_output`]). A participant with both
/// gateways gets its events on both; a change of its rate limit goes to
/// each gateway it uses, which applies it.
#[must_use]
pub fn routes(config: &VenueConfig) -> Vec<Route> {
    let fix: BTreeSet<ParticipantId> = config.fix_sessions.iter().map(|s| s.participant).collect();
    let ws: BTreeSet<ParticipantId> = config.ws.participants.iter().map(|p| p.id).collect();
    // Phase changes are public: the WebSocket gateway publishes them too.
    let admin_only = |out: &Output| match out {
        Output::Event { event, .. } => matches!(event, Event::AdminReport(_)),
        Output::Refused { input, .. } => matches!(input, Input::Admin(_)),
    };
    vec![
        Box::new(move |out: &Output| match out {
            Output::Event { event, .. } => owner(event)
                .or_else(|| rate_change(event))
                .is_some_and(|p| fix.contains(&p)),
            Output::Refused { origin, input, .. } => {
                origin & WS_ORIGIN == 0 && !matches!(input, Input::Admin(_))
            }
        }),
        Box::new(move |out: &Output| {
            if let Output::Event { event, .. } = out
                && let Some(p) = rate_change(event)
            {
                return ws.contains(&p);
            }
            !admin_only(out)
                && match out {
                    Output::Event { event, .. } => owner(event).is_none_or(|p| ws.contains(&p)),
                    Output::Refused { origin, .. } => origin & WS_ORIGIN != 0,
                }
        }),
        Box::new(crate::admin::is_admin_output),
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
