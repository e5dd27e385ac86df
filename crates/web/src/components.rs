//! Small rendering pieces shared by the portal and the admin interface.
//!
//! [`When`] shows a moment as people read it ("3 minutes ago") inside a
//! `<time>` whose `datetime` carries the exact instant and whose `title` the
//! date and time (UTC here; `/static/time.js` rewrites it in the reader's
//! local time). Pages never print a raw ISO string as text.

use std::fmt;

use gatehouse_core::Timestamp;

/// A moment relative to `now`, rendered as a `<time>` element (use `|safe`:
/// every part is made here from numbers, none comes from a person).
#[derive(Debug, Clone, Copy)]
pub struct When {
    pub at: Timestamp,
    pub now: Timestamp,
}

/// A moment, or `never` when there is none.
pub fn when(at: Option<Timestamp>, now: Timestamp) -> MaybeWhen {
    MaybeWhen(at.map(|at| When { at, now }))
}

/// [`When`] or the word "never".
#[derive(Debug, Clone, Copy)]
pub struct MaybeWhen(pub Option<When>);

impl fmt::Display for MaybeWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(w) => w.fmt(f),
            None => f.write_str("<span class=\"muted\">never</span>"),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.at.to_rfc3339();
        write!(
            f,
            "<time datetime=\"{iso}\" title=\"{}\">{}</time>",
            utc_label(&iso),
            relative(self.at, self.now)
        )
    }
}

/// `2026-12-06T02:11:34.862Z` → `2026-12-06 02:11 UTC`.
fn utc_label(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => iso.to_string(),
    }
}

/// "just now", "3 minutes ago", "in 2 hours", "5 days ago"; past a month
/// the date.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let secs = (now.millis() - at.millis()) / 1000;
    let (n, future) = (secs.abs(), secs < 0);
    let (count, unit) = match n {
        0..45 => return "just now".into(),
        45..3_600 => ((n + 30) / 60, "minute"),
        3_600..86_400 => ((n + 1_800) / 3_600, "hour"),
        86_400..2_592_000 => ((n + 43_200) / 86_400, "day"),
        _ => return at.to_rfc3339().get(..10).unwrap_or_default().to_string(),
    };
    let count = count.max(1);
    let plural = if count == 1 { "" } else { "s" };
    if future {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

/// A duration in words, rounded down to its largest unit: "3 days", "5 hours".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (count, unit) = match secs {
        0..60 => (secs, "second"),
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn moments_read_as_people_say_them() {
        assert_eq!(relative(NOW, NOW), "just now");
        assert_eq!(relative(NOW.minus_seconds(180), NOW), "3 minutes ago");
        assert_eq!(relative(NOW.minus_seconds(3_600), NOW), "1 hour ago");
        assert_eq!(relative(NOW.plus_seconds(7_200), NOW), "in 2 hours");
        assert_eq!(relative(NOW.minus_seconds(5 * 86_400), NOW), "5 days ago");
        assert_eq!(relative(NOW.minus_seconds(90 * 86_400), NOW), "2026-10-17");
        assert_eq!(duration(3 * 86_400 + 5), "3 days");
        assert_eq!(duration(1), "1 second");
    }

    #[test]
    fn the_element_carries_the_instant_and_never_prints_it() {
        let html = When {
            at: NOW.minus_seconds(180),
            now: NOW,
        }
        .to_string();
        assert!(html.starts_with("<time datetime=\"2027-01-15T07:57:00"), "{html}");
        assert!(html.contains("title=\"2027-01-15 07:57 UTC\""), "{html}");
        assert!(html.ends_with(">3 minutes ago</time>"), "{html}");
        assert_eq!(when(None, NOW).to_string(), "<span class=\"muted\">never</span>");
    }
}
