//! Compact, versioned binary encodings of inputs (for the journal) and of the
//! whole engine state (for snapshots and [`crate::Engine::state_hash`]).
//!
//! All integers are little-endian. Decoding never panics and never allocates
//! more than the input could describe: every count is checked against the
//! bytes that remain, and every value against its domain.
//!
//! # Input, format version [`INPUT_FORMAT_VERSION`]
//! ```text
//! u8 tag: 1 NewOrder, 2 Cancel, 3 Replace, 4 MassCancel, 5 OrderStatus, 6 ClockTick,
//!         7 Checkpoint (encoding hash), 8 MassStatus, 9 Admin,
//!         10 Checkpoint (folded hash; format 2)
//! NewOrder:    u32 participant, u32 instrument, ClOrdId, u8 side, u8 ord_type,
//!              u8 tif, u8 flags (1 price, 2 stop price, 4 post-only, 8 expire),
//!              [i64 price], [i64 stop price], u64 qty, u64 display qty,
//!              u64 min qty, [u64 expire time ns]
//! Cancel:      u32 participant, ClOrdId, OrderRef
//! Replace:     u32 participant, ClOrdId, OrderRef, u64 qty,
//!              u8 flags (1 price, 2 stop price), [i64 price], [i64 stop price]
//! MassCancel:  u32 participant, ClOrdId, u8 flags (1 instrument, 2 side,
//!              4 time in force), [u32 instrument], [u8 side], [u8 tif]
//! OrderStatus: u32 participant, OrderRef
//! ClockTick:   nothing
//! Checkpoint:  u64 state hash (tag 7: `Engine::encoding_hash`, tag 10:
//!              `Engine::state_hash`)
//! MassStatus:  u32 participant, u8 flags (1 instrument, 2 side),
//!              [u32 instrument], [u8 side]
//! Admin:       u8 action (tag 9), then by action:
//!              1 SetPhase: u32 instrument, u8 phase
//!              2 KillSwitch: u32 participant, u8 engaged (0 or 1)
//!              3 MassCancel: u8 flags (1 participant, 2 instrument, 4 side),
//!                [u32 participant], [u32 instrument], [u8 side]
//!              4 SetCreditLimit: u32 participant, u32 instrument,
//!                u8 flags (1 limit), [u64 limit in tick-lots]
//!              5 SnapshotNow: nothing
//!              6 SetRateLimit: u32 participant, u32 per second, u32 burst
//! ClOrdId:     u8 length (0..=40), bytes (printable ASCII; length 0 only where
//!              an id is optional)
//! OrderRef:    u8 1 + ClOrdId, or u8 2 + u64 OrderId
//! ```
//! The whole payload must be consumed: trailing bytes are an error.
//!
//! # State, format version [`STATE_FORMAT_VERSION`]
//! A magic, the version, the counters, then per instrument (by id) its last
//! trade, its levels best first with their queues as OrderIds, and its stop
//! books in trigger-key order, its phase, the end of a volatility pause and
//! the volatility band's reference trades; then the live orders by OrderId;
//! then the finished orders in the order they finished (the order they will
//! be forgotten in), so that a restore streams them straight into place;
//! then the engaged kill switches by participant id, the credit limits by
//! (participant id, instrument id), and the operator's rate limits by
//! participant id. Open notional is derived: a restore
//! recomputes it from the orders. Each
//! order record carries its ClOrdIDs, current first, then the earlier ones
//! oldest first. Slab slots and hash tables are not written: they
//! are rebuilt, so that equal states encode to equal bytes.
//!
//! [`crate::Engine::state_hash`] hashes the same stream, except that the
//! finished orders' records are replaced by their count (u32) and the xxh3
//! (u64) of those records' encoding.

use std::collections::BTreeMap;
use std::fmt;
use xxhash_rust::xxh3::Xxh3;

use crate::book::{Level, NIL};
use crate::chunked::Chunked;
use crate::config::EngineConfig;
use crate::engine::{Engine, Order, Place};
use crate::event::{OrdStatus, Reason};
use crate::input::{
    AdminAction, Cancel, HashScheme, Input, MassCancel, MassStatusRequest, NewOrder, OrderRef,
    OrderStatusRequest, Replace,
};
use crate::reason::{CancelReason, RejectReason};
use crate::store::{DONE, DoneOrder, Loc, OrderStore};
use crate::types::{
    CL_ORD_ID_LEN_MAX, ClOrdId, InstrumentId, OrdType, OrderId, ParticipantId, Phase, Side,
    TimeInForce,
};

/// Version of the input encoding; the journal stores it in each frame header.
/// Version 2 added the folded-hash checkpoint (tag 10); otherwise it is
/// version 1, which this build still reads.
pub const INPUT_FORMAT_VERSION: u16 = 2;

/// The oldest input format version [`decode_input`] reads.
pub const INPUT_FORMAT_VERSION_OLDEST: u16 = 1;

/// Version of the state encoding, written after the magic.
pub const STATE_FORMAT_VERSION: u16 = 3;

/// The first bytes of an encoded state.
pub const STATE_MAGIC: [u8; 8] = *b"VENGSNAP";

/// Bytes that do not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what} at byte {offset}: {problem}")]
pub struct DecodeError {
    /// What was being decoded ("input", "state").
    pub what: &'static str,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub problem: &'static str,
}

/// Appends encodings to a buffer; with a hasher, the buffer is a window
/// that [`Writer::spill`] empties into it (the state hash is then computed
/// without the whole state ever being in memory at once).
struct Writer<'a, S: Sink = Vec<u8>>(&'a mut S, Option<&'a mut Xxh3>);

/// Where a [`Writer`] puts its bytes: a growing `Vec` (states, admin
/// inputs), or an [`InputBuf`] on the matching thread's stack.
trait Sink {
    fn put_u8(&mut self, v: u8);
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// How many bytes an [`InputBuf`] holds: every order input's encoding
/// (the largest, a replace of a 40-byte ClOrdID by another with both
/// prices, is 113 bytes) and
/// the usual admin inputs; a longer encoding overflows it and is made in a
/// `Vec` instead.
pub const INPUT_BUF_BYTES: usize = 256;

/// A fixed buffer the sequencer encodes each input into before the journal
/// copies it into its frame: the same bytes as [`encode_input`], without a
/// `Vec`'s capacity check and length update per field.
#[derive(Clone)]
pub struct InputBuf {
    bytes: [u8; INPUT_BUF_BYTES],
    /// Bytes written; `INPUT_BUF_BYTES + 1` once a write did not fit, so
    /// that no later, shorter write lands after the gap.
    len: usize,
}

impl Default for InputBuf {
    fn default() -> Self {
        InputBuf {
            bytes: [0; INPUT_BUF_BYTES],
            len: 0,
        }
    }
}

impl fmt::Debug for InputBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputBuf").field("len", &self.len).finish()
    }
}

