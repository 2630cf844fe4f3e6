//! The weekly sequence reset: when it last fell due, in the session's time
//! zone (daylight saving included, from the bundled IANA database).

use jiff::Timestamp;
use jiff::civil::Weekday;

use crate::fix::config::WeeklyReset;

/// Why a schedule is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not an IANA time zone name.
    #[error("unknown time zone {0:?} (expected an IANA name such as America/New_York)")]
    UnknownTimeZone(String),
    /// Out of range.
    #[error(
        "weekly reset at weekday {weekday} {hour:02}:{minute:02}: weekday must be 0 (Monday) to 6 (Sunday), hour 0-23, minute 0-59"
    )]
    OutOfRange {
        /// Weekday.
        weekday: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
    },
}

/// Checks a schedule.
///
/// # Errors
/// An unknown time zone or a field out of range.
pub fn validate(r: &WeeklyReset) -> Result<(), ScheduleError> {
    if r.weekday > 6 || r.hour > 23 || r.minute > 59 {
        return Err(ScheduleError::OutOfRange {
            weekday: r.weekday,
            hour: r.hour,
            minute: r.minute,
        });
    }
    jiff::tz::TimeZone::get(&r.time_zone)
        .map(|_| ())
        .map_err(|_| ScheduleError::UnknownTimeZone(r.time_zone.clone()))
}

/// The latest scheduled reset at or before `now_ns` (nanoseconds since the
/// Unix epoch), or `None` if the schedule is invalid.
#[must_use]
pub fn last_boundary_ns(r: &WeeklyReset, now_ns: u64) -> Option<u64> {
    let now = Timestamp::from_nanosecond(i128::from(now_ns))
        .ok()?
        .in_tz(&r.time_zone)
        .ok()?;
    let tz = now.time_zone().clone();
    let weekday = Weekday::from_monday_zero_offset(r.weekday as i8).ok()?;
    let mut day = now.date();
    for _ in 0..8 {
        let at = day.at(r.hour as i8, r.minute as i8, 0, 0);
        let z = tz.to_ambiguous_zoned_datetime(at).compatible().ok()?;
        if z.weekday() == weekday && z <= now {
            return u64::try_from(z.timestamp().as_nanosecond()).ok();
        }
        day = day.yesterday().ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> u64 {
        s.parse::<Timestamp>().unwrap().as_nanosecond() as u64
    }

    #[test]
    fn sunday_five_pm_new_york_follows_daylight_saving() {
        let r = WeeklyReset::default();
        // Winter (EST, UTC-5): Sunday 2026-11-22 17:00 = 22:00Z.
        assert_eq!(
            last_boundary_ns(&r, ns("2026-11-24T02:00:00Z")),
            Some(ns("2026-11-22T22:00:00Z"))
        );
        // Summer (EDT, UTC-4): Sunday 2026-07-12 17:00 = 21:00Z.
        assert_eq!(
            last_boundary_ns(&r, ns("2026-07-15T00:00:00Z")),
            Some(ns("2026-07-12T21:00:00Z"))
        );
        // Exactly at the boundary, and one second before it.
        assert_eq!(
            last_boundary_ns(&r, ns("2026-11-22T22:00:00Z")),
            Some(ns("2026-11-22T22:00:00Z"))
        );
        assert_eq!(
            last_boundary_ns(&r, ns("2026-11-22T21:59:59Z")),
            Some(ns("2026-11-15T22:00:00Z"))
        );
    }

    #[test]
    fn bad_schedules_are_reported() {
        let r = WeeklyReset {
            time_zone: "Mars/Olympus".to_owned(),
            ..WeeklyReset::default()
        };
        assert!(matches!(
            validate(&r),
            Err(ScheduleError::UnknownTimeZone(_))
        ));
        let r = WeeklyReset {
            weekday: 7,
            ..WeeklyReset::default()
        };
        assert!(matches!(
            validate(&r),
            Err(ScheduleError::OutOfRange { .. })
        ));
        assert_eq!(validate(&WeeklyReset::default()), Ok(()));
    }
}
