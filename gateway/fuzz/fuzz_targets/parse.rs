//! Fuzzes frame + parse + validate over arbitrary bytes, as a session drives
//! them over a TCP read buffer: nothing may panic, and framing must always
//! make progress.
//!
//! Run (from `gateway/fuzz`; the stable toolchain needs RUSTC_BOOTSTRAP for
//! the sanitizer flags cargo-fuzz passes):
//!
//! ```sh
//! cargo install cargo-fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run parse -- -max_total_time=300
//! ```
#![no_main]

use gateway::fix::codec::{FieldBuf, Framing, frame, parse};
use gateway::fix::dict::{Direction, validate, validate_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fields = FieldBuf::new();
    let mut buf = data;
    loop {
        match frame(buf, 4096) {
            Framing::Incomplete | Framing::TooLarge { .. } => break,
            Framing::Garbled { skip, .. } => {
                assert!(skip >= 1 && skip <= buf.len());
                buf = &buf[skip..];
            }
            Framing::Complete { len } => {
                assert!(len <= buf.len());
                if let Ok(msg) = parse(&buf[..len], &mut fields) {
                    let _ = validate(&msg);
                    let _ = validate_with(&msg, Direction::Outbound);
                    let _ = msg.seq_num();
                }
                buf = &buf[len..];
            }
        }
    }
    // Unframed bytes straight into the parser and validator.
    if let Ok(msg) = parse(data, &mut fields) {
        let _ = validate(&msg);
    }
});
