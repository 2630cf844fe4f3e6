//! Steady-state parsing, validation and encoding allocate nothing: a
//! counting global allocator wraps the system one and the hot loop runs
//! after one warm-up pass. It counts each thread's allocations apart: the
//! test harness's own threads may allocate while the loop runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use engine::Decimal;
use gateway::fix::codec::{Encoder, FieldBuf, Framing, frame, parse};
use gateway::fix::dict::{Direction, Validation, validate, validate_with};
use gateway::fix::tags::*;

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: using it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation on the calling thread.
fn count() {
    // `try_with`: a thread being torn down may still allocate.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// This thread's allocations so far.
fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are the ones the caller gets.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn round(enc: &mut Encoder, fb: &mut FieldBuf, seq: u64) {
    let tick = Decimal {
        mantissa: 1,
        scale: 5,
    };
    enc.start(b"FIX.4.4", b"D");
    enc.str(SENDER_COMP_ID, b"CLIENT01");
    enc.str(TARGET_COMP_ID, b"VENUE");
    enc.u64(MSG_SEQ_NUM, seq);
    enc.timestamp_us(SENDING_TIME, 1_710_495_000_123_456_789);
    enc.str(CL_ORD_ID, b"ord-1");
    enc.u64(NO_PARTY_IDS, 1);
    enc.str(PARTY_ID, b"T1");
    enc.char(PARTY_ID_SOURCE, b'D');
    enc.u64(PARTY_ROLE, 11);
    enc.str(SYMBOL, b"EURUSD");
    enc.char(SIDE, b'1');
    enc.timestamp_us(TRANSACT_TIME, 1_710_495_000_123_456_789);
    enc.u64(ORDER_QTY, 100);
    enc.char(ORD_TYPE, b'2');
    enc.ticks(PRICE, 108_525, tick);
    let wire = enc.finish();
    let Framing::Complete { len } = frame(wire, 8192) else {
        panic!("not framed")
    };
    let msg = parse(&wire[..len], fb).unwrap();
    assert_eq!(validate(&msg), Validation::Ok);
    assert_eq!(
        msg.get_decimal(PRICE).unwrap().unwrap().1,
        Decimal {
            mantissa: 108_525,
            scale: 5
        }
    );
    assert!(msg.get_utc_timestamp_ns(TRANSACT_TIME).unwrap().is_some());
    assert_eq!(msg.seq_num(), Some(seq));

    enc.start(b"FIX.4.4", b"8");
    enc.str(SENDER_COMP_ID, b"VENUE");
    enc.str(TARGET_COMP_ID, b"CLIENT01");
    enc.u64(MSG_SEQ_NUM, seq);
    enc.timestamp_us(SENDING_TIME, 1_710_495_000_123_456_789);
    enc.u64(ORDER_ID, 42);
    enc.str(EXEC_ID, b"e-1");
    enc.char(EXEC_TYPE, b'F');
    enc.char(ORD_STATUS, b'1');
    enc.str(SYMBOL, b"EURUSD");
    enc.char(SIDE, b'1');
    enc.u64(LEAVES_QTY, 60);
    enc.u64(CUM_QTY, 40);
    enc.ratio(AVG_PX, 43_408_123, 400, tick, 6).unwrap();
    let wire = enc.finish();
    let msg = parse(wire, fb).unwrap();
    assert_eq!(validate_with(&msg, Direction::Outbound), Validation::Ok);
}

#[test]
fn steady_state_allocates_nothing() {
    let mut enc = Encoder::new();
    let mut fb = FieldBuf::with_capacity(64);
    round(&mut enc, &mut fb, 1); // warm-up: the dictionary is built here
    let before = allocations();
    for seq in 2..1000 {
        round(&mut enc, &mut fb, seq);
    }
    assert_eq!(allocations() - before, 0);
}
