//! The WebSocket API's messages, both ways, as `serde` types: the server
//! writes [`ServerMsg`] and reads [`ClientMsg`]; the client library does the
//! opposite. `docs/websocket-api.md` is the contract these types implement.

use serde::{Deserialize, Serialize};

/// A client's request id, echoed in the gateway's own answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReqId {
    /// A number.
    Num(u64),
    /// A string (at most 64 characters).
    Str(String),
}

/// Longest string `req_id`.
pub const REQ_ID_LEN_MAX: usize = 64;

/// Resume the private stream after a reconnect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The epoch the client's last `pseq` belongs to.
    pub epoch: u64,
    /// The last `pseq` the client saw.
    pub after_pseq: u64,
}

/// `login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The participant's configured id.
    pub participant: u32,
    /// Client clock, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Ed25519 signature over [`login_payload`], hex.
    pub signature: String,
    /// Resume the private stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// The bytes a login signs.
#[must_use]
pub fn login_payload(participant: u32, timestamp_ms: u64, challenge: &str) -> String {
    format!("venue-ws-login:{participant}:{timestamp_ms}:{challenge}")
}

/// `new_order`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct NewOrderReq {
    pub cl_ord_id: String,
    pub symbol: String,
    pub side: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ord_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_ticks: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price_ticks: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty_lots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_qty_lots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_qty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_qty_lots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_qty: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub post_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `cancel`, and the target part of `replace` and `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CancelReq {
    pub cl_ord_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_cl_ord_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `replace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReplaceReq {
    pub cl_ord_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_cl_ord_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty_lots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_ticks: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price_ticks: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `status`: by the order's `cl_ord_id` or its `order_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StatusReq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cl_ord_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `mass_status` and `mass_cancel` (`cl_ord_id` for the latter only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MassReq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cl_ord_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `subscribe` and `unsubscribe`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SubscribeReq {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// `cancel_all_after`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CancelAllAfterReq {
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// A request with nothing but its id (`ping`, `instruments`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Plain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<ReqId>,
}

/// Everything a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ClientMsg {
    Login(Login),
    NewOrder(NewOrderReq),
    Cancel(CancelReq),
    Replace(ReplaceReq),
    Status(StatusReq),
    MassStatus(MassReq),
    MassCancel(MassReq),
    CancelAllAfter(CancelAllAfterReq),
    Subscribe(SubscribeReq),
    Unsubscribe(SubscribeReq),
    Instruments(Plain),
    Ping(Plain),
}

/// Every `op` a client may send.
pub const OPS: [&str; 12] = [
    "login",
    "new_order",
    "cancel",
    "replace",
    "status",
    "mass_status",
    "mass_cancel",
    "cancel_all_after",
    "subscribe",
    "unsubscribe",
    "instruments",
    "ping",
];

/// A reason on a report: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonMsg {
    /// Stable code (`price_outside_collar`, ...).
    pub code: String,
    /// A sentence for people.
    pub text: String,
}

/// An execution report on the private stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExecMsg {
    pub pseq: u64,
    pub prev_pseq: u64,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub exec_id: String,
    pub exec_type: String,
    pub ord_status: String,
    pub order_id: u64,
    pub cl_ord_id: String,
    pub orig_cl_ord_id: Option<String>,
    pub symbol: String,
    pub side: String,
    pub ord_type: String,
    pub tif: String,
    pub price_ticks: Option<i64>,
    pub stop_price_ticks: Option<i64>,
    pub qty_lots: u64,
    pub leaves_qty_lots: u64,
    pub cum_qty_lots: u64,
    /// Sum over fills of ticks × lots, an integer written as a string (it
    /// can exceed 2^53, beyond what many JSON parsers keep exactly).
    pub cum_notional: String,
    pub last_qty_lots: u64,
    pub last_px_ticks: i64,
    pub trade_id: Option<u64>,
    pub aggressor: bool,
    pub expire_time_ns: Option<u64>,
    pub reason: Option<ReasonMsg>,
}

/// A rejected cancel or replace on the private stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CancelRejectMsg {
    pub pseq: u64,
    pub prev_pseq: u64,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub cl_ord_id: String,
    pub orig_cl_ord_id: Option<String>,
    pub order_id: Option<u64>,
    pub ord_status: String,
    pub response_to: String,
    pub reason: ReasonMsg,
}

/// The result of a mass cancel on the private stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MassCancelReportMsg {
    pub pseq: u64,
    pub prev_pseq: u64,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub cl_ord_id: String,
    pub symbol: Option<String>,
    pub side: Option<String>,
    pub cancelled: u32,
    pub reason: Option<ReasonMsg>,
}

/// The end of a `mass_status` answer on the private stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MassStatusDoneMsg {
    pub pseq: u64,
    pub prev_pseq: u64,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub count: u32,
}

/// One book level: `[price_ticks, qty_lots, orders]`.
pub type LevelMsg = (i64, u64, u32);

/// A book snapshot or update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct BookMsg {
    pub channel: String,
    pub snapshot: bool,
    pub seq: u64,
    pub prev_seq: Option<u64>,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub bids: Vec<LevelMsg>,
    pub asks: Vec<LevelMsg>,
    pub checksum: u32,
}

