//! Between the engine's types and the WebSocket API's JSON: names of enums,
//! reason codes, engine events as messages, and requests as engine inputs
//! (with the same checks the FIX gateway makes before anything reaches the
//! engine: exact decimals, known symbols, well-formed ids).

use engine::event::{
    CancelReject, CxlRejResponseTo, ExecType, ExecutionReport, MassCancelReport, OrdStatus, Reason,
};
use engine::input::{
    Cancel, Input, MassCancel, MassStatusRequest, NewOrder, OrderRef, OrderStatusRequest, Replace,
};
use engine::reason::{CancelReason, RejectReason};
use engine::types::{ClOrdId, OrdType, OrderId, ParticipantId, PriceTicks, Side, TimeInForce};

use crate::fix::app::InstrumentInfo;
use crate::fix::decimal::{parse_decimal, to_units};
use crate::ws::protocol::{
    CancelRejectMsg, CancelReq, ExecMsg, MassCancelReportMsg, MassReq, NewOrderReq, ReasonMsg,
    ReplaceReq, StatusReq,
};

/// A request the gateway refuses before it reaches the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refuse {
    /// Stable code (see the API document).
    pub code: &'static str,
    /// A sentence.
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refuse {
    Refuse {
        code,
        message: message.into(),
    }
}

/// `buy` / `sell`.
#[must_use]
pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn parse_side(s: &str) -> Result<Side, Refuse> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(refuse(
            "invalid_field",
            format!("side must be \"buy\" or \"sell\", not {other:?}"),
        )),
    }
}

/// The API's name of an order type.
#[must_use]
pub fn ord_type_name(t: OrdType) -> &'static str {
    match t {
        OrdType::Limit => "limit",
        OrdType::Market => "market",
        OrdType::Stop => "stop",
        OrdType::StopLimit => "stop_limit",
    }
}

fn parse_ord_type(s: &str) -> Result<OrdType, Refuse> {
    OrdType::ALL
        .into_iter()
        .find(|t| ord_type_name(*t) == s)
        .ok_or_else(|| {
            refuse(
                "invalid_field",
                format!("ord_type must be limit, market, stop or stop_limit, not {s:?}"),
            )
        })
}

/// The API's name of a time in force.
#[must_use]
pub fn tif_name(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Day => "day",
        TimeInForce::Gtc => "gtc",
        TimeInForce::Gtd => "gtd",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
    }
}

fn parse_tif(s: &str) -> Result<TimeInForce, Refuse> {
    TimeInForce::ALL
        .into_iter()
        .find(|t| tif_name(*t) == s)
        .ok_or_else(|| {
            refuse(
                "invalid_field",
                format!("tif must be day, gtc, gtd, ioc or fok, not {s:?}"),
            )
        })
}

/// The API's name of an execution type (FIX ExecType in words).
#[must_use]
pub fn exec_type_name(t: ExecType) -> &'static str {
    match t {
        ExecType::New => "new",
        ExecType::Trade => "trade",
        ExecType::Canceled => "canceled",
        ExecType::Replaced => "replaced",
        ExecType::Rejected => "rejected",
        ExecType::Expired => "expired",
        ExecType::Restated => "restated",
        ExecType::Triggered => "triggered",
        ExecType::OrderStatus => "order_status",
    }
}

/// The API's name of an order status (FIX OrdStatus in words).
#[must_use]
pub fn ord_status_name(s: OrdStatus) -> &'static str {
    match s {
        OrdStatus::New => "new",
        OrdStatus::PartiallyFilled => "partially_filled",
        OrdStatus::Filled => "filled",
        OrdStatus::Canceled => "canceled",
        OrdStatus::Expired => "expired",
        OrdStatus::Rejected => "rejected",
    }
}

