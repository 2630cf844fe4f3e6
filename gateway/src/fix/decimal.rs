//! Exact decimal text at the FIX edge: prices and quantities arrive as text
//! (`"101.25"`) and become integer ticks and lots; ticks go out again as
//! text. No floating point anywhere: a value is a sign and an
//! [`engine::Decimal`] (an integer mantissa and a decimal scale), and every
//! conversion is exact or refused.
//!
//! FIX `float` syntax: an optional `-`, digits, at most one `.`, at least one
//! digit (`"5"`, `"5."`, `".5"`, `"-0.25"`). Trailing zeros after the point
//! carry no value and are dropped, so `"1.50000000000000000000"` is accepted
//! although it has more than 18 decimals. Output never has trailing zeros or
//! a trailing point, and zero is never written with a sign.

use engine::Decimal;
use engine::config::DECIMAL_SCALE_MAX;

/// Why a decimal text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not FIX `float` syntax.
    #[error("not a decimal number")]
    Format,
    /// A number, but more than 18 significant decimals or more digits than
    /// a `u64` mantissa holds.
    #[error("decimal number too large or too precise")]
    Range,
}

/// Whether `b` is FIX `float` syntax (the check of a session-level
/// validation, which does not care about the value's size).
#[must_use]
pub fn is_float_syntax(b: &[u8]) -> bool {
    let b = b.strip_prefix(b"-").unwrap_or(b);
    let mut digits = 0usize;
    let mut dots = 0usize;
    for &c in b {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// Parses FIX `float` text into a sign (`true` for a negative non-zero
/// value) and its magnitude.
///
/// # Errors
/// [`DecimalError::Format`] for anything but `float` syntax,
/// [`DecimalError::Range`] when the magnitude does not fit a [`Decimal`]
/// (mantissa below 2^64, at most 18 decimals after dropping trailing zeros).
pub fn parse_decimal(b: &[u8]) -> Result<(bool, Decimal), DecimalError> {
    if !is_float_syntax(b) {
        return Err(DecimalError::Format);
    }
    let (negative, b) = match b.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, b),
    };
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b[..0]),
    };
    let frac_len = frac.iter().rposition(|&c| c != b'0').map_or(0, |p| p + 1);
    let frac = &frac[..frac_len];
    if frac.len() > usize::from(DECIMAL_SCALE_MAX) {
        return Err(DecimalError::Range);
    }
    let mut mantissa: u64 = 0;
    for &c in int.iter().chain(frac) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(c - b'0')))
            .ok_or(DecimalError::Range)?;
    }
    let value = Decimal {
        mantissa,
        scale: frac.len() as u8,
    };
    Ok((negative && mantissa != 0, value))
}

/// How many whole `unit`s (a tick size or a lot size) make the signed value,
/// if that is an exact integer that fits an `i64`; `None` for a value off
/// the tick (or lot) grid, a zero unit, or an out-of-range result.
#[must_use]
pub fn to_units(negative: bool, value: Decimal, unit: Decimal) -> Option<i64> {
    let units = value.units_of(&unit)?;
    // units >= 0, so its negation cannot overflow.
    Some(if negative { -units } else { units })
}

/// Writes `magnitude / 10^scale` with a leading `-` when `negative` and the
/// value is not zero, without trailing zeros or a trailing point.
fn write_scaled(out: &mut Vec<u8>, negative: bool, magnitude: u128, scale: u32) {
    if magnitude == 0 {
        out.push(b'0');
        return;
    }
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut v = magnitude;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // digits[..n] is little-endian. Drop trailing fraction zeros.
    let mut skip = 0usize;
    while skip < scale as usize && skip < n && digits[skip] == b'0' {
        skip += 1;
    }
    let scale = scale as usize - skip;
    let digits = &digits[skip..n];
    if negative && magnitude != 0 {
        out.push(b'-');
    }
    if digits.len() <= scale {
        // No integer digits: "0." and leading fraction zeros.
        out.push(b'0');
        if scale > 0 {
            out.push(b'.');
            out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
            out.extend(digits.iter().rev());
        }
        return;
    }
    let int_len = digits.len() - scale;
    out.extend(digits[scale..].iter().rev());
    debug_assert_eq!(int_len, digits[scale..].len());
    if scale > 0 {
        out.push(b'.');
        out.extend(digits[..scale].iter().rev());
    }
}

/// Appends a signed decimal exactly (`-` only for a non-zero value).
pub fn write_decimal(out: &mut Vec<u8>, negative: bool, value: Decimal) {
    write_scaled(
        out,
        negative,
        u128::from(value.mantissa),
        u32::from(value.scale),
    );
}

/// Appends the exact decimal text of `ticks * tick_size`.
pub fn write_ticks(out: &mut Vec<u8>, ticks: i64, tick_size: Decimal) {
    // |ticks| < 2^63 and the mantissa < 2^64: the product fits a u128.
    let magnitude = u128::from(ticks.unsigned_abs()) * u128::from(tick_size.mantissa);
    write_scaled(out, ticks < 0, magnitude, u32::from(tick_size.scale));
}

