//! Display: symbols, participant names, exact decimal prices and quantities
//! (from ticks and lots with the configured tick and lot sizes, no floating
//! point), and the decoded, readable form of inputs and events.

use engine::{
    AdminAction, CancelReason, ClOrdId, Event, ExecType, HashScheme, Input, InstrumentId, OrderId,
    OrderRef, ParticipantId, Phase, Reason, RejectReason,
};
use gateway::fix::app::InstrumentInfo;
use serde::{Deserialize, Serialize};

use crate::config::VenueConfig;
use crate::incident::source::utc_us;

/// Names and units from the venue's configuration.
#[derive(Clone, Debug, Default)]
pub struct Names {
    instruments: Vec<InstrumentInfo>,
    participants: Vec<(ParticipantId, String)>,
}

impl Names {
    /// From a checked configuration.
    #[must_use]
    pub fn new(config: &VenueConfig) -> Names {
        Names {
            instruments: config.instruments.clone(),
            participants: config.participant_names.clone(),
        }
    }

    fn instrument(&self, id: InstrumentId) -> Option<&InstrumentInfo> {
        self.instruments.iter().find(|i| i.id == id)
    }

    /// The instrument's symbol (`#7` for one the configuration lacks).
    #[must_use]
    pub fn symbol(&self, id: InstrumentId) -> String {
        self.instrument(id)
            .map_or_else(|| format!("#{}", id.0), |i| i.symbol.clone())
    }

    /// The instrument with this symbol (case-insensitive).
    #[must_use]
    pub fn instrument_by_symbol(&self, symbol: &str) -> Option<InstrumentId> {
        self.instruments
            .iter()
            .find(|i| i.symbol.eq_ignore_ascii_case(symbol))
            .map(|i| i.id)
    }

    /// Every symbol, for messages.
    #[must_use]
    pub fn symbols(&self) -> String {
        let s: Vec<&str> = self.instruments.iter().map(|i| i.symbol.as_str()).collect();
        s.join(", ")
    }

    /// The participant's name (`#7` for one the configuration lacks).
    #[must_use]
    pub fn participant(&self, id: ParticipantId) -> String {
        self.participants
            .iter()
            .find(|(p, _)| *p == id)
            .map_or_else(|| format!("#{}", id.0), |(_, n)| n.clone())
    }

    /// A participant by id (`3`) or name (case-insensitive).
    ///
    /// # Errors
    /// Neither an id nor a configured name.
    pub fn participant_by_text(&self, text: &str) -> anyhow::Result<ParticipantId> {
        if let Ok(n) = text.parse::<u32>() {
            return Ok(ParticipantId(n));
        }
        self.participants
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .participants
                    .iter()
                    .map(|(p, n)| format!("{} ({n})", p.0))
                    .collect();
                anyhow::anyhow!(
                    "unknown participant {text:?}: give an id or a name from the configuration: {}",
                    known.join(", ")
                )
            })
    }

    /// A price in ticks as exact decimal text.
    #[must_use]
    pub fn price(&self, instrument: InstrumentId, ticks: i64) -> String {
        match self.instrument(instrument) {
            Some(i) => {
                let mut out = Vec::new();
                gateway::fix::decimal::write_ticks(&mut out, ticks, i.tick_size);
                String::from_utf8_lossy(&out).into_owned()
            }
            None => format!("{ticks} ticks"),
        }
    }

    /// A quantity in lots as exact decimal text (lots times the lot size).
    #[must_use]
    pub fn qty(&self, instrument: InstrumentId, lots: u64) -> String {
        match (self.instrument(instrument), i64::try_from(lots)) {
            (Some(i), Ok(l)) => {
                let mut out = Vec::new();
                gateway::fix::decimal::write_ticks(&mut out, l, i.lot_size);
                String::from_utf8_lossy(&out).into_owned()
            }
            _ => format!("{lots} lots"),
        }
    }
}

