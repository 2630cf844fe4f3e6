//! FIX codec throughput, per message.
//!
//! Workload: a 260-byte NewOrderSingle as QuickFIX/J sends it (two parties,
//! a nested sub-id, security id and alternative id, limit price, ExecInst)
//! is framed, parsed into a reused `FieldBuf`, validated against the
//! dictionary and its order fields read with the typed getters; and a
//! partial-fill ExecutionReport (21 body fields, prices written from ticks,
//! AvgPx as a rounded ratio, microsecond timestamps) is encoded into a
//! reused `Encoder`. Buffers are built before the timed loop; nothing in it
//! allocates (see `tests/fix_no_alloc.rs`).
//!
//! Run: `cargo bench -p gateway --bench fix_codec`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::Decimal;
use gateway::fix::codec::{Encoder, FieldBuf, Framing, frame, parse};
use gateway::fix::dict::{Validation, validate, warm_up};
use gateway::fix::tags::*;

fn new_order_single() -> Vec<u8> {
    let mut enc = Encoder::new();
    enc.start(b"FIX.4.4", b"D");
    enc.str(SENDER_COMP_ID, b"CLIENT01");
    enc.str(TARGET_COMP_ID, b"VENUE");
    enc.u64(MSG_SEQ_NUM, 123_456);
    enc.timestamp_ms(SENDING_TIME, 1_710_495_000_123_000_000);
    enc.str(CL_ORD_ID, b"20240315-000123456");
    enc.str(ACCOUNT, b"ACC-0001");
    enc.char(HANDL_INST, b'1');
    enc.u64(NO_PARTY_IDS, 2);
    enc.str(PARTY_ID, b"TRADER1");
    enc.char(PARTY_ID_SOURCE, b'D');
    enc.u64(PARTY_ROLE, 11);
    enc.str(PARTY_ID, b"FIRM1");
    enc.char(PARTY_ID_SOURCE, b'D');
    enc.u64(PARTY_ROLE, 1);
    enc.u64(NO_PARTY_SUB_IDS, 1);
    enc.str(PARTY_SUB_ID, b"desk7");
    enc.u64(PARTY_SUB_ID_TYPE, 10);
    enc.str(SYMBOL, b"EURUSD");
    enc.str(SECURITY_ID, b"EU0009652759");
    enc.str(SECURITY_ID_SOURCE, b"4");
    enc.char(SIDE, b'1');
    enc.timestamp_ms(TRANSACT_TIME, 1_710_495_000_120_000_000);
    enc.str(ORDER_QTY, b"1000000");
    enc.char(ORD_TYPE, b'2');
    enc.str(PRICE, b"1.08525");
    enc.char(TIME_IN_FORCE, b'0');
    enc.str(EXEC_INST, b"6");
    enc.str(CURRENCY, b"EUR");
    enc.finish().to_vec()
}

fn bench_parse(c: &mut Criterion) {
    warm_up();
    let nos = new_order_single();
    let tick = Decimal {
        mantissa: 1,
        scale: 5,
    };
    let lot = Decimal {
        mantissa: 1000,
        scale: 0,
    };
    let mut fb = FieldBuf::with_capacity(64);
    let mut group = c.benchmark_group("fix_codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_validate_new_order_single", |b| {
        b.iter(|| {
            let buf = black_box(&nos[..]);
            let Framing::Complete { len } = frame(buf, 8192) else {
                unreachable!()
            };
            let msg = parse(&buf[..len], &mut fb).unwrap();
            assert_eq!(validate(&msg), Validation::Ok);
            let (neg, px) = msg.get_decimal(PRICE).unwrap().unwrap();
            let (_, qty) = msg.get_decimal(ORDER_QTY).unwrap().unwrap();
            let price_ticks = gateway::fix::decimal::to_units(neg, px, tick);
            let qty_lots = gateway::fix::decimal::to_units(false, qty, lot);
            black_box((
                msg.get(CL_ORD_ID).map(<[u8]>::len),
                msg.get_char(SIDE),
                msg.get_utc_timestamp_ns(TRANSACT_TIME),
                price_ticks,
                qty_lots,
                msg.seq_num(),
            ))
        });
    });

    let mut enc = Encoder::new();
    group.bench_function("encode_execution_report", |b| {
        let mut seq = 1u64;
        b.iter(|| {
            seq += 1;
            enc.start(b"FIX.4.4", b"8");
            enc.str(SENDER_COMP_ID, b"VENUE");
            enc.str(TARGET_COMP_ID, b"CLIENT01");
            enc.u64(MSG_SEQ_NUM, black_box(seq));
            enc.timestamp_us(SENDING_TIME, black_box(1_710_495_000_123_456_789));
            enc.u64(ORDER_ID, 987_654_321);
            enc.str(CL_ORD_ID, b"20240315-000123456");
            enc.str(EXEC_ID, b"5512345-2");
            enc.char(EXEC_TYPE, b'F');
            enc.char(ORD_STATUS, b'1');
            enc.str(ACCOUNT, b"ACC-0001");
            enc.str(SYMBOL, b"EURUSD");
            enc.char(SIDE, b'1');
            enc.ticks(ORDER_QTY, 1000, lot);
            enc.char(ORD_TYPE, b'2');
            enc.ticks(PRICE, black_box(108_525), tick);
            enc.char(TIME_IN_FORCE, b'0');
            enc.ticks(LAST_QTY, 400, lot);
            enc.ticks(LAST_PX, black_box(108_520), tick);
            enc.ticks(LEAVES_QTY, 600, lot);
            enc.ticks(CUM_QTY, 400, lot);
            enc.ratio(AVG_PX, black_box(43_408_123), 400, tick, 6)
                .unwrap();
            enc.timestamp_us(TRANSACT_TIME, 1_710_495_000_123_450_000);
            black_box(enc.finish().len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
