//! Server-drawn SVG bar charts of sign-ins: no script, no library, styled by
//! classes from `admin.css` (the CSP forbids inline styles). Each bar pair
//! carries a `<title>` with its figures, so the chart reads on hover and to
//! screen readers.

use std::fmt::Write;

use gatehouse_core::audit::Histogram;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// How the buckets are labelled under the axis.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Hours (UTC), every sixth labelled.
    Hours,
    /// Days (UTC), each labelled with its weekday and date.
    Days,
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn bucket_label(scale: Scale, start_ms: i64) -> String {
    let secs = start_ms.div_euclid(1000);
    match scale {
        Scale::Hours => format!("{:02}:00", secs.rem_euclid(86_400) / 3_600),
        Scale::Days => {
            let days = secs.div_euclid(86_400);
            let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
            let iso = gatehouse_core::Timestamp(start_ms).to_rfc3339();
            format!("{weekday} {}", iso.get(8..10).unwrap_or_default())
        }
    }
}

/// A round upper bound for the axis (1, 2, 5 × 10ⁿ).
fn nice_max(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// The chart of two series of `h` (signed in, failed), titled `title`.
pub fn sign_in_chart(h: &Histogram, scale: Scale, id: &str, title: &str) -> String {
    let empty = Vec::new();
    let ok = h.series.first().map_or(&empty, |s| &s.1);
    let failed = h.series.get(1).map_or(&empty, |s| &s.1);
    let n = ok.len().max(failed.len()).max(1);
    let top = nice_max(ok.iter().chain(failed.iter()).copied().max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.38).max(1.0);
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / top as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart-svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-t\" \
         preserveAspectRatio=\"none\"><title id=\"{id}-t\">{title}</title>"
    );
    for v in [0, top / 2, top] {
        let _ = write!(
            svg,
            "<line class=\"chart-grid\" x1=\"{LEFT}\" x2=\"{WIDTH}\" y1=\"{0:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"chart-axis\" x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{v}</text>",
            y(v),
            LEFT - 6.0,
            y(v) + 4.0
        );
    }
    let step_ms = h.bucket_secs * 1000;
    for i in 0..n {
        let start = h.start.millis() + step_ms * i as i64;
        let (a, b) = (ok.get(i).copied().unwrap_or(0), failed.get(i).copied().unwrap_or(0));
        let x = LEFT + slot * i as f64 + (slot - 2.0 * bar) / 2.0;
        let label = bucket_label(scale, start);
        let _ = write!(
            svg,
            "<g class=\"chart-bucket\"><title>{label}: {a} signed in, {b} failed</title>\
             <rect class=\"bar-ok\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"/>\
             <rect class=\"bar-fail\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"/>\
             <rect class=\"bar-hit\" x=\"{:.1}\" y=\"{TOP}\" width=\"{slot:.1}\" height=\"{plot_h:.1}\"/></g>",
            y(a),
            TOP + plot_h - y(a) + 0.0,
            x + bar,
            y(b),
            TOP + plot_h - y(b),
            LEFT + slot * i as f64,
        );
        let every = match scale {
            Scale::Hours => 6,
            Scale::Days => 1,
        };
        if i % every == 0 {
            let _ = write!(
                svg,
                "<text class=\"chart-axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                LEFT + slot * (i as f64 + 0.5),
                HEIGHT - 6.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::Timestamp;

    #[test]
    fn bars_carry_their_figures_and_axis_is_round() {
        let h = Histogram {
            start: Timestamp(1_800_000_000_000 - 1_800_000_000_000 % 86_400_000),
            bucket_secs: 3_600,
            series: vec![
                ("login".into(), vec![3; 24]),
                ("login_failed".into(), [0, 7].repeat(12)),
            ],
        };
        let svg = sign_in_chart(&h, Scale::Hours, "day", "Sign-ins");
        assert!(svg.contains("<title>00:00: 3 signed in, 0 failed</title>"), "{svg}");
        assert!(svg.contains("<title>01:00: 3 signed in, 7 failed</title>"));
        assert_eq!(svg.matches("class=\"bar-fail\"").count(), 24);
        assert!(svg.contains(">10</text>"), "axis rounds 7 up to 10");
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(11), 20);
        assert_eq!(bucket_label(Scale::Days, 0), "Thu 01");
    }
}
