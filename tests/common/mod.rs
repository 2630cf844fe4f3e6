//! Shared by the integration tests: child-process guards, order builders.
#![allow(dead_code, reason = "each test crate uses part of this module")]

pub(crate) mod fix_client;

use std::process::Child;

use engine::{ClOrdId, Input, InstrumentId, NewOrder, OrdType, ParticipantId, Side, TimeInForce};

/// A child process that is killed when dropped, so that a failing assertion
/// never leaves a venue running after the test.
#[derive(Debug)]
pub(crate) struct ChildGuard(pub(crate) Child);

impl ChildGuard {
    /// SIGKILL and reap (idempotent).
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A GTC limit order on instrument 1.
pub(crate) fn limit(
    participant: ParticipantId,
    cl_ord_id: ClOrdId,
    buy: bool,
    price_ticks: i64,
    qty_lots: u64,
) -> Input {
    Input::NewOrder(NewOrder {
        participant,
        instrument: InstrumentId(1),
        cl_ord_id,
        side: if buy { Side::Buy } else { Side::Sell },
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price_ticks),
        stop_price_ticks: None,
        qty_lots,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    })
}