/// A public trade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TradeMsg {
    pub channel: String,
    pub seq: u64,
    pub prev_seq: u64,
    pub engine_seq: u64,
    pub time_ns: u64,
    pub trade_id: u64,
    pub price_ticks: i64,
    pub qty_lots: u64,
    pub aggressor: String,
}

/// An instrument's trading phase changed: sent to every subscriber of its
/// `trades.SYMBOL` channel, outside the channel's numbering (a status is
/// state, not a stream: the engine sequence number orders it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StatusMsg {
    pub engine_seq: u64,
    pub time_ns: u64,
    pub symbol: String,
    /// `open`, `pre_open`, `halted`, `closed`.
    pub phase: String,
    /// `operator`, `volatility_interruption`, `pause_ended`.
    pub cause: String,
    /// When a volatility halt ends by itself, if it does.
    pub resume_at_ns: Option<u64>,
}

/// An instrument, as `instruments` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct InstrumentMsg {
    pub symbol: String,
    pub description: Option<String>,
    pub tick_size: String,
    pub lot_size: String,
}

/// Everything the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
#[allow(
    clippy::large_enum_variant,
    reason = "built and serialized at once, never stored in bulk"
)]
pub enum ServerMsg {
    Hello {
        venue: String,
        challenge: String,
        heartbeat_ms: u64,
        time_ms: u64,
    },
    LoggedIn {
        participant: u32,
        name: String,
        epoch: u64,
        pseq: u64,
        cancel_on_disconnect: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    Exec(ExecMsg),
    CancelReject(CancelRejectMsg),
    MassCancelReport(MassCancelReportMsg),
    MassStatusDone(MassStatusDoneMsg),
    Book(BookMsg),
    Trade(TradeMsg),
    Status(StatusMsg),
    Heartbeat {
        time_ms: u64,
        channels: std::collections::BTreeMap<String, u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pseq: Option<u64>,
    },
    Subscribed {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    Unsubscribed {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    Instruments {
        instruments: Vec<InstrumentMsg>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    CancelAllAfter {
        timeout_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
    },
    CancelAllAfterTriggered {},
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<ReqId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cl_ord_id: Option<String>,
    },
}

impl ServerMsg {
    /// The message as JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys,
        // no fallible `Serialize` impls.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"cannot serialize: {e}"}}"#)
        })
    }
}

/// The book checksum (see the API document): CRC-32 (IEEE) over, per level,
/// `b'B'` or `b'A'`, the price as `i64` little-endian and the quantity as
/// `u64` little-endian; bids best first, then asks best first.
#[must_use]
pub fn book_checksum(
    bids: impl IntoIterator<Item = (i64, u64)>,
    asks: impl IntoIterator<Item = (i64, u64)>,
) -> u32 {
    fn level(h: &mut crc32fast::Hasher, side: u8, px: i64, qty: u64) {
        let mut rec = [0u8; 17];
        rec[0] = side;
        rec[1..9].copy_from_slice(&px.to_le_bytes());
        rec[9..17].copy_from_slice(&qty.to_le_bytes());
        h.update(&rec);
    }
    let mut h = crc32fast::Hasher::new();
    for (px, qty) in bids {
        level(&mut h, b'B', px, qty);
    }
    for (px, qty) in asks {
        level(&mut h, b'A', px, qty);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_an_empty_book_is_zero() {
        assert_eq!(book_checksum([], []), 0);
    }

    #[test]
    fn checksum_matches_zlib_crc32_of_the_documented_bytes() {
        // zlib.crc32(b"B" + struct.pack("<qQ", 12864, 5) + b"A" + struct.pack("<qQ", -3, 7))
        let mut bytes = Vec::new();
        bytes.push(b'B');
        bytes.extend_from_slice(&12864i64.to_le_bytes());
        bytes.extend_from_slice(&5u64.to_le_bytes());
        bytes.push(b'A');
        bytes.extend_from_slice(&(-3i64).to_le_bytes());
        bytes.extend_from_slice(&7u64.to_le_bytes());
        assert_eq!(
            book_checksum([(12864, 5)], [(-3, 7)]),
            crc32fast::hash(&bytes)
        );
        // A level on the other side is a different book.
        assert_ne!(
            book_checksum([(12864, 5)], [(-3, 7)]),
            book_checksum([], [(12864, 5), (-3, 7)])
        );
    }

    #[test]
    fn requests_round_trip_with_their_op_tag() {
        let msg: ClientMsg = serde_json::from_str(
            r#"{"op":"new_order","cl_ord_id":"o-1","symbol":"UST-10Y","side":"buy","price_ticks":12864,"qty_lots":5,"req_id":"a"}"#,
        )
        .unwrap();
        let ClientMsg::NewOrder(o) = &msg else {
            panic!("not a new order: {msg:?}")
        };
        assert_eq!(o.price_ticks, Some(12864));
        assert_eq!(o.req_id, Some(ReqId::Str("a".to_owned())));
        let again: ClientMsg = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
        assert_eq!(again, msg);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<ClientMsg>(
            r#"{"op":"cancel","cl_ord_id":"c","orig_cl_ord_id":"o","prise":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `prise`"), "{err}");
    }
}
