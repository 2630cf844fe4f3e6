//! UTC timestamps as FIX writes them (`UTCTimestamp`, `YYYYMMDD-HH:MM:SS`
//! with an optional `.sss`, `.ssssss` or `.sssssssss` fraction) converted to
//! and from nanoseconds since the Unix epoch, the venue's clock unit.
//!
//! Calendar arithmetic is the proleptic Gregorian civil calendar (Howard
//! Hinnant's `days_from_civil` / `civil_from_days`): O(1), no tables, no
//! time zone database, no floats. FIX allows second 60 for a leap second; it
//! is accepted and counted as the first instant of the next minute, as a
//! clock without leap seconds (the venue's) would see it.
//!
//! Limits: years 1970 through 2499, so that every accepted timestamp is a
//! `u64` of nanoseconds; FIX 4.4 dates outside that span are not trading
//! timestamps anyone sends.

/// Nanoseconds in one second.
pub const NS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;
/// The first year a timestamp may carry.
pub const YEAR_MIN: u32 = 1970;
/// The last year a timestamp may carry (2^64 ns is in the year 2554).
pub const YEAR_MAX: u32 = 2499;

/// Why a timestamp, date or time text was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not of the form the type requires (length, separators, digits).
    #[error("timestamp is not of the form YYYYMMDD-HH:MM:SS[.fff[fff[fff]]]")]
    Format,
    /// Well formed, but no such instant (month 13, 30 February, hour 24, a
    /// year outside 1970..=2499).
    #[error("timestamp names no valid instant")]
    Range,
}

/// Days since 1970-01-01 of a proleptic Gregorian date. `month` 1..=12,
/// `day` 1..=31, already range checked by the caller.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
    (year, month, day)
}