/// The stable code of a reject reason.
#[must_use]
pub fn reject_code(r: RejectReason) -> &'static str {
    match r {
        RejectReason::UnknownInstrument => "unknown_instrument",
        RejectReason::UnknownParticipant => "unknown_participant",
        RejectReason::UnknownOrder => "unknown_order",
        RejectReason::DuplicateClOrdId => "duplicate_cl_ord_id",
        RejectReason::InvalidQty => "invalid_qty",
        RejectReason::QtyBelowMin => "qty_below_min",
        RejectReason::QtyAboveMax => "qty_above_max",
        RejectReason::NotionalAboveMax => "notional_above_max",
        RejectReason::PriceOutsideCollar => "price_outside_collar",
        RejectReason::MissingPrice => "missing_price",
        RejectReason::UnexpectedPrice => "unexpected_price",
        RejectReason::MissingStopPrice => "missing_stop_price",
        RejectReason::OrdTypeNotAllowed => "ord_type_not_allowed",
        RejectReason::TifNotAllowed => "tif_not_allowed",
        RejectReason::InvalidTifForOrder => "invalid_tif_for_order",
        RejectReason::MissingExpireTime => "missing_expire_time",
        RejectReason::ExpireTimeInPast => "expire_time_in_past",
        RejectReason::InvalidDisplayQty => "invalid_display_qty",
        RejectReason::InvalidMinQty => "invalid_min_qty",
        RejectReason::PostOnlyWouldTake => "post_only_would_take",
        RejectReason::InvalidPostOnly => "invalid_post_only",
        RejectReason::ReplaceQtyAtOrBelowFilled => "replace_qty_at_or_below_filled",
        RejectReason::TooLateToCancel => "too_late_to_cancel",
        RejectReason::UnexpectedStopPrice => "unexpected_stop_price",
        RejectReason::InstrumentHalted => "instrument_halted",
        RejectReason::InstrumentClosed => "instrument_closed",
        RejectReason::PreOpenWouldMatch => "pre_open_would_match",
        RejectReason::KillSwitchEngaged => "kill_switch_engaged",
        RejectReason::CreditLimitExceeded => "credit_limit_exceeded",
        RejectReason::InvalidAdminRequest => "invalid_admin_request",
        RejectReason::InstrumentNotPermitted => "instrument_not_permitted",
    }
}

/// The stable code and sentence of a cancel reason.
#[must_use]
pub fn cancel_code(r: CancelReason) -> (&'static str, &'static str) {
    match r {
        CancelReason::ClientRequest => ("client_request", "cancelled at the client's request"),
        CancelReason::IocRemainder => ("ioc_remainder", "IOC remainder cancelled"),
        CancelReason::FokNotFilled => ("fok_not_filled", "FOK order could not fill in full"),
        CancelReason::MinQtyNotMet => ("min_qty_not_met", "minimum quantity not available"),
        CancelReason::SelfTradePrevention => (
            "self_trade_prevention",
            "cancelled by self-trade prevention",
        ),
        CancelReason::Expired => ("expired", "order expired"),
        CancelReason::PriceCollar => ("price_collar", "would trade outside the price collar"),
        CancelReason::MassCancel => ("mass_cancel", "cancelled by a mass cancel"),
        CancelReason::KillSwitch => ("kill_switch", "cancelled by the participant's kill switch"),
        CancelReason::Operator => ("operator", "cancelled by the venue operator"),
        CancelReason::VolatilityInterruption => (
            "volatility_interruption",
            "cancelled by a volatility interruption; the instrument is halted",
        ),
    }
}

fn reason_msg(reason: Reason) -> Option<ReasonMsg> {
    match reason {
        Reason::None => None,
        Reason::Reject(r) => Some(ReasonMsg {
            code: reject_code(r).to_owned(),
            text: r.text().to_owned(),
        }),
        Reason::Cancel(c) => {
            let (code, text) = cancel_code(c);
            Some(ReasonMsg {
                code: code.to_owned(),
                text: text.to_owned(),
            })
        }
    }
}

fn opt_id(id: &ClOrdId) -> Option<String> {
    (!id.is_empty()).then(|| id.as_str().to_owned())
}

/// Where a private message sits: its stream numbers and its input.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// This message's `pseq`.
    pub pseq: u64,
    /// The input's sequence number.
    pub engine_seq: u64,
    /// The input's time.
    pub time_ns: u64,
}

