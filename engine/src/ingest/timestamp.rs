//! When did an activity happen? [`TimestampParser`] reads an export's date-and-time text as an
//! instant (microseconds since 1970-01-01 UTC) and the UTC offset it was written in; [`Zone`]
//! is a time zone (an IANA name or a fixed offset) that gives the offset at an instant, so a
//! debtor's local hour can be told from the instant (docs/contracts.md, "activities").
//!
//! ISO 8601 text (`2024-03-05T14:03:00-05:00`, `2024-03-05 19:03:00Z`, fractions of a second,
//! `+0100`, `+01`) takes a byte-level path; other layouts need the input's `timestamp_format`
//! (strftime, through chrono). Text without an offset is read in the input's `time_zone`; with
//! none configured it is not an instant, and the row is quarantined.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};

/// A time zone: an IANA zone (daylight saving included) or a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// `America/Chicago`, `Europe/Berlin`, `UTC`.
    Named(chrono_tz::Tz),
    /// `+02:00`, `-0500`: seconds east of UTC.
    Fixed(i32),
}

impl Zone {
    /// An IANA name (case as the database spells it, or any case) or a fixed offset
    /// (`+02:00`, `-0500`, `Z`).
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if let Some(seconds) = parse_offset(name.as_bytes()) {
            return Some(Zone::Fixed(seconds));
        }
        name.parse::<chrono_tz::Tz>()
            .ok()
            .or_else(|| chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(name)))
            .map(Zone::Named)
    }

    /// Seconds east of UTC at the instant `utc_seconds`.
    pub fn offset_at(self, utc_seconds: i64) -> i32 {
        match self {
            Zone::Fixed(s) => s,
            Zone::Named(tz) => {
                let Some(at) = chrono::DateTime::from_timestamp(utc_seconds, 0) else { return 0 };
                tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
            }
        }
    }

    /// The instant of a local date and time here, with its offset: the earlier one when the
    /// clock was set back (the hour happens twice), `None` in a gap when it was set forward.
    pub fn instant_of_local(self, local: NaiveDateTime) -> Option<(NaiveDateTime, i32)> {
        let offset = match self {
            Zone::Fixed(s) => s,
            Zone::Named(tz) => tz.offset_from_local_datetime(&local).earliest()?.fix().local_minus_utc(),
        };
        Some((local - chrono::TimeDelta::seconds(i64::from(offset)), offset))
    }
}

/// An instant as read: microseconds since 1970-01-01 UTC, and the offset (seconds east of
/// UTC) the text was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub utc_micros: i64,
    pub offset_seconds: i32,
}

/// Why a timestamp did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampError {
    /// Not a date and time in the expected layout.
    Invalid,
    /// A date and time without an offset, and the input has no `time_zone`.
    NoZone,
    /// A local time that does not exist in the input's `time_zone` (skipped when the clocks
    /// went forward).
    InGap,
}

/// Reads timestamps of one input.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    /// strftime layout, when the export does not write ISO 8601.
    format: Option<String>,
    /// The zone of text written without an offset.
    zone: Option<Zone>,
}

impl TimestampParser {
    /// A parser for `format` (ISO 8601 when `None`) reading text without an offset in `zone`.
    /// Fails with a readable message on a bad format or zone.
    pub fn new(format: Option<&str>, zone: Option<&str>) -> Result<Self, String> {
        let zone = match zone {
            None => None,
            Some(z) => Some(Zone::parse(z).ok_or_else(|| {
                format!(
                    "\"{z}\" is neither an IANA time zone (America/New_York, Europe/Berlin, UTC) nor an offset (+02:00)"
                )
            })?),
        };
        if let Some(f) = format {
            use chrono::format::{Item, StrftimeItems};
            if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                return Err(format!("`{f}` is not a valid strftime format"));
            }
            let probe = NaiveDate::from_ymd_opt(2024, 2, 29)
                .and_then(|d| d.and_hms_opt(13, 45, 30))
                .unwrap_or_default()
                .and_utc()
                .fixed_offset();
            let mut text = String::new();
            if std::fmt::Write::write_fmt(&mut text, format_args!("{}", probe.format(f))).is_err() {
                return Err(format!("`{f}` asks for a field a timestamp does not have"));
            }
            let back = parse_with(f, &text).map(|(t, _)| t);
            if back.map(|t| t.date()) != Some(probe.date_naive()) || back.map(|t| t.time()) == Some(NaiveTime::MIN) {
                return Err(format!(
                    "`{f}` does not identify a date and a time (it needs a year, month, day, hour and minute, e.g. %d/%m/%Y %H:%M)"
                ));
            }
        }
        Ok(TimestampParser { format: format.map(str::to_string), zone })
    }

    /// The layout, for messages.
    pub fn layout(&self) -> &str {
        self.format.as_deref().unwrap_or("ISO 8601 (2024-03-05T14:03:00-05:00)")
    }

    /// Read one value.
    pub fn parse(&self, s: &str) -> Result<Stamp, StampError> {
        let s = s.trim();
        let (local, offset) = match &self.format {
            None => parse_iso(s.as_bytes()).ok_or(StampError::Invalid)?,
            Some(f) => parse_with(f, s).ok_or(StampError::Invalid)?,
        };
        let (utc, offset) = match offset {
            Some(o) => (local - chrono::TimeDelta::seconds(i64::from(o)), o),
            None => self.zone.ok_or(StampError::NoZone)?.instant_of_local(local).ok_or(StampError::InGap)?,
        };
        Ok(Stamp { utc_micros: utc.and_utc().timestamp_micros(), offset_seconds: offset })
    }
}