impl InputBuf {
    /// Encodes `input` exactly as [`encode_input`] would; `None` if the
    /// encoding is longer than [`INPUT_BUF_BYTES`] (use [`encode_input`]).
    #[inline]
    pub fn encode(&mut self, input: &Input) -> Option<&[u8]> {
        self.len = 0;
        write_input(&mut Writer(self, None), input);
        self.bytes.get(..self.len)
    }
}

impl Sink for InputBuf {
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        if self.len < INPUT_BUF_BYTES {
            self.bytes[self.len] = v;
            self.len += 1;
        } else {
            self.len = INPUT_BUF_BYTES + 1;
        }
    }
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end <= INPUT_BUF_BYTES {
            self.bytes[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.len = INPUT_BUF_BYTES + 1;
        }
    }
}

/// How much a hashing [`Writer`] buffers before feeding its hasher.
const SPILL_BYTES: usize = 64 << 10;

impl Writer<'_> {
    /// With a hasher, hashes what is buffered once it is large enough.
    fn spill(&mut self) {
        if let Some(h) = self.1.as_deref_mut()
            && self.0.len() >= SPILL_BYTES
        {
            h.update(self.0);
            self.0.clear();
        }
    }
}

impl<S: Sink> Writer<'_, S> {
    #[inline(always)]
    fn u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
    #[inline(always)]
    fn u16(&mut self, v: u16) {
        self.0.put(&v.to_le_bytes());
    }
    #[inline(always)]
    fn u32(&mut self, v: u32) {
        self.0.put(&v.to_le_bytes());
    }
    #[inline(always)]
    fn u64(&mut self, v: u64) {
        self.0.put(&v.to_le_bytes());
    }
    #[inline(always)]
    fn i64(&mut self, v: i64) {
        self.0.put(&v.to_le_bytes());
    }
    #[inline(always)]
    fn cl_ord_id(&mut self, id: &ClOrdId) {
        self.u8(id.as_bytes().len() as u8);
        self.0.put(id.as_bytes());
    }
    fn order_ref(&mut self, r: &OrderRef) {
        match r {
            OrderRef::ClOrdId(id) => {
                self.u8(1);
                self.cl_ord_id(id);
            }
            OrderRef::OrderId(id) => {
                self.u8(2);
                self.u64(id.0);
            }
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        if let Some(v) = v {
            self.i64(v);
        }
    }
}

/// An order record's fixed part, built on the stack (see `write_order`).
struct Fixed {
    buf: [u8; ORDER_FIXED_MAX],
    len: usize,
}

/// The largest fixed part of an order record: ids, codes, flags, two
/// prices, six quantities, an expiry, the notional and the ClOrdID.
const ORDER_FIXED_MAX: usize = 8 + 4 + 4 + 5 + 1 + 2 * 8 + 6 * 8 + 8 + 16 + 1 + CL_ORD_ID_LEN_MAX;

impl Default for Fixed {
    fn default() -> Self {
        Fixed {
            buf: [0; ORDER_FIXED_MAX],
            len: 0,
        }
    }
}

impl Fixed {
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        self.slice(&bytes);
    }

    #[inline(always)]
    fn slice(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

type Res<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            what,
        }
    }

    fn err<T>(&self, problem: &'static str) -> Res<T> {
        Err(DecodeError {
            what: self.what,
            offset: self.pos,
            problem,
        })
    }

    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if self.bytes.len() - self.pos < n {
            return self.err("unexpected end of data");
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Res<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Res<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn i128(&mut self) -> Res<i128> {
        Ok(i128::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Res<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.err("boolean is neither 0 nor 1"),
        }
    }

    /// A count of items each at least `item_bytes_min` long: refuses counts
    /// the remaining bytes cannot hold, so a corrupt count cannot make us
    /// allocate without bound.
    fn count(&mut self, item_bytes_min: usize) -> Res<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_bytes_min.max(1)) > self.bytes.len() - self.pos {
            return self.err("count larger than the data");
        }
        Ok(n)
    }

    fn cl_ord_id_or_empty(&mut self) -> Res<ClOrdId> {
        let len = usize::from(self.u8()?);
        if len == 0 {
            return Ok(ClOrdId::EMPTY);
        }
        if len > CL_ORD_ID_LEN_MAX {
            return self.err("ClOrdID longer than 40 bytes");
        }
        let bytes = self.take(len)?;
        match ClOrdId::new(bytes) {
            Some(id) => Ok(id),
            None => self.err("ClOrdID is not printable ASCII"),
        }
    }

    fn cl_ord_id(&mut self) -> Res<ClOrdId> {
        let id = self.cl_ord_id_or_empty()?;
        if id.is_empty() {
            return self.err("empty ClOrdID");
        }
        Ok(id)
    }

    fn order_ref(&mut self) -> Res<OrderRef> {
        match self.u8()? {
            1 => Ok(OrderRef::ClOrdId(self.cl_ord_id()?)),
            2 => Ok(OrderRef::OrderId(OrderId(self.u64()?))),
            _ => self.err("unknown order reference kind"),
        }
    }

    /// The optional instrument (flag 1) and side (flag 2) of a mass cancel
    /// or mass status, in that order.
    fn instrument_and_side(
        &mut self,
        flags: u8,
    ) -> Result<(Option<InstrumentId>, Option<Side>), DecodeError> {
        let instrument = if flags & 1 != 0 {
            Some(InstrumentId(self.u32()?))
        } else {
            None
        };
        let side = if flags & 2 != 0 {
            Some(self.side()?)
        } else {
            None
        };
        Ok((instrument, side))
    }

    fn side(&mut self) -> Res<Side> {
        match Side::from_u8(self.u8()?) {
            Some(s) => Ok(s),
            None => self.err("unknown side"),
        }
    }

    fn opt_i64(&mut self, present: bool) -> Res<Option<i64>> {
        Ok(if present { Some(self.i64()?) } else { None })
    }

    fn finish(&self) -> Res<()> {
        if self.pos != self.bytes.len() {
            return self.err("trailing bytes");
        }
        Ok(())
    }
}

const IN_NEW: u8 = 1;
const IN_CANCEL: u8 = 2;
const IN_REPLACE: u8 = 3;
const IN_MASS_CANCEL: u8 = 4;
const IN_STATUS: u8 = 5;
const IN_TICK: u8 = 6;
const IN_CHECKPOINT: u8 = 7;
const IN_MASS_STATUS: u8 = 8;
const IN_ADMIN: u8 = 9;
const IN_CHECKPOINT_FOLDED: u8 = 10;

const ADMIN_PHASE: u8 = 1;
const ADMIN_KILL: u8 = 2;
const ADMIN_MASS_CANCEL: u8 = 3;
const ADMIN_CREDIT: u8 = 4;
const ADMIN_SNAPSHOT: u8 = 5;
const ADMIN_RATE: u8 = 6;

