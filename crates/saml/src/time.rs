//! xs:dateTime as SAML uses it (UTC).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the epoch of an xs:dateTime with a zone (`Z` or offset).
pub fn parse_instant(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `2026-11-29T05:00:00Z` (whole seconds, UTC).
pub fn format_instant(millis: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ms = parse_instant("2026-11-29T05:00:01Z").unwrap();
        assert_eq!(format_instant(ms), "2026-11-29T05:00:01Z");
        assert_eq!(parse_instant("2026-11-29T05:00:01.500Z"), Some(ms + 500));
        assert!(parse_instant("yesterday").is_none());
    }
}