// Sides, order types, times in force, execution types and order statuses
// are named as the WebSocket API names them, so the journal tools and the
// API use the same words.
pub use gateway::ws::convert::{
    exec_type_name, ord_status_name, ord_type_name, side_name, tif_name,
};

/// Why an order was cancelled, in words.
#[must_use]
pub fn cancel_reason_text(r: CancelReason) -> &'static str {
    match r {
        CancelReason::ClientRequest => "cancelled at the client's request",
        CancelReason::IocRemainder => "unfilled rest of an IOC or market order",
        CancelReason::FokNotFilled => "fill-or-kill could not fill in full",
        CancelReason::MinQtyNotMet => "minimum quantity not met",
        CancelReason::SelfTradePrevention => "self-trade prevention",
        CancelReason::Expired => "expired",
        CancelReason::PriceCollar => "reached the price collar",
        CancelReason::MassCancel => "mass cancel",
        CancelReason::KillSwitch => "kill switch engaged by the operator",
        CancelReason::Operator => "cancelled by the operator",
        CancelReason::VolatilityInterruption => "volatility interruption",
    }
}

/// A report's reason in words (empty for none).
#[must_use]
pub fn reason_text(r: Reason) -> String {
    match r {
        Reason::None => String::new(),
        Reason::Reject(r) => reject_text(r),
        Reason::Cancel(c) => cancel_reason_text(c).to_owned(),
    }
}

fn reject_text(r: RejectReason) -> String {
    format!("{} (reject code {})", r.text(), r.code())
}

/// The name of an input's type, as `dump --type` takes it.
#[must_use]
pub fn input_type_name(input: &Input) -> &'static str {
    match input {
        Input::NewOrder(_) => "new",
        Input::Cancel(_) => "cancel",
        Input::Replace(_) => "replace",
        Input::MassCancel(_) => "mass_cancel",
        Input::OrderStatus(_) => "status",
        Input::MassStatus(_) => "mass_status",
        Input::ClockTick => "tick",
        Input::Checkpoint { .. } => "checkpoint",
        Input::Admin(_) => "admin",
    }
}

/// Every input type name, for messages and `--help`.
pub const INPUT_TYPE_NAMES: [&str; 9] = [
    "new",
    "cancel",
    "replace",
    "mass_cancel",
    "status",
    "mass_status",
    "tick",
    "checkpoint",
    "admin",
];

fn order_ref_text(r: &OrderRef) -> String {
    match r {
        OrderRef::ClOrdId(c) => format!("ClOrdID {c}"),
        OrderRef::OrderId(o) => format!("OrderID {}", o.0),
    }
}

fn some_cl(c: &ClOrdId) -> Option<String> {
    (!c.is_empty()).then(|| c.as_str().to_owned())
}