/// An execution report as a message.
#[must_use]
pub fn exec_msg(x: &ExecutionReport, symbol: &str, st: Stamp) -> ExecMsg {
    ExecMsg {
        pseq: st.pseq,
        prev_pseq: st.pseq - 1,
        engine_seq: st.engine_seq,
        time_ns: st.time_ns,
        exec_id: x.exec_id.to_string(),
        exec_type: exec_type_name(x.exec_type).to_owned(),
        ord_status: ord_status_name(x.ord_status).to_owned(),
        order_id: x.order_id.0,
        cl_ord_id: x.cl_ord_id.as_str().to_owned(),
        orig_cl_ord_id: opt_id(&x.orig_cl_ord_id),
        symbol: symbol.to_owned(),
        side: side_name(x.side).to_owned(),
        ord_type: ord_type_name(x.ord_type).to_owned(),
        tif: tif_name(x.tif).to_owned(),
        price_ticks: x.price_ticks,
        stop_price_ticks: x.stop_price_ticks,
        qty_lots: x.order_qty_lots,
        leaves_qty_lots: x.leaves_qty_lots,
        cum_qty_lots: x.cum_qty_lots,
        cum_notional: x.cum_notional_tick_lots.to_string(),
        last_qty_lots: x.last_qty_lots,
        last_px_ticks: x.last_px_ticks,
        trade_id: (x.trade_id.0 != 0).then_some(x.trade_id.0),
        aggressor: x.aggressor,
        expire_time_ns: x.expire_time_ns,
        reason: reason_msg(x.reason),
    }
}

/// A cancel reject as a message.
#[must_use]
pub fn cancel_reject_msg(c: &CancelReject, st: Stamp) -> CancelRejectMsg {
    CancelRejectMsg {
        pseq: st.pseq,
        prev_pseq: st.pseq - 1,
        engine_seq: st.engine_seq,
        time_ns: st.time_ns,
        cl_ord_id: c.cl_ord_id.as_str().to_owned(),
        orig_cl_ord_id: opt_id(&c.orig_cl_ord_id),
        order_id: (c.order_id != OrderId::NONE).then_some(c.order_id.0),
        ord_status: ord_status_name(c.ord_status).to_owned(),
        response_to: match c.response_to {
            CxlRejResponseTo::Cancel => "cancel",
            CxlRejResponseTo::Replace => "replace",
        }
        .to_owned(),
        reason: ReasonMsg {
            code: reject_code(c.reason).to_owned(),
            text: c.reason.text().to_owned(),
        },
    }
}

/// A mass cancel report as a message.
#[must_use]
pub fn mass_cancel_msg(
    m: &MassCancelReport,
    symbol: Option<&str>,
    st: Stamp,
) -> MassCancelReportMsg {
    MassCancelReportMsg {
        pseq: st.pseq,
        prev_pseq: st.pseq - 1,
        engine_seq: st.engine_seq,
        time_ns: st.time_ns,
        cl_ord_id: m.cl_ord_id.as_str().to_owned(),
        symbol: symbol.map(str::to_owned),
        side: m.side.map(|s| side_name(s).to_owned()),
        cancelled: m.cancelled_count,
        reason: m.reject.map(|r| ReasonMsg {
            code: reject_code(r).to_owned(),
            text: r.text().to_owned(),
        }),
    }
}

/// Requests become inputs against this table of instruments.
#[derive(Clone, Debug)]
pub struct Instruments {
    list: Vec<InstrumentInfo>,
}

impl Instruments {
    /// The venue's instruments.
    #[must_use]
    pub fn new(list: Vec<InstrumentInfo>) -> Instruments {
        Instruments { list }
    }

    /// All of them, in configuration order.
    #[must_use]
    pub fn list(&self) -> &[InstrumentInfo] {
        &self.list
    }

    /// Index of the instrument with this symbol.
    #[must_use]
    pub fn by_symbol(&self, symbol: &str) -> Option<usize> {
        self.list.iter().position(|i| i.symbol == symbol)
    }

    /// Index of the instrument with this engine id.
    #[must_use]
    pub fn by_id(&self, id: engine::types::InstrumentId) -> Option<usize> {
        self.list.iter().position(|i| i.id == id)
    }

