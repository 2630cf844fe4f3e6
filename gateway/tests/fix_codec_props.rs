//! Property tests of the FIX codec: what the encoder writes, framing and
//! parsing read back unchanged; and no input makes frame, parse or validate
//! panic.

use gateway::fix::codec::{Encoder, FieldBuf, Framing, SOH, frame, parse};
use gateway::fix::dict::{Direction, validate, validate_with};
use proptest::prelude::*;

/// A field value: any bytes but SOH, not empty.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>().prop_filter("no SOH", |&b| b != SOH), 1..40)
}

/// Body fields: any positive tag except the ones the codec pins (8, 9, 10,
/// 35) and data fields (their values are length-delimited).
fn fields() -> impl Strategy<Value = Vec<(u32, Vec<u8>)>> {
    let tag = (1u32..20_000).prop_filter("not a pinned or data tag", |&t| {
        !matches!(t, 8 | 9 | 10 | 35)
            && gateway::fix::codec::data_tag_for_length(t).is_none()
            && !is_data_tag(t)
    });
    prop::collection::vec((tag, value()), 0..30)
}

fn is_data_tag(t: u32) -> bool {
    (1..1000).any(|len| gateway::fix::codec::data_tag_for_length(len) == Some(t))
}

proptest! {
    #[test]
    fn encode_frame_parse_round_trip(
        msg_type in prop::collection::vec(b'0'..=b'z', 1..3),
        body in fields(),
        data in prop::option::of(prop::collection::vec(any::<u8>(), 1..20)),
    ) {
        let mut enc = Encoder::new();
        enc.start(b"FIX.4.4", &msg_type);
        for (tag, v) in &body {
            enc.str(*tag, v);
        }
        if let Some(d) = &data {
            enc.data(354, 355, d);
        }
        let wire = enc.finish().to_vec();
        // Framed alone, and followed by the start of another message.
        prop_assert_eq!(frame(&wire, 1 << 20), Framing::Complete { len: wire.len() });
        let mut more = wire.clone();
        more.extend_from_slice(b"8=FIX.4.4\x019=");
        prop_assert_eq!(frame(&more, 1 << 20), Framing::Complete { len: wire.len() });

        let mut fb = FieldBuf::new();
        let msg = parse(&wire, &mut fb).unwrap();
        prop_assert_eq!(msg.msg_type(), &msg_type[..]);
        let got: Vec<(u32, Vec<u8>)> = msg.fields().map(|(t, v)| (t, v.to_vec())).collect();
        let n = got.len();
        prop_assert_eq!(got[0].0, 8);
        prop_assert_eq!(got[1].0, 9);
        prop_assert_eq!(got[2].0, 35);
        prop_assert_eq!(got[n - 1].0, 10);
        let mut want = body.clone();
        if let Some(d) = &data {
            want.push((354, d.len().to_string().into_bytes()));
            want.push((355, d.clone()));
        }
        prop_assert_eq!(&got[3..n - 1], &want[..]);
        prop_assert_eq!(msg.defect(), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..600)) {
        drive(&buf);
    }

    #[test]
    fn mutated_messages_never_panic(
        body in fields(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut enc = Encoder::new();
        enc.start(b"FIX.4.4", b"D");
        for (tag, v) in &body {
            enc.str(*tag, v);
        }
        let mut wire = enc.finish().to_vec();
        for (at, byte) in flips {
            let i = at.index(wire.len());
            wire[i] = byte;
        }
        drive(&wire);
        drive(&wire[..cut.index(wire.len() + 1)]);
    }
}

/// Frames, parses and validates everything in `buf`, as a session would,
/// checking that framing always makes progress.
fn drive(mut buf: &[u8]) {
    let mut fb = FieldBuf::new();
    loop {
        match frame(buf, 4096) {
            Framing::Incomplete | Framing::TooLarge { .. } => return,
            Framing::Garbled { skip, .. } => {
                assert!(skip >= 1 && skip <= buf.len());
                buf = &buf[skip..];
            }
            Framing::Complete { len } => {
                assert!(len >= 1 && len <= buf.len());
                if let Ok(msg) = parse(&buf[..len], &mut fb) {
                    let _ = validate(&msg);
                    let _ = validate_with(&msg, Direction::Outbound);
                    let _ = msg.seq_num();
                }
                buf = &buf[len..];
            }
        }
        // Parse and validate raw bytes too, without framing.
        if let Ok(msg) = parse(buf, &mut fb) {
            let _ = validate(&msg);
        }
    }
}