/// Whether `year` has a 29 February.
#[must_use]
pub fn is_leap_year(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`.
#[must_use]
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The value of `n` ASCII digits, or `None` if any byte is not a digit.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Parses `YYYYMMDD` (FIX `UTCDateOnly` and `LocalMktDate`) into days since
/// 1970-01-01.
///
/// # Errors
/// [`TimeError::Format`] unless 8 digits, [`TimeError::Range`] for a date
/// that does not exist or a year outside 1970..=2499.
pub fn parse_date(b: &[u8]) -> Result<i64, TimeError> {
    if b.len() != 8 {
        return Err(TimeError::Format);
    }
    let year = digits(&b[0..4]).ok_or(TimeError::Format)?;
    let month = digits(&b[4..6]).ok_or(TimeError::Format)?;
    let day = digits(&b[6..8]).ok_or(TimeError::Format)?;
    if !(YEAR_MIN..=YEAR_MAX).contains(&year) || !(1..=12).contains(&month) {
        return Err(TimeError::Range);
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimeError::Range);
    }
    Ok(days_from_civil(year, month, day))
}

/// Parses `HH:MM:SS[.fff[fff[fff]]]` (FIX `UTCTimeOnly`) into nanoseconds
/// since midnight. Second 60 (a leap second) is accepted.
///
/// # Errors
/// [`TimeError::Format`] for a malformed text or a fraction of other than
/// 3, 6 or 9 digits; [`TimeError::Range`] for hour 24, minute 60, second 61.
pub fn parse_time_of_day_ns(b: &[u8]) -> Result<u64, TimeError> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return Err(TimeError::Format);
    }
    let hour = digits(&b[0..2]).ok_or(TimeError::Format)?;
    let minute = digits(&b[3..5]).ok_or(TimeError::Format)?;
    let second = digits(&b[6..8]).ok_or(TimeError::Format)?;
    let frac_ns = match &b[8..] {
        [] => 0,
        [b'.', frac @ ..] if matches!(frac.len(), 3 | 6 | 9) => {
            let v = digits(frac).ok_or(TimeError::Format)?;
            v * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return Err(TimeError::Format),
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Err(TimeError::Range);
    }
    let secs = u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second);
    Ok(secs * NS_PER_SEC + u64::from(frac_ns))
}

/// Parses a FIX `UTCTimestamp` (`YYYYMMDD-HH:MM:SS` with 0, 3, 6 or 9
/// fractional digits) into nanoseconds since the Unix epoch.
///
/// # Errors
/// [`TimeError::Format`] for a malformed text, [`TimeError::Range`] for an
/// instant that does not exist or lies outside 1970..=2499.
pub fn parse_utc_timestamp_ns(b: &[u8]) -> Result<u64, TimeError> {
    if b.len() < 17 || b[8] != b'-' {
        return Err(TimeError::Format);
    }
    // Check the time's form first so that a malformed text is a format
    // error even when its date is also out of range.
    let time_ns = parse_time_of_day_ns(&b[9..]);
    let days = parse_date(&b[0..8]);
    let (days, time_ns) = match (days, time_ns) {
        (_, Err(TimeError::Format)) | (Err(TimeError::Format), _) => {
            return Err(TimeError::Format);
        }
        (Ok(d), Ok(t)) => (d, t),
        _ => return Err(TimeError::Range),
    };
    // days >= 0 because the year is at least 1970; 2499-12-31 23:59:60.999999999
    // is about 1.67e19 ns, below u64::MAX (1.84e19).
    debug_assert!(days >= 0);
    let days = days as u64;
    Ok(days * SECS_PER_DAY * NS_PER_SEC + time_ns)
}

/// Length of a timestamp written with microseconds:
/// `YYYYMMDD-HH:MM:SS.ffffff`.
pub const TIMESTAMP_US_LEN: usize = 24;
/// Length of a timestamp written with milliseconds: `YYYYMMDD-HH:MM:SS.fff`.
pub const TIMESTAMP_MS_LEN: usize = 21;

fn put2(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// Writes `ns_since_epoch` as `YYYYMMDD-HH:MM:SS` followed by `.` and the
/// first `frac_digits` (0, 3, 6 or 9) digits of the fraction, truncated (a
/// timestamp never claims a later instant than the clock read). Returns the
/// number of bytes written (17 plus the fraction with its dot).
///
/// # Panics
/// If `frac_digits` is not 0, 3, 6 or 9 (a caller's bug).
pub fn write_utc_timestamp(out: &mut [u8; 30], ns_since_epoch: u64, frac_digits: u32) -> usize {
    assert!(matches!(frac_digits, 0 | 3 | 6 | 9));
    let secs = ns_since_epoch / NS_PER_SEC;
    let frac = (ns_since_epoch % NS_PER_SEC) as u32;
    let days = (secs / SECS_PER_DAY) as i64;
    let sod = (secs % SECS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    put2(&mut out[0..2], year / 100);
    put2(&mut out[2..4], year % 100);
    put2(&mut out[4..6], month);
    put2(&mut out[6..8], day);
    out[8] = b'-';
    put2(&mut out[9..11], sod / 3600);
    out[11] = b':';
    put2(&mut out[12..14], sod / 60 % 60);
    out[14] = b':';
    put2(&mut out[15..17], sod % 60);
    if frac_digits == 0 {
        return 17;
    }
    out[17] = b'.';
    let mut v = frac / 10u32.pow(9 - frac_digits);
    for i in (0..frac_digits as usize).rev() {
        out[18 + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    18 + frac_digits as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<u64, TimeError> {
        parse_utc_timestamp_ns(s.as_bytes())
    }

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(ts("19700101-00:00:00"), Ok(0));
        // 2009-02-13 23:31:30 UTC is Unix time 1234567890.
        assert_eq!(ts("20090213-23:31:30"), Ok(1_234_567_890 * NS_PER_SEC));
        assert_eq!(ts("20090213-23:31:30.123"), Ok(1_234_567_890_123_000_000));
        assert_eq!(
            ts("20090213-23:31:30.123456"),
            Ok(1_234_567_890_123_456_000)
        );
        assert_eq!(
            ts("20090213-23:31:30.123456789"),
            Ok(1_234_567_890_123_456_789)
        );
        // 2000-03-01 is Unix day 11017 (after a leap day of a year divisible by 400).
        assert_eq!(
            ts("20000301-00:00:00"),
            Ok(11_017 * SECS_PER_DAY * NS_PER_SEC)
        );
    }

    #[test]
    fn leap_days_and_odd_dates() {
        assert!(ts("20240229-12:00:00").is_ok());
        assert!(ts("20000229-12:00:00").is_ok());
        assert_eq!(ts("20230229-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("21000229-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("20240431-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("20241301-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("20240001-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("20240100-12:00:00"), Err(TimeError::Range));
        assert_eq!(ts("19691231-23:59:59"), Err(TimeError::Range));
        assert_eq!(ts("25000101-00:00:00"), Err(TimeError::Range));
        assert!(ts("24991231-23:59:59.999999999").is_ok());
        // A leap second is the first instant of the next minute.
        assert_eq!(ts("20161231-23:59:60"), ts("20170101-00:00:00"));
        assert_eq!(ts("20240101-24:00:00"), Err(TimeError::Range));
        assert_eq!(ts("20240101-23:60:00"), Err(TimeError::Range));
        assert_eq!(ts("20240101-23:59:61"), Err(TimeError::Range));
    }

    #[test]
    fn malformed_texts_are_format_errors() {
        for bad in [
            "",
            "20240101",
            "20240101-12:00",
            "20240101 12:00:00",
            "20240101-12-00-00",
            "2024010-112:00:00",
            "20240101-12:00:00.",
            "20240101-12:00:00.1",
            "20240101-12:00:00.12",
            "20240101-12:00:00.1234",
            "20240101-12:00:00.1234567890",
            "20240101-12:00:00.12a",
            "2024O101-12:00:00",
            "20240101-12:00:00Z",
            "+2024010-12:00:00",
        ] {
            assert_eq!(ts(bad), Err(TimeError::Format), "{bad:?}");
        }
    }

    #[test]
    fn write_then_parse_round_trips() {
        let mut out = [0u8; 30];
        for ns in [
            0u64,
            1_234_567_890_123_456_789,
            951_782_400 * NS_PER_SEC + 999_999_999, // 2000-02-29
            (days_from_civil(2499, 12, 31) as u64 * SECS_PER_DAY + 86_399) * NS_PER_SEC,
        ] {
            let n = write_utc_timestamp(&mut out, ns, 9);
            assert_eq!(n, 27);
            assert_eq!(parse_utc_timestamp_ns(&out[..n]), Ok(ns));
            let n = write_utc_timestamp(&mut out, ns, 6);
            assert_eq!(n, TIMESTAMP_US_LEN);
            assert_eq!(parse_utc_timestamp_ns(&out[..n]), Ok(ns / 1000 * 1000));
            let n = write_utc_timestamp(&mut out, ns, 3);
            assert_eq!(n, TIMESTAMP_MS_LEN);
            assert_eq!(
                parse_utc_timestamp_ns(&out[..n]),
                Ok(ns / 1_000_000 * 1_000_000)
            );
        }
        let n = write_utc_timestamp(&mut out, 1_234_567_890_123_456_789, 6);
        assert_eq!(&out[..n], b"20090213-23:31:30.123456");
    }

    #[test]
    fn every_day_round_trips_through_the_calendar() {
        // 1970 through 2499, day by day: civil_from_days inverts days_from_civil.
        let last = days_from_civil(2499, 12, 31);
        for d in 0..=last {
            let (y, m, day) = civil_from_days(d);
            assert!(day >= 1 && day <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }
}