/// One decoded input, for the `dump` table and its JSON lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRow {
    /// Sequence number.
    pub seq: u64,
    /// Time, UTC, microseconds.
    pub time: String,
    /// Time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Input type (`new`, `cancel`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Sender's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// Instrument symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// `buy` / `sell`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    /// The request's ClOrdID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cl_ord_id: Option<String>,
    /// The order a cancel, replace or status request names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Quantity (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty: Option<String>,
    /// Limit price (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Everything else, in words.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl InputRow {
    /// Decodes `input` for display.
    #[must_use]
    pub fn new(names: &Names, seq: u64, time_ns: u64, input: &Input) -> InputRow {
        let mut row = InputRow {
            seq,
            time: utc_us(time_ns),
            time_ns,
            kind: input_type_name(input).to_owned(),
            participant: input.participant().map(|p| names.participant(p)),
            ..InputRow::default()
        };
        let mut detail = Vec::new();
        match input {
            Input::NewOrder(o) => {
                row.symbol = Some(names.symbol(o.instrument));
                row.side = Some(side_name(o.side).to_owned());
                row.cl_ord_id = Some(o.cl_ord_id.as_str().to_owned());
                row.qty = Some(names.qty(o.instrument, o.qty_lots));
                row.price = o.price_ticks.map(|p| names.price(o.instrument, p));
                detail.push(format!("{} {}", ord_type_name(o.ord_type), tif_name(o.tif)));
                if let Some(s) = o.stop_price_ticks {
                    detail.push(format!("stop {}", names.price(o.instrument, s)));
                }
                if o.display_qty_lots > 0 {
                    detail.push(format!(
                        "display {}",
                        names.qty(o.instrument, o.display_qty_lots)
                    ));
                }
                if o.min_qty_lots > 0 {
                    detail.push(format!("min {}", names.qty(o.instrument, o.min_qty_lots)));
                }
                if o.post_only {
                    detail.push("post-only".to_owned());
                }
                if let Some(e) = o.expire_time_ns {
                    detail.push(format!("expires {}", utc_us(e)));
                }
            }
            Input::Cancel(c) => {
                row.cl_ord_id = Some(c.cl_ord_id.as_str().to_owned());
                row.target = Some(order_ref_text(&c.target));
            }
            Input::Replace(r) => {
                row.cl_ord_id = Some(r.cl_ord_id.as_str().to_owned());
                row.target = Some(order_ref_text(&r.target));
                row.qty = Some(format!("{} lots", r.qty_lots));
                row.price = r.price_ticks.map(|p| format!("{p} ticks"));
                if let Some(s) = r.stop_price_ticks {
                    detail.push(format!("stop {s} ticks"));
                }
            }
            Input::MassCancel(m) => {
                row.cl_ord_id = Some(m.cl_ord_id.as_str().to_owned());
                row.symbol = m.instrument.map(|i| names.symbol(i));
                row.side = m.side.map(|s| side_name(s).to_owned());
                if let Some(t) = m.tif {
                    detail.push(format!("only {}", tif_name(t)));
                }
            }
            Input::OrderStatus(s) => row.target = Some(order_ref_text(&s.target)),
            Input::MassStatus(m) => {
                row.symbol = m.instrument.map(|i| names.symbol(i));
                row.side = m.side.map(|s| side_name(s).to_owned());
            }
            Input::ClockTick => {}
            Input::Checkpoint { state_hash, scheme } => detail.push(match scheme {
                HashScheme::Folded => format!("state hash {state_hash:016x}"),
                HashScheme::Encoding => format!("encoding hash {state_hash:016x}"),
            }),
            Input::Admin(a) => detail.push(admin_text(names, a)),
        }
        row.detail = detail.join(", ");
        row
    }
}

/// An operator action in words.
#[must_use]
pub fn admin_text(names: &Names, a: &AdminAction) -> String {
    match a {
        AdminAction::SetPhase { instrument, phase } => {
            format!(
                "set {} to {}",
                names.symbol(*instrument),
                phase_name(*phase)
            )
        }
        AdminAction::KillSwitch {
            participant,
            engaged,
        } => format!(
            "{} kill switch of {}",
            if *engaged { "engage" } else { "reset" },
            names.participant(*participant)
        ),
        AdminAction::MassCancel {
            participant,
            instrument,
            side,
        } => format!(
            "operator mass cancel: participant {}, instrument {}, side {}",
            participant.map_or_else(|| "all".to_owned(), |p| names.participant(p)),
            instrument.map_or_else(|| "all".to_owned(), |i| names.symbol(i)),
            side.map_or("both", side_name)
        ),
        AdminAction::SetCreditLimit {
            participant,
            instrument,
            max_open_notional_tick_lots,
        } => format!(
            "credit limit of {} on {}: {}",
            names.participant(*participant),
            names.symbol(*instrument),
            max_open_notional_tick_lots.map_or_else(
                || "none".to_owned(),
                |n| format!("{n} tick-lots of open notional")
            )
        ),
        AdminAction::SnapshotNow => "snapshot now".to_owned(),
        AdminAction::SetRateLimit {
            participant,
            per_second,
            burst,
        } => format!(
            "rate limit of {}: {per_second}/s, burst {burst}",
            names.participant(*participant)
        ),
    }
}

fn phase_name(p: Phase) -> &'static str {
    p.name()
}