    fn get(&self, symbol: &str) -> Result<&InstrumentInfo, Refuse> {
        self.by_symbol(symbol)
            .map(|i| &self.list[i])
            .ok_or_else(|| refuse("unknown_symbol", format!("no instrument {symbol:?}")))
    }

    /// A `new_order` as an input.
    ///
    /// # Errors
    /// What is wrong with it, before the engine sees it.
    pub fn new_order(&self, p: ParticipantId, r: &NewOrderReq) -> Result<Input, Refuse> {
        let inst = self.get(&r.symbol)?;
        let ord_type = r
            .ord_type
            .as_deref()
            .map_or(Ok(OrdType::Limit), parse_ord_type)?;
        let tif = r.tif.as_deref().map_or(Ok(TimeInForce::Day), parse_tif)?;
        let price_ticks = price(r.price_ticks, r.price.as_deref(), inst, "price")?;
        let stop_price_ticks = price(
            r.stop_price_ticks,
            r.stop_price.as_deref(),
            inst,
            "stop_price",
        )?;
        let qty_lots = qty(r.qty_lots, r.qty.as_deref(), inst, "qty")?
            .ok_or_else(|| refuse("missing_field", "new_order needs \"qty_lots\" or \"qty\""))?;
        let display_qty_lots = qty(
            r.display_qty_lots,
            r.display_qty.as_deref(),
            inst,
            "display_qty",
        )?
        .unwrap_or(0);
        let min_qty_lots = qty(r.min_qty_lots, r.min_qty.as_deref(), inst, "min_qty")?.unwrap_or(0);
        let expire_time_ns = match r.expire_time_ms {
            Some(ms) => Some(
                ms.checked_mul(1_000_000)
                    .ok_or_else(|| refuse("invalid_field", "expire_time_ms is too large"))?,
            ),
            None => None,
        };
        Ok(Input::NewOrder(NewOrder {
            participant: p,
            instrument: inst.id,
            cl_ord_id: cl_ord_id(&r.cl_ord_id, "cl_ord_id")?,
            side: parse_side(&r.side)?,
            ord_type,
            tif,
            price_ticks,
            stop_price_ticks,
            qty_lots,
            display_qty_lots,
            min_qty_lots,
            post_only: r.post_only,
            expire_time_ns,
        }))
    }

    /// A `cancel` as an input.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn cancel(&self, p: ParticipantId, r: &CancelReq) -> Result<Input, Refuse> {
        Ok(Input::Cancel(Cancel {
            participant: p,
            cl_ord_id: cl_ord_id(&r.cl_ord_id, "cl_ord_id")?,
            target: target(r.orig_cl_ord_id.as_deref(), r.order_id, "orig_cl_ord_id")?,
        }))
    }

    /// A `replace` as an input. It takes integer ticks and lots only: the
    /// request does not name the instrument, so a decimal could not be
    /// converted.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn replace(&self, p: ParticipantId, r: &ReplaceReq) -> Result<Input, Refuse> {
        if r.price.is_some() || r.stop_price.is_some() || r.qty.is_some() {
            return Err(refuse(
                "invalid_field",
                "replace takes qty_lots, price_ticks and stop_price_ticks (integers): \
                 it does not name the instrument, so decimals cannot be converted",
            ));
        }
        let qty_lots = r
            .qty_lots
            .ok_or_else(|| refuse("missing_field", "replace needs \"qty_lots\""))?;
        Ok(Input::Replace(Replace {
            participant: p,
            cl_ord_id: cl_ord_id(&r.cl_ord_id, "cl_ord_id")?,
            target: target(r.orig_cl_ord_id.as_deref(), r.order_id, "orig_cl_ord_id")?,
            qty_lots,
            price_ticks: r.price_ticks,
            stop_price_ticks: r.stop_price_ticks,
        }))
    }

    /// A `status` as an input.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn status(&self, p: ParticipantId, r: &StatusReq) -> Result<Input, Refuse> {
        Ok(Input::OrderStatus(OrderStatusRequest {
            participant: p,
            target: target(r.cl_ord_id.as_deref(), r.order_id, "cl_ord_id")?,
        }))
    }

    /// A `mass_status` as an input.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn mass_status(&self, p: ParticipantId, r: &MassReq) -> Result<Input, Refuse> {
        if r.cl_ord_id.is_some() {
            return Err(refuse("invalid_field", "mass_status takes no cl_ord_id"));
        }
        let (instrument, side) = self.filters(r)?;
        Ok(Input::MassStatus(MassStatusRequest {
            participant: p,
            instrument,
            side,
        }))
    }

    /// A `mass_cancel` as an input.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn mass_cancel(&self, p: ParticipantId, r: &MassReq) -> Result<Input, Refuse> {
        let id = r
            .cl_ord_id
            .as_deref()
            .ok_or_else(|| refuse("missing_field", "mass_cancel needs \"cl_ord_id\""))?;
        let (instrument, side) = self.filters(r)?;
        Ok(Input::MassCancel(MassCancel {
            participant: p,
            cl_ord_id: cl_ord_id(id, "cl_ord_id")?,
            instrument,
            side,
            tif: None,
        }))
    }

    fn filters(
        &self,
        r: &MassReq,
    ) -> Result<(Option<engine::types::InstrumentId>, Option<Side>), Refuse> {
        let instrument = match &r.symbol {
            Some(s) => Some(self.get(s)?.id),
            None => None,
        };
        let side = r.side.as_deref().map(parse_side).transpose()?;
        Ok((instrument, side))
    }
}

