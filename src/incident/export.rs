//! Order records for regulators: one record per order event, with the
//! fields order record keeping asks for (who, what instrument, side, price,
//! quantity, order type, time in force, what happened, the venue's time in
//! microseconds UTC, the sequence number, client and venue order ids, trade
//! id and counterparty).
//!
//! An order event is an execution report other than a status answer (new,
//! trade, canceled, replaced, rejected, expired, restated, triggered) or a
//! cancel/replace reject. Status answers change nothing and are left out.
//! A cancel reject carries no instrument or side of its own: they are filled
//! in from the order while it is live, and left empty for an order no longer
//! live (a "too late to cancel"). Prices and quantities are exact decimals
//! (ticks and lots times the configured tick and lot sizes).

use std::collections::HashMap;

use engine::{Event, ExecType, InstrumentId, OrdType, OrderId, Side, TimeInForce};
use serde::{Deserialize, Serialize};

use crate::incident::names::{
    Names, exec_type_name, ord_status_name, ord_type_name, reason_text, side_name, tif_name,
};
use crate::incident::replay::Step;
use crate::incident::source::utc_us;

/// One order event. Field order is the CSV column order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The sequence number of the input that caused the event.
    pub seq: u64,
    /// The venue's timestamp, UTC, microseconds.
    pub venue_time: String,
    /// The same, ns since the Unix epoch.
    pub venue_time_ns: u64,
    /// The execution report's id (`SEQ-IDX`); empty for a cancel reject.
    pub exec_id: Option<String>,
    /// `new`, `trade`, `canceled`, `replaced`, `rejected`, `expired`,
    /// `restated`, `triggered`, `cancel_rejected`, `replace_rejected`.
    pub event_type: String,
    /// The order's status after the event.
    pub ord_status: String,
    /// The participant (name from the configuration).
    pub participant: String,
    /// Its venue id.
    pub participant_id: u32,
    /// The instrument's symbol.
    pub instrument: Option<String>,
    /// `buy` / `sell`.
    pub side: Option<String>,
    /// `limit`, `market`, `stop`, `stop_limit`.
    pub order_type: Option<String>,
    /// `gtc`, `day`, `gtd`, `ioc`, `fok`.
    pub time_in_force: Option<String>,
    /// Limit price.
    pub price: Option<String>,
    /// Stop price.
    pub stop_price: Option<String>,
    /// Order quantity.
    pub quantity: Option<String>,
    /// Quantity still open.
    pub leaves_quantity: Option<String>,
    /// Quantity filled so far.
    pub cum_quantity: Option<String>,
    /// This fill's quantity.
    pub last_quantity: Option<String>,
    /// This fill's price.
    pub last_price: Option<String>,
    /// The client's order id (the request's, on a replace or cancel).
    pub client_order_id: String,
    /// The previous client order id, on a replace or cancel.
    pub orig_client_order_id: Option<String>,
    /// The venue's order id (empty for an order rejected on entry).
    pub venue_order_id: Option<u64>,
    /// The trade id, on a fill.
    pub trade_id: Option<u64>,
    /// The other side's participant, on a fill.
    pub counterparty: Option<String>,
    /// The other side's venue order id, on a fill.
    pub counterparty_order_id: Option<u64>,
    /// Whether this order took liquidity, on a fill.
    pub aggressor: Option<bool>,
    /// Why (reject, cancel and expiry reasons).
    pub reason: Option<String>,
}