fn encode_admin<S: Sink>(w: &mut Writer<'_, S>, a: &AdminAction) {
    w.u8(IN_ADMIN);
    match *a {
        AdminAction::SetPhase { instrument, phase } => {
            w.u8(ADMIN_PHASE);
            w.u32(instrument.0);
            w.u8(phase as u8);
        }
        AdminAction::KillSwitch {
            participant,
            engaged,
        } => {
            w.u8(ADMIN_KILL);
            w.u32(participant.0);
            w.u8(u8::from(engaged));
        }
        AdminAction::MassCancel {
            participant,
            instrument,
            side,
        } => {
            w.u8(ADMIN_MASS_CANCEL);
            w.u8(u8::from(participant.is_some())
                | u8::from(instrument.is_some()) << 1
                | u8::from(side.is_some()) << 2);
            if let Some(p) = participant {
                w.u32(p.0);
            }
            if let Some(i) = instrument {
                w.u32(i.0);
            }
            if let Some(s) = side {
                w.u8(s as u8);
            }
        }
        AdminAction::SetCreditLimit {
            participant,
            instrument,
            max_open_notional_tick_lots,
        } => {
            w.u8(ADMIN_CREDIT);
            w.u32(participant.0);
            w.u32(instrument.0);
            w.u8(u8::from(max_open_notional_tick_lots.is_some()));
            if let Some(l) = max_open_notional_tick_lots {
                w.u64(l);
            }
        }
        AdminAction::SnapshotNow => w.u8(ADMIN_SNAPSHOT),
        AdminAction::SetRateLimit {
            participant,
            per_second,
            burst,
        } => {
            w.u8(ADMIN_RATE);
            w.u32(participant.0);
            w.u32(per_second);
            w.u32(burst);
        }
    }
}

fn decode_admin(r: &mut Reader<'_>) -> Res<AdminAction> {
    Ok(match r.u8()? {
        ADMIN_PHASE => {
            let instrument = InstrumentId(r.u32()?);
            let Some(phase) = Phase::from_u8(r.u8()?) else {
                return r.err("unknown trading phase");
            };
            AdminAction::SetPhase { instrument, phase }
        }
        ADMIN_KILL => AdminAction::KillSwitch {
            participant: ParticipantId(r.u32()?),
            engaged: r.bool()?,
        },
        ADMIN_MASS_CANCEL => {
            let flags = r.u8()?;
            if flags & !0b111 != 0 {
                return r.err("unknown flag bits");
            }
            let participant = if flags & 1 != 0 {
                Some(ParticipantId(r.u32()?))
            } else {
                None
            };
            let (instrument, side) = r.instrument_and_side(flags >> 1)?;
            AdminAction::MassCancel {
                participant,
                instrument,
                side,
            }
        }
        ADMIN_CREDIT => {
            let participant = ParticipantId(r.u32()?);
            let instrument = InstrumentId(r.u32()?);
            let max_open_notional_tick_lots = match r.u8()? {
                0 => None,
                1 => Some(r.u64()?),
                _ => return r.err("unknown flag bits"),
            };
            AdminAction::SetCreditLimit {
                participant,
                instrument,
                max_open_notional_tick_lots,
            }
        }
        ADMIN_SNAPSHOT => AdminAction::SnapshotNow,
        ADMIN_RATE => AdminAction::SetRateLimit {
            participant: ParticipantId(r.u32()?),
            per_second: r.u32()?,
            burst: r.u32()?,
        },
        _ => return r.err("unknown admin action"),
    })
}

/// Appends the encoding of `input` to `out`.
pub fn encode_input(input: &Input, out: &mut Vec<u8>) {
    write_input(&mut Writer(out, None), input);
}

/// The input encoding, into either kind of buffer.
#[inline(always)]
fn write_input<S: Sink>(w: &mut Writer<'_, S>, input: &Input) {
    match input {
        Input::NewOrder(o) => {
            w.u8(IN_NEW);
            w.u32(o.participant.0);
            w.u32(o.instrument.0);
            w.cl_ord_id(&o.cl_ord_id);
            w.u8(o.side as u8);
            w.u8(o.ord_type as u8);
            w.u8(o.tif as u8);
            let flags = u8::from(o.price_ticks.is_some())
                | u8::from(o.stop_price_ticks.is_some()) << 1
                | u8::from(o.post_only) << 2
                | u8::from(o.expire_time_ns.is_some()) << 3;
            w.u8(flags);
            w.opt_i64(o.price_ticks);
            w.opt_i64(o.stop_price_ticks);
            w.u64(o.qty_lots);
            w.u64(o.display_qty_lots);
            w.u64(o.min_qty_lots);
            if let Some(e) = o.expire_time_ns {
                w.u64(e);
            }
        }
        Input::Cancel(c) => {
            w.u8(IN_CANCEL);
            w.u32(c.participant.0);
            w.cl_ord_id(&c.cl_ord_id);
            w.order_ref(&c.target);
        }
        Input::Replace(r) => {
            w.u8(IN_REPLACE);
            w.u32(r.participant.0);
            w.cl_ord_id(&r.cl_ord_id);
            w.order_ref(&r.target);
            w.u64(r.qty_lots);
            w.u8(u8::from(r.price_ticks.is_some()) | u8::from(r.stop_price_ticks.is_some()) << 1);
            w.opt_i64(r.price_ticks);
            w.opt_i64(r.stop_price_ticks);
        }
        Input::MassCancel(m) => {
            w.u8(IN_MASS_CANCEL);
            w.u32(m.participant.0);
            w.cl_ord_id(&m.cl_ord_id);
            w.u8(u8::from(m.instrument.is_some())
                | u8::from(m.side.is_some()) << 1
                | u8::from(m.tif.is_some()) << 2);
            if let Some(i) = m.instrument {
                w.u32(i.0);
            }
            if let Some(s) = m.side {
                w.u8(s as u8);
            }
            if let Some(t) = m.tif {
                w.u8(t as u8);
            }
        }
        Input::OrderStatus(s) => {
            w.u8(IN_STATUS);
            w.u32(s.participant.0);
            w.order_ref(&s.target);
        }
        Input::MassStatus(m) => {
            w.u8(IN_MASS_STATUS);
            w.u32(m.participant.0);
            w.u8(u8::from(m.instrument.is_some()) | u8::from(m.side.is_some()) << 1);
            if let Some(i) = m.instrument {
                w.u32(i.0);
            }
            if let Some(s) = m.side {
                w.u8(s as u8);
            }
        }
        Input::ClockTick => w.u8(IN_TICK),
        Input::Checkpoint { state_hash, scheme } => {
            w.u8(match scheme {
                HashScheme::Encoding => IN_CHECKPOINT,
                HashScheme::Folded => IN_CHECKPOINT_FOLDED,
            });
            w.u64(*state_hash);
        }
        Input::Admin(a) => encode_admin(w, a),
    }
}

