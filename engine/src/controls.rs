//! Operator controls and the pre-trade controls beyond one order's own
//! fields: trading phases, the kill switch, credit limits (open notional),
//! the volatility interruption, and the admin actions that set them.
//!
//! Everything here is engine state changed only by journaled inputs (an
//! [`AdminAction`], a trade, a clock tick), so a replay reaches the same
//! phases, limits and halts at the same sequence numbers.
//!
//! Open notional is kept per (participant, instrument) as the sum of
//! `|price| × leaves` over the participant's resting orders and parked stops
//! (a stop at its limit price, a stop-market at its stop price). An order
//! being matched is not open; what it leaves resting is. The sums are
//! derived state: a snapshot does not carry them, a restore recomputes them.

use std::collections::VecDeque;

use crate::engine::{Engine, Order, Place};
use crate::event::{AdminReport, Event, EventSink, InstrumentStatus, StatusCause};
use crate::input::AdminAction;
use crate::reason::{CancelReason, RejectReason};
use crate::types::{
    ClOrdId, InstrumentId, OrdType, ParticipantId, Phase, PriceTicks, QtyLots, TimeNs,
};

/// One participant's credit on one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Credit {
    /// Largest open notional in tick-lots; `None` for no limit.
    pub(crate) limit: Option<u64>,
    /// Open notional now, in tick-lots.
    pub(crate) open: u128,
}

/// Trades that count as references for the volatility band: two monotonic
/// queues of (time, price) over the window, so that the lowest and highest
/// reference are at their fronts. The last trade always stays (it is the
/// reference when no trade is recent enough).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VolWindow {
    /// Increasing prices: the front is the lowest.
    pub(crate) lows: VecDeque<(TimeNs, PriceTicks)>,
    /// Decreasing prices: the front is the highest.
    pub(crate) highs: VecDeque<(TimeNs, PriceTicks)>,
}

impl VolWindow {
    /// Records a trade.
    pub(crate) fn push(&mut self, t: TimeNs, p: PriceTicks) {
        while self.lows.back().is_some_and(|&(_, q)| q >= p) {
            self.lows.pop_back();
        }
        self.lows.push_back((t, p));
        while self.highs.back().is_some_and(|&(_, q)| q <= p) {
            self.highs.pop_back();
        }
        self.highs.push_back((t, p));
    }

    /// Forgets trades older than `window` before `now`, keeping the last.
    pub(crate) fn expire(&mut self, now: TimeNs, window: TimeNs) {
        let old = |q: &VecDeque<(TimeNs, PriceTicks)>| {
            q.len() > 1
                && q.front()
                    .is_some_and(|&(t, _)| t.saturating_add(window) < now)
        };
        while old(&self.lows) {
            self.lows.pop_front();
        }
        while old(&self.highs) {
            self.highs.pop_front();
        }
    }
}

/// The band's half-width around a reference price: `band_bp` basis points
/// of its magnitude, at least one tick.
fn half_width(reference: PriceTicks, band_bp: u32) -> i64 {
    let w = crate::config::bps_of(reference.unsigned_abs(), band_bp);
    i64::try_from(w).unwrap_or(i64::MAX).max(1)
}

/// The notional an order counts for: `|price| × qty` at its limit price, or
/// its stop price for a stop-market order.
#[inline]
pub(crate) fn order_notional(o: &Order, qty: QtyLots) -> u128 {
    let price = match o.ord_type {
        OrdType::Stop => o.stop_price_ticks,
        _ => o.price_ticks,
    };
    u128::from(price.unwrap_or(0).unsigned_abs()) * u128::from(qty)
}