/// One event in words, for `order`: what the client (or the market) was told.
#[must_use]
pub fn event_text(names: &Names, event: &Event) -> String {
    match event {
        Event::Exec(x) => {
            let i = x.instrument;
            let mut s = format!(
                "ExecutionReport {:<9} {:<16} OrderID {} ClOrdID {}",
                exec_type_name(x.exec_type),
                ord_status_name(x.ord_status),
                x.order_id.0,
                x.cl_ord_id
            );
            if let Some(orig) = some_cl(&x.orig_cl_ord_id) {
                s.push_str(&format!(" (was {orig})"));
            }
            s.push_str(&format!(
                ", {} {} {}",
                side_name(x.side),
                names.qty(i, x.order_qty_lots),
                names.symbol(i)
            ));
            if let Some(p) = x.price_ticks {
                s.push_str(&format!(" @ {}", names.price(i, p)));
            }
            if x.exec_type == ExecType::Trade {
                s.push_str(&format!(
                    ", filled {} @ {} (trade {}, {})",
                    names.qty(i, x.last_qty_lots),
                    names.price(i, x.last_px_ticks),
                    x.trade_id.0,
                    if x.aggressor { "aggressor" } else { "resting" }
                ));
            }
            s.push_str(&format!(
                ", leaves {} cum {}, ExecID {}",
                names.qty(i, x.leaves_qty_lots),
                names.qty(i, x.cum_qty_lots),
                x.exec_id
            ));
            let why = reason_text(x.reason);
            if !why.is_empty() {
                s.push_str(&format!(": {why}"));
            }
            s
        }
        Event::CancelReject(r) => format!(
            "OrderCancelReject ({}) ClOrdID {} OrderID {}: {}",
            match r.response_to {
                engine::CxlRejResponseTo::Cancel => "cancel",
                engine::CxlRejResponseTo::Replace => "replace",
            },
            r.cl_ord_id,
            r.order_id.0,
            reject_text(r.reason)
        ),
        Event::MassCancelReport(m) => match m.reject {
            Some(r) => format!(
                "OrderMassCancelReport ClOrdID {}: rejected, {}",
                m.cl_ord_id,
                reject_text(r)
            ),
            None => format!(
                "OrderMassCancelReport ClOrdID {}: {} orders cancelled",
                m.cl_ord_id, m.cancelled_count
            ),
        },
        Event::BookLevel(l) => format!(
            "book {} {} {}: {} in {} orders",
            names.symbol(l.instrument),
            side_name(l.side),
            names.price(l.instrument, l.price_ticks),
            names.qty(l.instrument, l.qty_lots),
            l.order_count
        ),
        Event::Trade(t) => format!(
            "trade {} {} {} @ {}: buyer {} (OrderID {}), seller {} (OrderID {}), aggressor {}",
            t.trade_id.0,
            names.symbol(t.instrument),
            names.qty(t.instrument, t.qty_lots),
            names.price(t.instrument, t.price_ticks),
            names.participant(t.buyer),
            t.buy_order_id.0,
            names.participant(t.seller),
            t.sell_order_id.0,
            side_name(t.aggressor_side)
        ),
        Event::InstrumentStatus(s) => format!(
            "instrument {} now {} ({:?})",
            names.symbol(s.instrument),
            s.phase.name(),
            s.cause
        ),
        Event::AdminReport(a) => format!(
            "operator: {}{}, {} orders cancelled",
            admin_text(names, &a.action),
            a.reject
                .map(|r| format!(" refused: {}", reject_text(r)))
                .unwrap_or_default(),
            a.cancelled_count
        ),
    }
}

/// The orders an event names (execution reports, cancel rejects, trades).
#[must_use]
pub fn event_orders(event: &Event) -> [OrderId; 2] {
    match event {
        Event::Exec(x) => [x.order_id, OrderId::NONE],
        Event::CancelReject(r) => [r.order_id, OrderId::NONE],
        Event::Trade(t) => [t.buy_order_id, t.sell_order_id],
        _ => [OrderId::NONE; 2],
    }
}