/// Decodes one input encoded by [`encode_input`].
///
/// # Errors
/// A [`DecodeError`] naming the offset and the problem: truncation, an
/// unknown tag or enum value, a bad ClOrdID, unknown flag bits, trailing bytes.
pub fn decode_input(bytes: &[u8]) -> Result<Input, DecodeError> {
    let mut r = Reader::new(bytes, "input");
    let input = match r.u8()? {
        IN_NEW => {
            let participant = ParticipantId(r.u32()?);
            let instrument = InstrumentId(r.u32()?);
            let cl_ord_id = r.cl_ord_id()?;
            let side = r.side()?;
            let Some(ord_type) = OrdType::from_u8(r.u8()?) else {
                return r.err("unknown order type");
            };
            let Some(tif) = TimeInForce::from_u8(r.u8()?) else {
                return r.err("unknown time in force");
            };
            let flags = r.u8()?;
            if flags & !0b1111 != 0 {
                return r.err("unknown flag bits");
            }
            let price_ticks = r.opt_i64(flags & 1 != 0)?;
            let stop_price_ticks = r.opt_i64(flags & 2 != 0)?;
            let qty_lots = r.u64()?;
            let display_qty_lots = r.u64()?;
            let min_qty_lots = r.u64()?;
            let expire_time_ns = if flags & 8 != 0 { Some(r.u64()?) } else { None };
            Input::NewOrder(NewOrder {
                participant,
                instrument,
                cl_ord_id,
                side,
                ord_type,
                tif,
                price_ticks,
                stop_price_ticks,
                qty_lots,
                display_qty_lots,
                min_qty_lots,
                post_only: flags & 4 != 0,
                expire_time_ns,
            })
        }
        IN_CANCEL => Input::Cancel(Cancel {
            participant: ParticipantId(r.u32()?),
            cl_ord_id: r.cl_ord_id()?,
            target: r.order_ref()?,
        }),
        IN_REPLACE => {
            let participant = ParticipantId(r.u32()?);
            let cl_ord_id = r.cl_ord_id()?;
            let target = r.order_ref()?;
            let qty_lots = r.u64()?;
            let flags = r.u8()?;
            if flags & !0b11 != 0 {
                return r.err("unknown flag bits");
            }
            Input::Replace(Replace {
                participant,
                cl_ord_id,
                target,
                qty_lots,
                price_ticks: r.opt_i64(flags & 1 != 0)?,
                stop_price_ticks: r.opt_i64(flags & 2 != 0)?,
            })
        }
        IN_MASS_CANCEL => {
            let participant = ParticipantId(r.u32()?);
            let cl_ord_id = r.cl_ord_id_or_empty()?;
            let flags = r.u8()?;
            if flags & !0b111 != 0 {
                return r.err("unknown flag bits");
            }
            let (instrument, side) = r.instrument_and_side(flags)?;
            let tif = if flags & 4 != 0 {
                match TimeInForce::from_u8(r.u8()?) {
                    Some(t) => Some(t),
                    None => return r.err("unknown time in force"),
                }
            } else {
                None
            };
            Input::MassCancel(MassCancel {
                participant,
                cl_ord_id,
                instrument,
                side,
                tif,
            })
        }
        IN_STATUS => Input::OrderStatus(OrderStatusRequest {
            participant: ParticipantId(r.u32()?),
            target: r.order_ref()?,
        }),
        IN_MASS_STATUS => {
            let participant = ParticipantId(r.u32()?);
            let flags = r.u8()?;
            if flags & !0b11 != 0 {
                return r.err("unknown flag bits");
            }
            let (instrument, side) = r.instrument_and_side(flags)?;
            Input::MassStatus(MassStatusRequest {
                participant,
                instrument,
                side,
            })
        }
        IN_TICK => Input::ClockTick,
        IN_CHECKPOINT => Input::Checkpoint {
            state_hash: r.u64()?,
            scheme: HashScheme::Encoding,
        },
        IN_CHECKPOINT_FOLDED => Input::Checkpoint {
            state_hash: r.u64()?,
            scheme: HashScheme::Folded,
        },
        IN_ADMIN => Input::Admin(decode_admin(&mut r)?),
        _ => return r.err("unknown input tag"),
    };
    r.finish()?;
    Ok(input)
}

// ----- state ----------------------------------------------------------------

fn place_code(p: Place) -> u8 {
    match p {
        Place::Resting => 1,
        Place::Stop => 2,
        Place::Done => 3,
        Place::Incoming | Place::Free => 0,
    }
}

fn status_code(s: OrdStatus) -> u8 {
    s as u8
}

fn status_from(v: u8) -> Option<OrdStatus> {
    OrdStatus::ALL.into_iter().find(|s| *s as u8 == v)
}

fn write_reason(w: &mut Writer<'_>, r: Reason) {
    match r {
        Reason::None => {
            w.u8(0);
            w.u16(0);
        }
        Reason::Reject(x) => {
            w.u8(1);
            w.u16(x.code());
        }
        Reason::Cancel(x) => {
            w.u8(2);
            w.u16(x.code());
        }
    }
}

fn read_reason(r: &mut Reader<'_>) -> Res<Reason> {
    let kind = r.u8()?;
    let code = r.u16()?;
    match kind {
        0 if code == 0 => Ok(Reason::None),
        1 => match RejectReason::from_code(code) {
            Some(x) => Ok(Reason::Reject(x)),
            None => r.err("unknown reject reason"),
        },
        2 => match CancelReason::from_code(code) {
            Some(x) => Ok(Reason::Cancel(x)),
            None => r.err("unknown cancel reason"),
        },
        _ => r.err("unknown reason kind"),
    }
}

/// Most order ids a snapshot's finished orders may span (2^28: far beyond a
/// day's orders, far below what would exhaust memory).
const LOCATOR_SPAN_MAX: u64 = 1 << 28;

/// Minimum encoded size of one order record, for count checks.
const ORDER_BYTES_MIN: usize = 8 + 4 + 4 + 3 + 3 + 1 + 6 * 8 + 16 + 1 + 4 + 3 + 8;

/// The state hash of an encoded state: what [`crate::Engine::state_hash`]
/// returns for the engine that [`crate::Engine::snapshot`] encoded.
#[must_use]
pub fn state_hash_of(encoded_state: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(encoded_state)
}

/// Appends the canonical encoding of the engine's state to `out`.
pub(crate) fn encode_state(e: &Engine, out: &mut Vec<u8>) {
    write_state(&mut Writer(out, None), e, Finished::Records);
}

/// [`state_hash_of`] the state's encoding, computed as it is written, through
/// a 64 KiB window: a checkpoint on a large day neither allocates nor faults
/// in a copy of the whole state.
pub(crate) fn hash_state(e: &Engine) -> u64 {
    let mut window = Vec::with_capacity(2 * SPILL_BYTES);
    let mut hasher = Xxh3::new();
    write_state(
        &mut Writer(&mut window, Some(&mut hasher)),
        e,
        Finished::Records,
    );
    hasher.update(&window);
    hasher.digest()
}