/// A strftime layout: with `%z` (or `%:z`) an offset is read, else the text is local.
fn parse_with(format: &str, s: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    if format.contains("%z") || format.contains("%:z") || format.contains("%#z") {
        let t = chrono::DateTime::parse_from_str(s, format).ok()?;
        Some((t.naive_local(), Some(t.offset().local_minus_utc())))
    } else {
        NaiveDateTime::parse_from_str(s, format).ok().map(|t| (t, None))
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `Z`, `UTC`, `±HH`, `±HHMM`, `±HH:MM` as seconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i32> {
    match b {
        b"Z" | b"z" | b"UTC" => return Some(0),
        _ => {}
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &b[1..];
    let (h, m) = match rest.len() {
        2 => (digits(rest)?, 0),
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        _ => return None,
    };
    (h <= 18 && m < 60).then(|| sign * (h * 3600 + m * 60) as i32)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][offset]`, the offset optional (with or without a
/// space before it).
fn parse_iso(b: &[u8]) -> Option<(NaiveDateTime, Option<i32>)> {
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(&b[..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)?;
    let (hour, minute) = (digits(&b[11..13])?, digits(&b[14..16])?);
    let mut at = 16;
    let mut second = 0;
    let mut nanos = 0;
    if b.get(at) == Some(&b':') {
        second = digits(b.get(at + 1..at + 3)?)?;
        at += 3;
        if matches!(b.get(at), Some(b'.' | b',')) {
            let start = at + 1;
            let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
            if end == start {
                return None;
            }
            // Microseconds are kept; finer digits are below what the output stores.
            let kept = &b[start..end.min(start + 9)];
            nanos = digits(kept)? * 10u32.pow(9 - kept.len() as u32);
            at = end;
        }
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let rest = &b[at..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let offset = if rest.is_empty() { None } else { Some(parse_offset(rest)?) };
    Some((date.and_time(time), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time").and_utc().timestamp_micros()
    }

    #[test]
    fn iso_offsets_give_the_same_instant() {
        let p = TimestampParser::new(None, None).expect("valid");
        let want = utc("2024-03-05 19:03:00");
        for s in
            ["2024-03-05T14:03:00-05:00", "2024-03-05 19:03:00Z", "2024-03-05T20:03+0100", "2024-03-05T21:03:00.000+02"]
        {
            assert_eq!(p.parse(s).map(|t| t.utc_micros), Ok(want), "{s}");
        }
        assert_eq!(p.parse("2024-03-05T14:03:00-05:00").map(|t| t.offset_seconds), Ok(-5 * 3600));
        assert_eq!(p.parse("2024-03-05T19:03:00.1234567Z").map(|t| t.utc_micros), Ok(want + 123_456));
    }

    #[test]
    fn text_without_an_offset_needs_a_zone_and_follows_daylight_saving() {
        assert_eq!(TimestampParser::new(None, None).expect("valid").parse("2024-03-05 14:03"), Err(StampError::NoZone));
        let ny = TimestampParser::new(None, Some("America/New_York")).expect("valid");
        // Winter: UTC-5; summer: UTC-4.
        assert_eq!(ny.parse("2024-01-15 08:00").map(|t| t.utc_micros), Ok(utc("2024-01-15 13:00:00")));
        assert_eq!(
            ny.parse("2024-07-15 08:00").map(|t| (t.utc_micros, t.offset_seconds)),
            Ok((utc("2024-07-15 12:00:00"), -4 * 3600))
        );
        // 02:30 on 2024-03-10 never happened in New York.
        assert_eq!(ny.parse("2024-03-10 02:30"), Err(StampError::InGap));
        // 01:30 on 2024-11-03 happened twice: the first (EDT) is taken.
        assert_eq!(ny.parse("2024-11-03 01:30").map(|t| t.offset_seconds), Ok(-4 * 3600));
    }

    #[test]
    fn bad_text_and_bad_settings_are_refused() {
        let p = TimestampParser::new(None, Some("UTC")).expect("valid");
        for s in ["2024-02-30 10:00", "2024-03-05", "05/03/2024 10:00", "2024-03-05T25:00", "2024-03-05T10:00+5"] {
            assert_eq!(p.parse(s), Err(StampError::Invalid), "{s}");
        }
        assert!(TimestampParser::new(None, Some("Mars/Olympus")).is_err());
        assert!(TimestampParser::new(Some("%d/%m/%Y"), None).is_err());
        let us = TimestampParser::new(Some("%m/%d/%Y %I:%M %p"), Some("America/Chicago")).expect("valid");
        assert_eq!(us.parse("03/05/2024 01:03 PM").map(|t| t.utc_micros), Ok(utc("2024-03-05 19:03:00")));
    }

    #[test]
    fn a_named_zone_gives_the_offset_of_the_instant() {
        let z = Zone::parse("america/chicago").expect("zone");
        assert_eq!(z.offset_at(utc("2024-01-15 12:00:00") / 1_000_000), -6 * 3600);
        assert_eq!(z.offset_at(utc("2024-07-15 12:00:00") / 1_000_000), -5 * 3600);
        assert_eq!(Zone::parse("+05:30"), Some(Zone::Fixed(19_800)));
    }
}