/// A ratio too large to write (see [`write_ratio`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ratio too large to write with the requested decimals")]
pub struct RatioOverflow;

/// Appends `num / den * unit`, rounded half-to-even to `decimals` places
/// (at most 18), without trailing zeros. For an average price: `num` is the
/// cumulative notional in tick-lots, `den` the cumulative quantity in lots,
/// `unit` the tick size. A zero `den` writes `0` (FIX's `AvgPx` before the
/// first fill).
///
/// # Errors
/// [`RatioOverflow`] when `|num / den|` is 2^64 or more, or the value
/// scaled by `10^decimals` does not fit a `u128`; nothing is written then.
/// Neither happens for an average of `i64` tick prices with a tick size
/// mantissa below 10^18 and `decimals` at most 18 unless the value itself
/// exceeds about 10^20.
pub fn write_ratio(
    out: &mut Vec<u8>,
    num: i128,
    den: u64,
    unit: Decimal,
    decimals: u8,
) -> Result<(), RatioOverflow> {
    let decimals = u32::from(decimals.min(DECIMAL_SCALE_MAX));
    if unit.scale > DECIMAL_SCALE_MAX {
        return Err(RatioOverflow);
    }
    if den == 0 {
        out.push(b'0');
        return Ok(());
    }
    let den = u128::from(den);
    let m = u128::from(unit.mantissa);
    let n = num.unsigned_abs();
    // num/den * m = q*m + (r*m)/den with q = n / den, r = n % den (r < den).
    let q = n / den;
    let r = n % den;
    let rm = r * m; // r < 2^64 and m < 2^64
    let y_int = q
        .checked_mul(m)
        .and_then(|v| v.checked_add(rm / den))
        .ok_or(RatioOverflow)?;
    let y_rem = rm % den;
    // value = (y_int + y_rem/den) / 10^scale; we want it times 10^decimals.
    let scale = u32::from(unit.scale);
    let (mut z, twice_rem_vs_divisor) = if decimals >= scale {
        let p = 10u128.pow(decimals - scale);
        let z = y_int
            .checked_mul(p)
            .and_then(|v| v.checked_add(y_rem * p / den))
            .ok_or(RatioOverflow)?;
        // Fraction left over: ((y_rem * p) % den) / den.
        let rem = (y_rem * p) % den;
        (z, (2 * rem).cmp(&den))
    } else {
        let p = 10u128.pow(scale - decimals);
        let z = y_int / p;
        // Fraction left over: ((y_int % p) * den + y_rem) / (p * den).
        let rem = (y_int % p) * den + y_rem;
        (z, (2 * rem).cmp(&(p * den)))
    };
    match twice_rem_vs_divisor {
        std::cmp::Ordering::Greater => z += 1,
        std::cmp::Ordering::Equal if z % 2 == 1 => z += 1,
        _ => {}
    }
    write_scaled(out, num < 0, z, decimals);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn p(s: &str) -> Result<(bool, Decimal), DecimalError> {
        parse_decimal(s.as_bytes())
    }

    fn ticks(t: i64, tick: &str) -> String {
        let mut out = Vec::new();
        write_ticks(&mut out, t, d(tick));
        String::from_utf8(out).unwrap()
    }

    fn ratio(num: i128, den: u64, unit: &str, decimals: u8) -> String {
        let mut out = Vec::new();
        write_ratio(&mut out, num, den, d(unit), decimals).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_float_syntax_exactly() {
        assert_eq!(p("101.25"), Ok((false, d("101.25"))));
        assert_eq!(p("-0.5"), Ok((true, d("0.5"))));
        assert_eq!(p(".5"), Ok((false, d("0.5"))));
        assert_eq!(p("5."), Ok((false, d("5"))));
        assert_eq!(p("007"), Ok((false, d("7"))));
        assert_eq!(p("-0"), Ok((false, d("0"))));
        assert_eq!(p("-0.000"), Ok((false, d("0"))));
        assert_eq!(p("1.50000000000000000000000"), Ok((false, d("1.5"))));
        assert_eq!(
            p("18446744073709551615"),
            Ok((false, d("18446744073709551615")))
        );
        assert_eq!(
            p("0.000000000000000001"),
            Ok((false, d("0.000000000000000001")))
        );
        for bad in [
            "", "-", ".", "-.", "1.2.3", "+1", "1e5", " 1", "1 ", "1,5", "--1", "0x10",
        ] {
            assert_eq!(p(bad), Err(DecimalError::Format), "{bad:?}");
        }
        assert_eq!(p("18446744073709551616"), Err(DecimalError::Range));
        assert_eq!(p("0.0000000000000000001"), Err(DecimalError::Range));
        assert_eq!(p("1844674407370955161.6"), Err(DecimalError::Range));
    }

    #[test]
    fn units_are_exact_or_refused() {
        let tick = d("0.25");
        assert_eq!(to_units(false, d("101.25"), tick), Some(405));
        assert_eq!(to_units(true, d("101.25"), tick), Some(-405));
        assert_eq!(to_units(false, d("101.3"), tick), None);
        assert_eq!(to_units(false, d("0"), tick), Some(0));
        assert_eq!(to_units(false, d("1"), d("0")), None);
        assert_eq!(to_units(false, d("0.001"), d("0.0001")), Some(10));
        assert_eq!(to_units(false, d("0.00015"), d("0.0001")), None);
        // Big values: i64::MAX ticks of 1, and one more refused.
        assert_eq!(
            to_units(false, d("9223372036854775807"), d("1")),
            Some(i64::MAX)
        );
        assert_eq!(to_units(false, d("9223372036854775808"), d("1")), None);
        assert_eq!(
            to_units(true, d("9223372036854775807"), d("1")),
            Some(-i64::MAX)
        );
        // Lots: 5 units of 100 shares.
        assert_eq!(to_units(false, d("500"), d("100")), Some(5));
        assert_eq!(to_units(false, d("550"), d("100")), None);
    }

    #[test]
    fn writes_ticks_as_exact_text() {
        assert_eq!(ticks(405, "0.25"), "101.25");
        assert_eq!(ticks(-405, "0.25"), "-101.25");
        assert_eq!(ticks(150, "0.01"), "1.5");
        assert_eq!(ticks(100, "0.01"), "1");
        assert_eq!(ticks(0, "0.01"), "0");
        assert_eq!(ticks(1, "0.0001"), "0.0001");
        assert_eq!(ticks(-1, "0.0001"), "-0.0001");
        assert_eq!(ticks(7, "5"), "35");
        assert_eq!(ticks(i64::MAX, "1"), "9223372036854775807");
        assert_eq!(ticks(i64::MIN, "1"), "-9223372036854775808");
        assert_eq!(
            ticks(i64::MAX, "0.000000000000000001"),
            "9.223372036854775807"
        );
        assert_eq!(
            ticks(i64::MAX, "18446744073709551615"),
            "170141183460469231704017187605319778305"
        );
    }

    #[test]
    fn ticks_round_trip_through_text() {
        for &(t, tick) in &[
            (12345i64, "0.05"),
            (-3, "0.001"),
            (1, "1"),
            (987654321, "0.0000001"),
        ] {
            let text = ticks(t, tick);
            let (neg, v) = p(&text).unwrap();
            assert_eq!(to_units(neg, v, d(tick)), Some(t), "{text}");
        }
    }

    #[test]
    fn ratio_rounds_half_to_even() {
        // Average of 100 and 101 ticks of 0.01, 2 decimals: 1.005 -> 1.00 (even).
        assert_eq!(ratio(201, 2, "0.01", 2), "1");
        // 1.015 -> 1.02 (even).
        assert_eq!(ratio(203, 2, "0.01", 2), "1.02");
        // 3 decimals keeps it exact.
        assert_eq!(ratio(201, 2, "0.01", 3), "1.005");
        // 1/3 of 1.00 -> 0.3333.
        assert_eq!(ratio(100, 3, "0.01", 4), "0.3333");
        assert_eq!(ratio(200, 3, "0.01", 4), "0.6667");
        assert_eq!(ratio(-200, 3, "0.01", 4), "-0.6667");
        // Fewer decimals than the tick: 1.25 -> 1.2 (even), 1.35 -> 1.4, 0.05 -> 0.
        assert_eq!(ratio(125, 1, "0.01", 1), "1.2");
        assert_eq!(ratio(135, 1, "0.01", 1), "1.4");
        assert_eq!(ratio(5, 1, "0.01", 1), "0");
        assert_eq!(ratio(-5, 1, "0.01", 1), "0");
        assert_eq!(ratio(6, 1, "0.01", 1), "0.1");
        // Tick larger than one: 7/2 ticks of 5 = 17.5.
        assert_eq!(ratio(7, 2, "5", 0), "18");
        assert_eq!(ratio(5, 2, "5", 0), "12");
        assert_eq!(ratio(7, 2, "5", 2), "17.5");
        assert_eq!(ratio(0, 0, "0.01", 2), "0");
        // Large notional: 10^18 tick-lots over 10^9 lots at tick 0.0001.
        assert_eq!(
            ratio(10i128.pow(18) + 1, 1_000_000_000, "0.0001", 8),
            "100000"
        );
        assert_eq!(
            ratio(10i128.pow(18) + 50_000, 1_000_000_000, "0.0001", 9),
            "100000.000000005"
        );
    }

    #[test]
    fn ratio_reports_overflow_instead_of_wrapping() {
        let mut out = Vec::new();
        assert_eq!(
            write_ratio(&mut out, i128::MAX, 1, d("18446744073709551615"), 18),
            Err(RatioOverflow)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn float_syntax_check_matches_parser() {
        for s in ["1", "-1", ".1", "1.", "-.1", "", "-", ".", "1..", "a", "1-"] {
            let ok = is_float_syntax(s.as_bytes());
            assert_eq!(
                ok,
                parse_decimal(s.as_bytes()) != Err(DecimalError::Format),
                "{s:?}"
            );
        }
    }
}