/// [`crate::Engine::state_hash`]: the stream [`hash_state`] hashes, with
/// the finished orders' records replaced by their count and the xxh3 of
/// their encoding (carried forward in the engine's digest over the folded
/// ones, computed here over the rest).
pub(crate) fn hash_state_folded(e: &Engine) -> u64 {
    let digest = &e.finished_digest;
    let len = e.store.done_len();
    debug_assert!(digest.folded <= len, "folded beyond the queue");
    let mut finished = digest.hasher.clone();
    fold_finished(e, digest.folded.min(len)..len, &mut finished);
    let mut window = Vec::with_capacity(2 * SPILL_BYTES);
    let mut hasher = Xxh3::new();
    write_state(
        &mut Writer(&mut window, Some(&mut hasher)),
        e,
        Finished::Digest(finished.digest()),
    );
    hasher.update(&window);
    hasher.digest()
}

/// Feeds `hasher` the encoding of the finished queue's records at `range`,
/// as [`encode_state`] writes them.
pub(crate) fn fold_finished(e: &Engine, range: std::ops::Range<usize>, hasher: &mut Xxh3) {
    let mut window = Vec::with_capacity(2 * SPILL_BYTES);
    write_finished(&mut Writer(&mut window, Some(&mut *hasher)), e, range);
    hasher.update(&window);
}

/// How [`write_state`] writes the finished orders.
#[derive(Clone, Copy)]
enum Finished {
    /// Every record (the encoding).
    Records,
    /// Their count and the xxh3 of their records (the folded state hash).
    Digest(u64),
}

/// How many records ahead the state's writer prefetches (see `prefetch.rs`):
/// the orders it writes in id order lie at random in the live slab, and each
/// order's ClOrdID entry at random in the index.
const AHEAD: usize = 16;

/// How many price levels' queues are walked at once.
const QUEUE_WALKERS: usize = 8;

/// The order ids of each level's queue, front to back, into `queues`. A
/// queue is a linked list through the live slab, each step a likely cache
/// miss that the next step waits for; walking several queues in turn, each
/// step prefetching that queue's next order, keeps that many misses in
/// flight instead of one.
fn walk_queues(e: &Engine, levels: &[&Level], queues: &mut [Vec<u64>]) {
    let mut at = [NIL; QUEUE_WALKERS];
    for ((cursor, level), ids) in at.iter_mut().zip(levels).zip(queues.iter_mut()) {
        *cursor = level.head;
        ids.clear();
    }
    let mut walking = levels.len();
    while walking > 0 {
        walking = 0;
        for (cursor, ids) in at.iter_mut().zip(queues.iter_mut()) {
            if *cursor == NIL {
                continue;
            }
            let o = e.store.live(*cursor);
            ids.push(o.id.0);
            *cursor = o.next;
            if o.next != NIL {
                e.store.prefetch_live(o.next);
                walking += 1;
            }
        }
    }
}

fn write_state(w: &mut Writer<'_>, e: &Engine, finished: Finished) {
    w.0.extend_from_slice(&STATE_MAGIC);
    w.u16(STATE_FORMAT_VERSION);
    w.u64(e.next_order_id);
    w.u64(e.next_trade_id);
    let id_of = |slot: u32| e.store.live(slot).id.0;
    let mut queues = vec![Vec::new(); QUEUE_WALKERS];

    let mut insts: Vec<usize> = (0..e.instruments.len()).collect();
    insts.sort_unstable_by_key(|&i| e.instruments[i].spec.id);
    w.u32(insts.len() as u32);
    for i in insts {
        let inst = &e.instruments[i];
        w.u32(inst.spec.id.0);
        match inst.last_trade_ticks {
            Some(p) => {
                w.u8(1);
                w.i64(p);
            }
            None => w.u8(0),
        }
        for side in [Side::Buy, Side::Sell] {
            let book = inst.book(side);
            w.u32(book.len() as u32);
            let levels: Vec<&Level> = book.levels_best_first().collect();
            for group in levels.chunks(QUEUE_WALKERS) {
                walk_queues(e, group, &mut queues);
                for (level, ids) in group.iter().zip(&queues) {
                    w.i64(level.price_ticks);
                    w.u32(level.order_count);
                    for &id in ids {
                        w.u64(id);
                    }
                    w.spill();
                }
            }
        }
        for stops in [&inst.buy_stops, &inst.sell_stops] {
            w.u32(stops.len() as u32);
            for &slot in stops.values() {
                w.u64(id_of(slot));
            }
        }
        w.u8(inst.phase as u8);
        w.u64(inst.resume_at_ns);
        w.u8(inst.scheduled.map_or(0, |p| p as u8));
        for q in [&inst.vol.lows, &inst.vol.highs] {
            w.u32(q.len() as u32);
            for &(t, p) in q {
                w.u64(t);
                w.i64(p);
            }
        }
    }

    // Live orders by id, then finished orders in the order they finished
    // (the order they are forgotten in: part of the state).
    // Each record's memory is asked for AHEAD records before it is written
    // (for a live order, its slot twice as far ahead: the slot must be in
    // the cache before its ClOrdID entry's number can be read).
    let mut live: Vec<(OrderId, u32)> = e.store.live_orders().map(|(s, o)| (o.id, s)).collect();
    live.sort_unstable();
    let mut older = Vec::new();
    w.u32(live.len() as u32);
    let mut far = live.iter().skip(2 * AHEAD);
    let mut near = live.iter().skip(AHEAD);
    for &(_, slot) in &live {
        if let Some(&(_, s)) = far.next() {
            e.store.prefetch_live(s);
        }
        if let Some(&(_, s)) = near.next() {
            e.cl_index.prefetch_entry(e.store.live(s).cl_entry);
        }
        write_order(w, e, e.store.live(slot), &mut older);
    }
    w.u32(e.store.done_len() as u32);
    match finished {
        Finished::Records => write_finished(w, e, 0..e.store.done_len()),
        Finished::Digest(digest) => w.u64(digest),
    }

    let mut killed: Vec<u32> = e
        .config
        .participants
        .iter()
        .filter(|p| e.kill_switch_engaged(p.id))
        .map(|p| p.id.0)
        .collect();
    killed.sort_unstable();
    w.u32(killed.len() as u32);
    for id in killed {
        w.u32(id);
    }
    let mut limits = Vec::new();
    for p in &e.config.participants {
        for i in &e.config.instruments {
            if let Some((_, Some(limit))) = e.credit(p.id, i.id) {
                limits.push((p.id.0, i.id.0, limit));
            }
        }
    }
    limits.sort_unstable();
    w.u32(limits.len() as u32);
    for (p, i, limit) in limits {
        w.u32(p);
        w.u32(i);
        w.u64(limit);
    }
    let mut rates: Vec<(u32, u32, u32)> = e
        .config
        .participants
        .iter()
        .filter_map(|p| e.rate_limit(p.id).map(|(r, b)| (p.id.0, r, b)))
        .collect();
    rates.sort_unstable();
    w.u32(rates.len() as u32);
    for (p, r, b) in rates {
        w.u32(p);
        w.u32(r);
        w.u32(b);
    }
}