/// A client order id: 1 to 40 printable ASCII characters.
///
/// # Errors
/// Empty, too long or not printable.
pub fn cl_ord_id(s: &str, field: &str) -> Result<ClOrdId, Refuse> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refuse(
            "invalid_field",
            format!("{field} must be 1 to 40 printable ASCII characters without spaces"),
        ));
    }
    ClOrdId::new(s.as_bytes()).ok_or_else(|| {
        refuse(
            "invalid_field",
            format!("{field} must be at most 40 characters"),
        )
    })
}

fn target(cl: Option<&str>, order_id: Option<u64>, field: &str) -> Result<OrderRef, Refuse> {
    match (cl, order_id) {
        (Some(_), Some(_)) => Err(refuse(
            "invalid_field",
            format!("give {field} or order_id, not both"),
        )),
        (Some(c), None) => Ok(OrderRef::ClOrdId(cl_ord_id(c, field)?)),
        (None, Some(0)) => Err(refuse("invalid_field", "order_id 0 names no order")),
        (None, Some(id)) => Ok(OrderRef::OrderId(OrderId(id))),
        (None, None) => Err(refuse(
            "missing_field",
            format!("needs \"{field}\" or \"order_id\""),
        )),
    }
}

fn price(
    ticks: Option<i64>,
    decimal: Option<&str>,
    inst: &InstrumentInfo,
    field: &str,
) -> Result<Option<PriceTicks>, Refuse> {
    match (ticks, decimal) {
        (Some(_), Some(_)) => Err(refuse(
            "invalid_field",
            format!("give {field}_ticks or {field}, not both"),
        )),
        (Some(t), None) => Ok(Some(t)),
        (None, Some(d)) => {
            let (negative, value) = parse_decimal(d.as_bytes()).map_err(|_| {
                refuse(
                    "invalid_field",
                    format!("{field} must be a decimal string such as \"100.25\", not {d:?}"),
                )
            })?;
            to_units(negative, value, inst.tick_size)
                .map(Some)
                .ok_or_else(|| {
                    refuse(
                        "off_tick",
                        format!(
                            "{field} {d} is not a whole number of ticks of {} ({})",
                            inst.tick_size, inst.symbol
                        ),
                    )
                })
        }
        (None, None) => Ok(None),
    }
}