impl Engine {
    /// The dense index of a known participant.
    #[inline]
    pub(crate) fn account(&self, p: ParticipantId) -> Option<usize> {
        match self.account_index.get(p.0 as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }

    #[inline]
    fn credit_idx(&self, p: ParticipantId, ii: usize) -> Option<usize> {
        Some(self.account(p)? * self.instruments.len() + ii)
    }

    /// Adds (`add`) or removes `qty` of the order in `slot` to or from its
    /// owner's open notional.
    #[inline]
    pub(crate) fn open_change(&mut self, slot: u32, qty: QtyLots, add: bool) {
        let o = self.store.live(slot);
        let n = order_notional(o, qty);
        if let Some(i) = self.credit_idx(o.participant, o.inst as usize) {
            let c = &mut self.credit[i].open;
            if add {
                *c += n;
            } else {
                debug_assert!(*c >= n, "open notional below zero");
                *c = c.saturating_sub(n);
            }
        }
    }

    /// Rebuilds every open notional from the live orders (after a restore).
    pub(crate) fn recompute_open(&mut self) {
        for c in &mut self.credit {
            c.open = 0;
        }
        let mut sums = Vec::new();
        for (_, o) in self.store.live_orders() {
            if matches!(o.place, Place::Resting | Place::Stop)
                && let Some(i) = self.credit_idx(o.participant, o.inst as usize)
            {
                sums.push((i, order_notional(o, o.leaves_qty_lots)));
            }
        }
        for (i, n) in sums {
            self.credit[i].open += n;
        }
    }

    /// The open notional of a participant on an instrument, and its limit.
    #[must_use]
    pub fn credit(
        &self,
        p: ParticipantId,
        instrument: InstrumentId,
    ) -> Option<(u128, Option<u64>)> {
        let ii = self.instrument_idx(instrument)?;
        let c = self.credit[self.credit_idx(p, ii)?];
        Some((c.open, c.limit))
    }

    /// Sets a credit limit; `false` if the participant or instrument is unknown.
    pub(crate) fn set_credit_limit(
        &mut self,
        p: ParticipantId,
        instrument: InstrumentId,
        limit: Option<u64>,
    ) -> bool {
        match self
            .instrument_idx(instrument)
            .and_then(|ii| self.credit_idx(p, ii))
        {
            Some(i) => {
                self.credit[i].limit = limit;
                true
            }
            None => false,
        }
    }

    /// Whether adding `extra` (and removing `freed`) keeps the participant
    /// within its credit limit on instrument `ii`.
    #[inline]
    pub(crate) fn credit_ok(&self, p: ParticipantId, ii: usize, extra: u128, freed: u128) -> bool {
        let Some(i) = self.credit_idx(p, ii) else {
            return true;
        };
        let c = self.credit[i];
        match c.limit {
            None => true,
            Some(limit) => c.open.saturating_sub(freed) + extra <= u128::from(limit),
        }
    }

    /// The rate limit (per second, burst) the operator last set for the
    /// participant, if any.
    #[must_use]
    pub fn rate_limit(&self, p: ParticipantId) -> Option<(u32, u32)> {
        self.account(p).and_then(|i| self.rates[i])
    }

    /// Whether the participant's kill switch is engaged.
    #[must_use]
    pub fn kill_switch_engaged(&self, p: ParticipantId) -> bool {
        self.account(p).is_some_and(|i| self.killed[i])
    }

    /// An instrument's phase, and when a volatility halt ends (0 if none).
    #[must_use]
    pub fn phase(&self, instrument: InstrumentId) -> Option<(Phase, TimeNs)> {
        let ii = self.instrument_idx(instrument)?;
        let inst = &self.instruments[ii];
        Some((inst.phase, inst.resume_at_ns))
    }

    /// Why a new order or replace on instrument `ii` is refused by the
    /// instrument's phase or the participant's kill switch, if it is.
    #[inline]
    pub(crate) fn gate(&self, p: ParticipantId, ii: usize) -> Option<RejectReason> {
        if self.kill_switch_engaged(p) {
            return Some(RejectReason::KillSwitchEngaged);
        }
        match self.instruments[ii].phase {
            Phase::Open | Phase::PreOpen => None,
            Phase::Halted => Some(RejectReason::InstrumentHalted),
            Phase::Closed => Some(RejectReason::InstrumentClosed),
        }
    }

    /// The volatility band of instrument `ii` now: the prices within the
    /// configured move of every reference trade. `None` when the instrument
    /// has no volatility interruption or no reference yet.
    pub(crate) fn vol_band(&mut self, ii: usize) -> Option<(PriceTicks, PriceTicks)> {
        let now = self.now;
        let inst = &mut self.instruments[ii];
        let guard = inst.spec.volatility?;
        inst.vol.expire(now, guard.window_ns);
        let (lo_ref, hi_ref) = match (inst.vol.lows.front(), inst.vol.highs.front()) {
            (Some(&(_, lo)), Some(&(_, hi))) => (lo, hi),
            _ => {
                let r = inst.spec.reference_price_ticks?;
                (r, r)
            }
        };
        let hi = lo_ref.saturating_add(half_width(lo_ref, guard.band_bp));
        let lo = hi_ref.saturating_sub(half_width(hi_ref, guard.band_bp));
        Some((lo, hi))
    }

    /// Halts instrument `ii` for its volatility pause and says so.
    pub(crate) fn volatility_halt(&mut self, sink: &mut impl EventSink, ii: usize) {
        let now = self.now;
        let inst = &mut self.instruments[ii];
        let pause = inst.spec.volatility.map_or(0, |g| g.pause_ns);
        inst.phase = Phase::Halted;
        inst.resume_at_ns = now.saturating_add(pause).max(1);
        self.status_event(sink, ii, StatusCause::VolatilityInterruption);
    }

    fn status_event(&self, sink: &mut impl EventSink, ii: usize, cause: StatusCause) {
        let inst = &self.instruments[ii];
        sink.event(&Event::InstrumentStatus(InstrumentStatus {
            instrument: inst.spec.id,
            phase: inst.phase,
            cause,
            resume_at_ns: inst.resume_at_ns,
        }));
    }

    /// Sets a phase; on opening, stops whose condition came true meanwhile
    /// are triggered.
    fn set_phase(
        &mut self,
        sink: &mut impl EventSink,
        ii: usize,
        phase: Phase,
        cause: StatusCause,
    ) {
        let inst = &mut self.instruments[ii];
        inst.phase = phase;
        inst.resume_at_ns = 0;
        self.status_event(sink, ii, cause);
        if phase == Phase::Open {
            self.scan_triggers(ii);
            self.run_triggers(sink, ii);
        }
    }

    /// Whether the participant may trade instrument `ii`.
    #[inline]
    pub(crate) fn permitted(&self, p: ParticipantId, ii: usize) -> bool {
        self.credit_idx(p, ii).is_none_or(|i| self.permitted[i])
    }

    /// At a clock tick: instruments whose trading hours now give another
    /// phase than at the last tick take it, unless halted.
    pub(crate) fn run_schedule(&mut self, sink: &mut impl EventSink) {
        for ii in 0..self.instruments.len() {
            let inst = &mut self.instruments[ii];
            let Some(hours) = inst.spec.hours else {
                continue;
            };
            let target = hours.phase_at(self.now);
            if inst.scheduled == Some(target) {
                continue;
            }
            inst.scheduled = Some(target);
            if inst.phase != Phase::Halted && inst.phase != target {
                self.set_phase(sink, ii, target, StatusCause::Schedule);
            }
        }
    }

    /// At a clock tick: instruments whose volatility pause is over resume.
    pub(crate) fn end_pauses(&mut self, sink: &mut impl EventSink) {
        for ii in 0..self.instruments.len() {
            let t = self.instruments[ii].resume_at_ns;
            if t != 0 && t <= self.now {
                self.set_phase(sink, ii, Phase::Open, StatusCause::PauseEnded);
            }
        }
    }

    /// Applies an operator's action.
    pub(crate) fn admin(&mut self, action: &AdminAction, sink: &mut impl EventSink) {
        let mut report = AdminReport {
            action: *action,
            reject: None,
            cancelled_count: 0,
        };
        let invalid = Some(RejectReason::InvalidAdminRequest);
        match *action {
            AdminAction::SetPhase { instrument, phase } => match self.instrument_idx(instrument) {
                Some(ii) => self.set_phase(sink, ii, phase, StatusCause::Operator),
                None => report.reject = invalid,
            },
            AdminAction::KillSwitch {
                participant,
                engaged,
            } => match self.account(participant) {
                Some(a) => {
                    self.killed[a] = engaged;
                    if engaged {
                        report.cancelled_count =
                            self.cancel_where(sink, CancelReason::KillSwitch, |o| {
                                o.participant == participant
                            });
                    }
                }
                None => report.reject = invalid,
            },
            AdminAction::MassCancel {
                participant,
                instrument,
                side,
            } => {
                let inst = instrument.map(|i| self.instrument_idx(i));
                if participant.is_some_and(|p| self.account(p).is_none())
                    || inst.is_some_and(|i| i.is_none())
                {
                    report.reject = invalid;
                } else {
                    let inst = inst.flatten().map(|i| i as u32);
                    report.cancelled_count = self.cancel_where(sink, CancelReason::Operator, |o| {
                        participant.is_none_or(|p| o.participant == p)
                            && inst.is_none_or(|i| o.inst == i)
                            && side.is_none_or(|s| o.side == s)
                    });
                }
            }
            AdminAction::SetCreditLimit {
                participant,
                instrument,
                max_open_notional_tick_lots,
            } => {
                if !self.set_credit_limit(participant, instrument, max_open_notional_tick_lots) {
                    report.reject = invalid;
                }
            }
            AdminAction::SnapshotNow => {}
            AdminAction::SetRateLimit {
                participant,
                per_second,
                burst,
            } => match self.account(participant) {
                Some(a) if per_second > 0 && burst > 0 => self.rates[a] = Some((per_second, burst)),
                _ => report.reject = invalid,
            },
        }
        sink.event(&Event::AdminReport(report));
    }

    /// Cancels every live order that passes `keep`, by OrderId; returns how many.
    pub(crate) fn cancel_where(
        &mut self,
        sink: &mut impl EventSink,
        reason: CancelReason,
        keep: impl Fn(&Order) -> bool,
    ) -> u32 {
        let mut victims = std::mem::take(&mut self.scratch);
        victims.clear();
        victims.extend(
            self.store
                .live_orders()
                .filter(|(_, o)| keep(o))
                .map(|(slot, o)| (o.id, slot)),
        );
        victims.sort_unstable();
        for &(_, slot) in &victims {
            self.cancel_live(sink, slot, reason, ClOrdId::EMPTY);
        }
        let n = victims.len() as u32;
        victims.clear();
        self.scratch = victims;
        n
    }
}