/// The finished queue's records at `range`, in queue order. Each record and
/// its ClOrdID entry are asked for ahead (the records lie in order, the
/// entries at random).
fn write_finished(w: &mut Writer<'_>, e: &Engine, range: std::ops::Range<usize>) {
    let mut older = Vec::new();
    for i in range.clone() {
        if i + 2 * AHEAD < range.end
            && let Some(f) = e.store.done_at(i + 2 * AHEAD)
        {
            crate::prefetch::prefetch_all(f);
        }
        if i + AHEAD < range.end
            && let Some(n) = e.store.done_at(i + AHEAD)
        {
            e.cl_index.prefetch_entry(n.cl_entry);
        }
        let Some(d) = e.store.done_at(i) else { break };
        let o = d.into_order(
            e.cl_index.entry(d.cl_entry).cl_ord_id,
            e.instruments[d.inst as usize].spec.id,
        );
        write_order(w, e, &o, &mut older);
    }
}

fn write_order(w: &mut Writer<'_>, e: &Engine, o: &Order, older: &mut Vec<ClOrdId>) {
    debug_assert!(o.place != Place::Incoming, "state encoded inside apply");
    // The fixed part is assembled on the stack and appended at once: a
    // checkpoint writes every order finished today, millions on a busy day.
    let mut f = Fixed::default();
    f.put(o.id.0.to_le_bytes());
    f.put(o.participant.0.to_le_bytes());
    f.put(o.instrument.0.to_le_bytes());
    f.put([
        o.side as u8,
        o.ord_type as u8,
        o.tif as u8,
        place_code(o.place),
        status_code(o.status),
    ]);
    let flags = u8::from(o.post_only)
        | u8::from(o.triggered) << 1
        | u8::from(o.price_ticks.is_some()) << 2
        | u8::from(o.stop_price_ticks.is_some()) << 3
        | u8::from(o.expire_time_ns.is_some()) << 4;
    f.put([flags]);
    if let Some(p) = o.price_ticks {
        f.put(p.to_le_bytes());
    }
    if let Some(p) = o.stop_price_ticks {
        f.put(p.to_le_bytes());
    }
    for q in [
        o.qty_lots,
        o.cum_qty_lots,
        o.leaves_qty_lots,
        o.visible_qty_lots,
        o.display_qty_lots,
        o.min_qty_lots,
    ] {
        f.put(q.to_le_bytes());
    }
    if let Some(x) = o.expire_time_ns {
        f.put(x.to_le_bytes());
    }
    f.put(o.cum_notional_tick_lots.to_le_bytes());
    f.put([o.cl_ord_id.as_bytes().len() as u8]);
    f.slice(o.cl_ord_id.as_bytes());
    w.0.extend_from_slice(f.bytes());
    // The chain starts with the current id; the earlier ones follow it.
    older.clear();
    older.extend(e.cl_index.chain(o.cl_entry).skip(1).map(|c| c.cl_ord_id));
    w.u32(older.len() as u32);
    for id in older.iter().rev() {
        w.cl_ord_id(id);
    }
    write_reason(w, o.reason);
    w.u64(o.done_time_ns);
    w.spill();
}