fn qty(
    lots: Option<u64>,
    decimal: Option<&str>,
    inst: &InstrumentInfo,
    field: &str,
) -> Result<Option<u64>, Refuse> {
    match (lots, decimal) {
        (Some(_), Some(_)) => Err(refuse(
            "invalid_field",
            format!("give {field}_lots or {field}, not both"),
        )),
        (Some(l), None) => Ok(Some(l)),
        (None, Some(d)) => {
            let parsed = parse_decimal(d.as_bytes()).map_err(|_| {
                refuse(
                    "invalid_field",
                    format!("{field} must be a decimal string such as \"5000\", not {d:?}"),
                )
            })?;
            match parsed {
                (false, value) => match to_units(false, value, inst.lot_size) {
                    Some(l) if l >= 0 => Ok(Some(l as u64)),
                    _ => Err(refuse(
                        "off_tick",
                        format!(
                            "{field} {d} is not a whole number of lots of {} ({})",
                            inst.lot_size, inst.symbol
                        ),
                    )),
                },
                (true, _) => Err(refuse(
                    "invalid_field",
                    format!("{field} must not be negative"),
                )),
            }
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Decimal;
    use engine::types::InstrumentId;

    fn table() -> Instruments {
        Instruments::new(vec![InstrumentInfo {
            id: InstrumentId(1),
            symbol: "UST-10Y".to_owned(),
            description: None,
            tick_size: Decimal {
                mantissa: 78125,
                scale: 7,
            },
            lot_size: Decimal {
                mantissa: 1,
                scale: 0,
            },
        }])
    }

    fn order(json: &str) -> NewOrderReq {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn decimal_prices_become_exact_ticks_and_off_tick_is_refused() {
        let t = table();
        let ok = t
            .new_order(
                ParticipantId(1),
                &order(r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy","price":"100.5078125","qty":"5"}"#),
            )
            .unwrap();
        let Input::NewOrder(o) = ok else { panic!() };
        assert_eq!(o.price_ticks, Some(12865));
        assert_eq!(o.qty_lots, 5);
        assert_eq!((o.ord_type, o.tif), (OrdType::Limit, TimeInForce::Day));
        let off = t
            .new_order(
                ParticipantId(1),
                &order(r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy","price":"100.001","qty_lots":5}"#),
            )
            .unwrap_err();
        assert_eq!(off.code, "off_tick");
    }

    #[test]
    fn bad_requests_get_specific_codes() {
        let t = table();
        let p = ParticipantId(1);
        let cases = [
            (
                r#"{"cl_ord_id":"a","symbol":"NOPE","side":"buy","qty_lots":1}"#,
                "unknown_symbol",
            ),
            (
                r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"up","qty_lots":1}"#,
                "invalid_field",
            ),
            (
                r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy"}"#,
                "missing_field",
            ),
            (
                r#"{"cl_ord_id":"","symbol":"UST-10Y","side":"buy","qty_lots":1}"#,
                "invalid_field",
            ),
            (
                r#"{"cl_ord_id":"a b","symbol":"UST-10Y","side":"buy","qty_lots":1}"#,
                "invalid_field",
            ),
            (
                r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy","qty_lots":1,"tif":"forever"}"#,
                "invalid_field",
            ),
            (
                r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy","qty_lots":1,"price":"1","price_ticks":1}"#,
                "invalid_field",
            ),
            (
                r#"{"cl_ord_id":"a","symbol":"UST-10Y","side":"buy","qty":"-1"}"#,
                "invalid_field",
            ),
        ];
        for (json, code) in cases {
            assert_eq!(
                t.new_order(p, &order(json)).unwrap_err().code,
                code,
                "{json}"
            );
        }
        let long = "x".repeat(41);
        assert_eq!(
            t.cancel(
                p,
                &CancelReq {
                    cl_ord_id: long,
                    order_id: Some(1),
                    ..CancelReq::default()
                }
            )
            .unwrap_err()
            .code,
            "invalid_field"
        );
        assert_eq!(
            t.cancel(
                p,
                &CancelReq {
                    cl_ord_id: "c".to_owned(),
                    ..CancelReq::default()
                }
            )
            .unwrap_err()
            .code,
            "missing_field"
        );
    }

    #[test]
    fn every_reason_has_a_distinct_code() {
        let mut codes: Vec<&str> = RejectReason::ALL.into_iter().map(reject_code).collect();
        codes.extend(CancelReason::ALL.into_iter().map(|c| cancel_code(c).0));
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }
}