/// Turns replayed steps into order records. Keeps the instrument, side,
/// type and time in force of live orders, for cancel rejects.
#[derive(Debug, Default)]
pub struct Exporter {
    live: HashMap<OrderId, (InstrumentId, Side, OrdType, TimeInForce)>,
    /// Records written.
    pub records: u64,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl Exporter {
    /// The records of one step, in event order, passed to `out`.
    ///
    /// # Errors
    /// `out`'s error.
    pub fn step<E>(
        &mut self,
        names: &Names,
        step: &Step<'_>,
        mut out: impl FnMut(&OrderRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        for event in step.events {
            let record = match event {
                Event::Exec(x) if x.exec_type != ExecType::OrderStatus => {
                    let i = x.instrument;
                    if x.order_id != OrderId::NONE {
                        if x.ord_status.is_live() {
                            self.live.insert(x.order_id, (i, x.side, x.ord_type, x.tif));
                        } else {
                            self.live.remove(&x.order_id);
                        }
                    }
                    let trade = (x.exec_type == ExecType::Trade)
                        .then(|| {
                            step.events.iter().find_map(|e| match e {
                                Event::Trade(t) if t.trade_id == x.trade_id => Some(*t),
                                _ => None,
                            })
                        })
                        .flatten();
                    let (counterparty, counterparty_order_id) = match trade {
                        Some(t) if t.buy_order_id == x.order_id => {
                            (Some(names.participant(t.seller)), Some(t.sell_order_id.0))
                        }
                        Some(t) => (Some(names.participant(t.buyer)), Some(t.buy_order_id.0)),
                        None => (None, None),
                    };
                    let fill = x.exec_type == ExecType::Trade;
                    OrderRecord {
                        seq: step.seq,
                        venue_time: utc_us(step.time_ns),
                        venue_time_ns: step.time_ns,
                        exec_id: Some(x.exec_id.to_string()),
                        event_type: exec_type_name(x.exec_type).to_owned(),
                        ord_status: ord_status_name(x.ord_status).to_owned(),
                        participant: names.participant(x.participant),
                        participant_id: x.participant.0,
                        instrument: Some(names.symbol(i)),
                        side: Some(side_name(x.side).to_owned()),
                        order_type: Some(ord_type_name(x.ord_type).to_owned()),
                        time_in_force: Some(tif_name(x.tif).to_owned()),
                        price: x.price_ticks.map(|p| names.price(i, p)),
                        stop_price: x.stop_price_ticks.map(|p| names.price(i, p)),
                        quantity: Some(names.qty(i, x.order_qty_lots)),
                        leaves_quantity: Some(names.qty(i, x.leaves_qty_lots)),
                        cum_quantity: Some(names.qty(i, x.cum_qty_lots)),
                        last_quantity: fill.then(|| names.qty(i, x.last_qty_lots)),
                        last_price: fill.then(|| names.price(i, x.last_px_ticks)),
                        client_order_id: x.cl_ord_id.as_str().to_owned(),
                        orig_client_order_id: non_empty(x.orig_cl_ord_id.as_str().to_owned()),
                        venue_order_id: (x.order_id != OrderId::NONE).then_some(x.order_id.0),
                        trade_id: fill.then_some(x.trade_id.0),
                        counterparty,
                        counterparty_order_id,
                        aggressor: fill.then_some(x.aggressor),
                        reason: non_empty(reason_text(x.reason)),
                    }
                }
                Event::CancelReject(r) => {
                    let known = self.live.get(&r.order_id).copied();
                    OrderRecord {
                        seq: step.seq,
                        venue_time: utc_us(step.time_ns),
                        venue_time_ns: step.time_ns,
                        exec_id: None,
                        event_type: match r.response_to {
                            engine::CxlRejResponseTo::Cancel => "cancel_rejected",
                            engine::CxlRejResponseTo::Replace => "replace_rejected",
                        }
                        .to_owned(),
                        ord_status: ord_status_name(r.ord_status).to_owned(),
                        participant: names.participant(r.participant),
                        participant_id: r.participant.0,
                        instrument: known.map(|k| names.symbol(k.0)),
                        side: known.map(|k| side_name(k.1).to_owned()),
                        order_type: known.map(|k| ord_type_name(k.2).to_owned()),
                        time_in_force: known.map(|k| tif_name(k.3).to_owned()),
                        price: None,
                        stop_price: None,
                        quantity: None,
                        leaves_quantity: None,
                        cum_quantity: None,
                        last_quantity: None,
                        last_price: None,
                        client_order_id: r.cl_ord_id.as_str().to_owned(),
                        orig_client_order_id: non_empty(r.orig_cl_ord_id.as_str().to_owned()),
                        venue_order_id: (r.order_id != OrderId::NONE).then_some(r.order_id.0),
                        trade_id: None,
                        counterparty: None,
                        counterparty_order_id: None,
                        aggressor: None,
                        reason: Some(format!(
                            "{} (reject code {})",
                            r.reason.text(),
                            r.reason.code()
                        )),
                    }
                }
                _ => continue,
            };
            self.records += 1;
            out(&record)?;
        }
        Ok(())
    }
}