/// Rebuilds an engine from `bytes` written by [`encode_state`] and `config`.
pub(crate) fn decode_state(config: EngineConfig, bytes: &[u8]) -> Result<Engine, SnapshotError> {
    let mut e = Engine::new(config).map_err(SnapshotError::Config)?;
    let mut r = Reader::new(bytes, "state");
    let bad = |r: &Reader<'_>, problem| {
        SnapshotError::Decode(DecodeError {
            what: "state",
            offset: r.pos,
            problem,
        })
    };
    if r.array::<8>()? != STATE_MAGIC {
        return Err(bad(&r, "not an engine state (bad magic)"));
    }
    if r.u16()? != STATE_FORMAT_VERSION {
        return Err(bad(&r, "unsupported state format version"));
    }
    e.next_order_id = r.u64()?;
    e.next_trade_id = r.u64()?;
    if e.next_order_id == 0 || e.next_trade_id == 0 {
        return Err(bad(&r, "counters start at 1"));
    }

    // Instruments: queues and stop books as OrderIds, resolved after the orders.
    struct Queues {
        inst: usize,
        levels: Vec<(Side, i64, Vec<u64>)>,
        stops: [Vec<u64>; 2],
    }
    let n_inst = r.count(5)?;
    let mut queues = Vec::with_capacity(n_inst);
    for _ in 0..n_inst {
        let id = InstrumentId(r.u32()?);
        let Some(inst) = e.instruments.iter().position(|i| i.spec.id == id) else {
            return Err(SnapshotError::UnknownInstrument { id: id.0 });
        };
        e.instruments[inst].last_trade_ticks = if r.bool()? { Some(r.i64()?) } else { None };
        let mut q = Queues {
            inst,
            levels: Vec::new(),
            stops: [Vec::new(), Vec::new()],
        };
        for side in [Side::Buy, Side::Sell] {
            let n_levels = r.count(12)?;
            for _ in 0..n_levels {
                let price = r.i64()?;
                let n = r.count(8)?;
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(r.u64()?);
                }
                q.levels.push((side, price, ids));
            }
        }
        for stops in &mut q.stops {
            let n = r.count(8)?;
            for _ in 0..n {
                stops.push(r.u64()?);
            }
        }
        let inst_state = &mut e.instruments[inst];
        let Some(phase) = Phase::from_u8(r.u8()?) else {
            return Err(bad(&r, "unknown trading phase"));
        };
        inst_state.phase = phase;
        inst_state.resume_at_ns = r.u64()?;
        inst_state.scheduled = match r.u8()? {
            0 => None,
            v => match Phase::from_u8(v) {
                Some(p) => Some(p),
                None => return Err(bad(&r, "unknown scheduled phase")),
            },
        };
        for increasing in [true, false] {
            let n = r.count(16)?;
            let mut q = std::collections::VecDeque::with_capacity(n);
            for _ in 0..n {
                let (t, p) = (r.u64()?, r.i64()?);
                if let Some(&(_, prev)) = q.back()
                    && (if increasing { prev >= p } else { prev <= p })
                {
                    return Err(bad(&r, "volatility references out of order"));
                }
                q.push_back((t, p));
            }
            if increasing {
                inst_state.vol.lows = q;
            } else {
                inst_state.vol.highs = q;
            }
        }
        queues.push(q);
    }

    // Orders are indexed by ClOrdID as they are read, each one AHEAD orders
    // after its record (the table lines lie at random: each is asked for
    // when its order is read, and is in the cache by its insert).
    let mut window = IndexWindow::default();
    let n_live = r.count(ORDER_BYTES_MIN)?;
    e.cl_index.reserve(n_live);
    let mut live: Vec<Order> = Vec::with_capacity(n_live);
    let mut previous = None;
    for slot in 0..n_live {
        let p = read_order(&mut r, &e, slot as Loc)?;
        if previous.is_some_and(|id| id >= p.order.id) {
            return Err(bad(&r, "live orders out of order"));
        }
        previous = Some(p.order.id);
        if p.order.place == Place::Done {
            return Err(bad(&r, "a finished order among the live ones"));
        }
        if let Some(o) = window.push(&mut e, p).map_err(|m| bad(&r, m))? {
            live.push(o);
        }
    }
    while let Some(o) = window.pop(&mut e).map_err(|m| bad(&r, m))? {
        live.push(o);
    }
    // Finished orders go straight into the store's queue: a large day's
    // are most of the snapshot, and a copy through a `Vec` would write
    // their memory twice.
    let n_done = r.count(ORDER_BYTES_MIN)?;
    e.cl_index.reserve(n_done);
    let mut done = Chunked::for_expected(e.config.orders_capacity.max(n_done));
    for i in 0..n_done {
        let p = read_order(&mut r, &e, DONE | i as Loc)?;
        if p.order.place != Place::Done {
            return Err(bad(&r, "a live order among the finished ones"));
        }
        if let Some(o) = window.push(&mut e, p).map_err(|m| bad(&r, m))? {
            done.push(DoneOrder::from_order(&o));
        }
    }
    while let Some(o) = window.pop(&mut e).map_err(|m| bad(&r, m))? {
        done.push(DoneOrder::from_order(&o));
    }
    let n_killed = r.count(4)?;
    for _ in 0..n_killed {
        let p = ParticipantId(r.u32()?);
        let Some(a) = e.account(p) else {
            return Err(bad(&r, "kill switch of an unknown participant"));
        };
        e.killed[a] = true;
    }
    for c in &mut e.credit {
        c.limit = None;
    }
    let n_limits = r.count(16)?;
    for _ in 0..n_limits {
        let (p, i, limit) = (ParticipantId(r.u32()?), InstrumentId(r.u32()?), r.u64()?);
        if !e.set_credit_limit(p, i, Some(limit)) {
            return Err(bad(
                &r,
                "credit limit of an unknown participant or instrument",
            ));
        }
    }
    let n_rates = r.count(12)?;
    for _ in 0..n_rates {
        let (p, rate, burst) = (ParticipantId(r.u32()?), r.u32()?, r.u32()?);
        let Some(a) = e.account(p) else {
            return Err(bad(&r, "rate limit of an unknown participant"));
        };
        if rate == 0 || burst == 0 {
            return Err(bad(&r, "a rate limit of zero"));
        }
        e.rates[a] = Some((rate, burst));
    }
    r.finish()?;
    let mut ids: Vec<u64> = live
        .iter()
        .map(|o| o.id.0)
        .chain(done.iter().map(|d| d.id.0))
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|p| p[0] == p[1]) {
        return Err(bad(&r, "an order id appears twice"));
    }
    // The OrderID locator spans the ids from the oldest finished order on; a
    // corrupt counter must not make it allocate without bound.
    let span = done
        .iter()
        .map(|o| e.next_order_id - o.id.0)
        .max()
        .unwrap_or(0);
    if span > LOCATOR_SPAN_MAX {
        return Err(bad(
            &r,
            "finished orders span more order ids than a day can hold",
        ));
    }
    let capacity = e.config.orders_capacity;
    let (store, locs) = OrderStore::rebuild(live, done, e.next_order_id, capacity);
    e.store = store;
    for (slot, o) in e.store.live_orders() {
        if let Some(x) = o.expire_time_ns {
            e.expiries.insert((x, o.id), slot);
        }
    }
    // Live orders' locations by id (they come first in `locs`, sorted).
    let live_locs = &locs[..n_live];
    let find = |id: u64| {
        live_locs
            .binary_search_by_key(&id, |(o, _)| o.0)
            .ok()
            .map(|i| live_locs[i].1)
    };

    // Put resting orders into their levels and stops into their books, each
    // exactly once and where its own record says it belongs.
    let mut placed: BTreeMap<u64, ()> = BTreeMap::new();
    for q in queues {
        for (side, price, ids) in q.levels {
            if ids.is_empty() {
                return Err(bad(&r, "empty price level"));
            }
            for id in ids {
                let Some(loc) = find(id) else {
                    return Err(bad(&r, "level names an unknown order"));
                };
                if loc & DONE != 0 {
                    return Err(bad(&r, "a finished order in a level or stop book"));
                }
                let o = *e.store.live(loc);
                if placed.insert(id, ()).is_some()
                    || o.place != Place::Resting
                    || o.inst as usize != q.inst
                    || o.side != side
                    || o.price_ticks != Some(price)
                {
                    return Err(bad(&r, "level holds an order that does not belong there"));
                }
                let level = e.instruments[q.inst].book_mut(side).level_or_insert(price);
                level.push_back(e.store.slab_mut(), loc, o.visible_qty_lots);
            }
        }
        for (side, ids) in [Side::Buy, Side::Sell].into_iter().zip(q.stops) {
            for id in ids {
                let Some(loc) = find(id) else {
                    return Err(bad(&r, "stop book names an unknown order"));
                };
                if loc & DONE != 0 {
                    return Err(bad(&r, "a finished order in a level or stop book"));
                }
                let o = *e.store.live(loc);
                if placed.insert(id, ()).is_some()
                    || o.place != Place::Stop
                    || o.inst as usize != q.inst
                    || o.side != side
                {
                    return Err(bad(
                        &r,
                        "stop book holds an order that does not belong there",
                    ));
                }
                let key = (o.stop_price_ticks.unwrap_or(0), o.id);
                let inst = &mut e.instruments[q.inst];
                let stops = match side {
                    Side::Buy => &mut inst.buy_stops,
                    Side::Sell => &mut inst.sell_stops,
                };
                stops.insert(key, loc);
            }
        }
    }
    if placed.len() != n_live {
        return Err(bad(&r, "live order in no level or stop book"));
    }
    e.recompute_open();
    Ok(e)
}

/// An order record read from a state, to be indexed by its ClOrdIDs.
struct Parsed {
    order: Order,
    /// Its earlier ClOrdIDs, oldest first (the current one is the order's).
    older: Vec<ClOrdId>,
    /// Where it will be: its live slot, or `DONE` and its queue position.
    loc: Loc,
}

impl Parsed {
    /// Asks for the ClOrdID table lines its insert will read.
    fn prefetch(&self, e: &Engine) {
        for cl in self.older.iter().chain([&self.order.cl_ord_id]) {
            e.cl_index.prefetch(self.order.participant, cl);
        }
    }
}

