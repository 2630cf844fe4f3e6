//! Helpers for the codec's tests: messages written out by hand, with '|'
//! for SOH, and framed independently of the encoder under test.

use super::codec::SOH;

/// `s` with every `|` replaced by SOH.
pub(crate) fn soh(s: &str) -> Vec<u8> {
    s.bytes().map(|b| if b == b'|' { SOH } else { b }).collect()
}

/// A complete FIX.4.4 message around `body` (from `35=` through the last
/// `|`), with the correct BodyLength and CheckSum.
pub(crate) fn wire(body: &str) -> Vec<u8> {
    wire_with("FIX.4.4", body)
}

/// As [`wire`], with another BeginString.
pub(crate) fn wire_with(begin: &str, body: &str) -> Vec<u8> {
    let body = soh(body);
    let mut out = soh(&format!("8={begin}|9={}|", body.len()));
    out.extend_from_slice(&body);
    let sum = out.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    out.extend_from_slice(&soh(&format!("10={sum:03}|")));
    out
}

/// A standard header (after 35) for inbound messages.
pub(crate) const HDR: &str = "49=CLIENT|56=VENUE|34=7|52=20240315-09:30:00.123|";