/// Orders read and not yet indexed: each is indexed AHEAD records after it
/// was read and its table lines asked for.
#[derive(Default)]
struct IndexWindow(std::collections::VecDeque<Parsed>);

impl IndexWindow {
    /// Takes a read order; returns, indexed, the one AHEAD before it.
    fn push(&mut self, e: &mut Engine, p: Parsed) -> Result<Option<Order>, &'static str> {
        p.prefetch(e);
        self.0.push_back(p);
        if self.0.len() > AHEAD {
            self.pop(e)
        } else {
            Ok(None)
        }
    }

    /// The oldest order waiting, indexed.
    fn pop(&mut self, e: &mut Engine) -> Result<Option<Order>, &'static str> {
        self.0.pop_front().map(|p| index_order(e, p)).transpose()
    }
}

/// Enters a read order's ClOrdIDs into the index (oldest first, each chained
/// to the one before); returns the order with its chain's head.
fn index_order(e: &mut Engine, p: Parsed) -> Result<Order, &'static str> {
    let Parsed {
        mut order,
        older,
        loc,
    } = p;
    let mut head = NIL;
    for cl in older.into_iter().chain([order.cl_ord_id]) {
        head = e
            .cl_index
            .insert_if_absent(order.participant, cl, loc, head)
            .ok_or("ClOrdID used twice")?;
    }
    order.cl_entry = head;
    Ok(order)
}

/// Reads one order record (live or finished), to be at `loc`.
fn read_order(r: &mut Reader<'_>, e: &Engine, loc: Loc) -> Result<Parsed, SnapshotError> {
    let bad = |r: &Reader<'_>, problem| {
        SnapshotError::Decode(DecodeError {
            what: "state",
            offset: r.pos,
            problem,
        })
    };
    let id = r.u64()?;
    if id == 0 || id >= e.next_order_id {
        return Err(bad(r, "order id beyond the counter"));
    }
    let participant = ParticipantId(r.u32()?);
    let instrument = InstrumentId(r.u32()?);
    let Some(inst) = e.instruments.iter().position(|i| i.spec.id == instrument) else {
        return Err(SnapshotError::UnknownInstrument { id: instrument.0 });
    };
    let side = r.side()?;
    let Some(ord_type) = OrdType::from_u8(r.u8()?) else {
        return Err(bad(r, "unknown order type"));
    };
    let Some(tif) = TimeInForce::from_u8(r.u8()?) else {
        return Err(bad(r, "unknown time in force"));
    };
    let place = match r.u8()? {
        1 => Place::Resting,
        2 => Place::Stop,
        3 => Place::Done,
        _ => return Err(bad(r, "unknown order place")),
    };
    let Some(status) = status_from(r.u8()?) else {
        return Err(bad(r, "unknown order status"));
    };
    let flags = r.u8()?;
    if flags & !0b1_1111 != 0 {
        return Err(bad(r, "unknown flag bits"));
    }
    let price_ticks = r.opt_i64(flags & 4 != 0)?;
    let stop_price_ticks = r.opt_i64(flags & 8 != 0)?;
    let qty_lots = r.u64()?;
    let cum_qty_lots = r.u64()?;
    let leaves_qty_lots = r.u64()?;
    let visible_qty_lots = r.u64()?;
    let display_qty_lots = r.u64()?;
    let min_qty_lots = r.u64()?;
    let expire_time_ns = if flags & 16 != 0 {
        Some(r.u64()?)
    } else {
        None
    };
    let cum_notional_tick_lots = r.i128()?;
    let cl_ord_id = r.cl_ord_id()?;
    let n_older = r.count(2)?;
    let mut older = Vec::with_capacity(n_older);
    for _ in 0..n_older {
        older.push(r.cl_ord_id()?);
    }
    let reason = read_reason(r)?;
    let done_time_ns = r.u64()?;
    let live = matches!(place, Place::Resting | Place::Stop);
    if live != status.is_live()
        || cum_qty_lots > qty_lots
        || (live && leaves_qty_lots != qty_lots - cum_qty_lots)
        || (!live && leaves_qty_lots != 0)
        || visible_qty_lots > leaves_qty_lots
        || (place == Place::Resting && (price_ticks.is_none() || visible_qty_lots == 0))
        || (place == Place::Stop && stop_price_ticks.is_none())
    {
        return Err(bad(r, "inconsistent order record"));
    }
    let order = Order {
        id: OrderId(id),
        participant,
        instrument,
        inst: inst as u32,
        side,
        ord_type,
        tif,
        place,
        status,
        post_only: flags & 1 != 0,
        triggered: flags & 2 != 0,
        price_ticks,
        stop_price_ticks,
        qty_lots,
        cum_qty_lots,
        leaves_qty_lots,
        visible_qty_lots,
        display_qty_lots,
        min_qty_lots,
        expire_time_ns,
        cum_notional_tick_lots,
        cl_ord_id,
        cl_entry: NIL,
        reason,
        done_time_ns,
        prev: NIL,
        next: NIL,
    };
    Ok(Parsed { order, older, loc })
}

/// A snapshot that cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(crate::config::ConfigError),
    /// The snapshot names an instrument the configuration does not have.
    #[error("snapshot has instrument id {id}, which the configuration does not define")]
    UnknownInstrument {
        /// The id.
        id: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{OrderRef, Replace};
    use crate::types::{CL_ORD_ID_LEN_MAX, ParticipantId};

    #[test]
    fn the_longest_order_input_fits_the_fixed_buffer() {
        let id = ClOrdId::new(&[b'x'; CL_ORD_ID_LEN_MAX]).expect("valid id");
        let input = Input::Replace(Replace {
            participant: ParticipantId(u32::MAX),
            cl_ord_id: id,
            target: OrderRef::ClOrdId(id),
            qty_lots: u64::MAX,
            price_ticks: Some(i64::MIN),
            stop_price_ticks: Some(i64::MAX),
        });
        let mut bytes = Vec::new();
        encode_input(&input, &mut bytes);
        assert_eq!(bytes.len(), 113);
        assert_eq!(InputBuf::default().encode(&input), Some(&bytes[..]));
    }

    #[test]
    fn an_encoding_that_overflows_the_fixed_buffer_is_refused_whole() {
        let mut buf = InputBuf::default();
        let mut w = Writer(&mut buf, None);
        w.0.put(&[1; INPUT_BUF_BYTES - 4]);
        w.u64(7); // does not fit
        w.u8(9); // would fit in the gap, and must not land there
        assert_eq!(buf.len, INPUT_BUF_BYTES + 1);
        assert_eq!(buf.bytes.get(..buf.len), None);
        // The next encoding starts afresh.
        assert_eq!(buf.encode(&Input::ClockTick).map(<[u8]>::len), Some(1));
    }
}
