//! Inline SVG charts drawn from the data: the handshake waterfall (like a browser's
//! network panel) and the plot of repeated handshakes. No script: every number
//! shown is in the markup, and each bar or point carries its data as attributes.

use std::fmt::Write;

use super::esc;

/// How a bar ended, as a CSS class (`ok`, `warn`, `fail`, `skipped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Fail,
    Skipped,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Fail => "fail",
            Tone::Skipped => "skipped",
        }
    }
}

/// One bar of a waterfall.
pub struct Bar {
    /// The attribute that names the bar (`data-phase`, `data-step`) and its value.
    pub attr: &'static str,
    pub key: String,
    pub label: String,
    pub start_ms: f64,
    pub duration_ms: f64,
    pub tone: Tone,
    /// The tooltip: what the phase saw.
    pub detail: String,
}

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 150.0;
const TIME_W: f64 = 90.0;
const ROW_H: f64 = 30.0;
const AXIS_H: f64 = 26.0;

/// A step of 1, 2 or 5 times a power of ten giving at most `max_ticks` ticks up to `end`.
pub fn tick_step(end: f64, max_ticks: usize) -> f64 {
    let end = if end.is_finite() && end > 0.0 {
        end
    } else {
        1.0
    };
    let raw = end / max_ticks.max(1) as f64;
    let pow = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow)
}

/// A duration for people: µs below 0.1 ms, one decimal below 100 ms, whole ms above.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v < 0.1 && v > 0.0 {
        format!("{:.0} µs", v * 1000.0)
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        0.0
    }
}

/// The waterfall: one row per bar, bars placed on a shared time axis.
pub fn waterfall(title: &str, bars: &[Bar]) -> String {
    let end = bars
        .iter()
        .map(|b| finite(b.start_ms) + finite(b.duration_ms))
        .fold(0.0, f64::max);
    let step = tick_step(end, 8);
    let span = (end / step).ceil().max(1.0) * step;
    let plot_w = WIDTH - LABEL_W - TIME_W;
    let x = |t: f64| LABEL_W + finite(t) / span * plot_w;
    let height = AXIS_H + ROW_H * bars.len() as f64 + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart waterfall" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title)
    );
    for i in 0..bars.len() {
        let _ = write!(
            s,
            r#"<rect class="stripe{odd}" x="0" y="{y:.1}" width="{WIDTH}" height="{ROW_H}"/>"#,
            odd = if i % 2 == 1 { " odd" } else { "" },
            y = AXIS_H + ROW_H * i as f64,
        );
    }
    let mut t = 0.0;
    while t <= span + step / 2.0 {
        let _ = write!(
            s,
            r#"<line class="grid" x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1:.1}"/><text class="tick" x="{x:.1}" y="14" text-anchor="middle">{label}</text>"#,
            x = x(t),
            y0 = AXIS_H - 6.0,
            y1 = height - 4.0,
            label = esc(&ms_tick(t, step)),
        );
        t += step;
    }
    for (i, b) in bars.iter().enumerate() {
        let y = AXIS_H + ROW_H * i as f64;
        let x0 = x(b.start_ms);
        // A bar narrower than a pixel would vanish: it is drawn 2 units wide.
        let w = (x(b.start_ms + finite(b.duration_ms)) - x0).max(2.0);
        let _ = write!(
            s,
            r#"<g class="row"><text class="label" x="8" y="{ty:.1}">{label}</text><rect class="bar {tone}" {attr}="{key}" data-start-ms="{start:.3}" data-duration-ms="{dur:.3}" x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{bh}" rx="3"><title>{label}: {time} ({status}). {detail}</title></rect><text class="time" x="{tx:.1}" y="{ty:.1}">{time}</text></g>"#,
            ty = y + ROW_H / 2.0 + 4.5,
            label = esc(&b.label),
            tone = b.tone.class(),
            attr = b.attr,
            key = esc(&b.key),
            start = finite(b.start_ms),
            dur = finite(b.duration_ms),
            by = y + 7.0,
            bh = ROW_H - 14.0,
            time = esc(&ms(b.duration_ms)),
            status = b.tone.class(),
            detail = esc(&b.detail),
            tx = (x0 + w + 6.0).min(WIDTH - TIME_W + 6.0),
        );
    }
    s.push_str("</svg>");
    s
}

/// A tick label with as many decimals as the step needs (0.02 ms steps: two).
fn ms_tick(t: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{t:.decimals$} ms")
}

/// One repeated handshake for the plot.
pub struct Point {
    pub ok: bool,
    pub handshake_ms: f64,
    /// Where and why it failed, for the tooltip.
    pub detail: String,
}

const PLOT_H: f64 = 260.0;
const PAD_L: f64 = 70.0;
const PAD_B: f64 = 30.0;
const PAD_T: f64 = 16.0;

/// Every handshake's time in order, failures marked with a cross on the top edge,
/// the median of the successful ones dashed.
pub fn repeat_plot(points: &[Point], median: Option<f64>) -> String {
    let top = points
        .iter()
        .filter(|p| p.ok)
        .map(|p| finite(p.handshake_ms))
        .fold(0.0, f64::max);
    let step = tick_step(top, 5);
    let span = (top / step).ceil().max(1.0) * step;
    let plot_w = WIDTH - PAD_L - 20.0;
    let n = points.len().max(1) as f64;
    let x = |i: usize| PAD_L + (i as f64 + 0.5) / n * plot_w;
    let y = |v: f64| PAD_T + (1.0 - (finite(v) / span).min(1.0)) * (PLOT_H - PAD_T - PAD_B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart repeat" viewBox="0 0 {WIDTH} {PLOT_H}" role="img" aria-label="handshake times" xmlns="http://www.w3.org/2000/svg">"#
    );
    let mut t = 0.0;
    while t <= span + step / 2.0 {
        let _ = write!(
            s,
            r#"<line class="grid" x1="{PAD_L}" y1="{yy:.1}" x2="{x2}" y2="{yy:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            yy = y(t),
            x2 = WIDTH - 20.0,
            tx = PAD_L - 8.0,
            ty = y(t) + 4.0,
            label = esc(&ms_tick(t, step)),
        );
        t += step;
    }
    if let Some(m) = median.filter(|m| m.is_finite()) {
        let _ = write!(
            s,
            r#"<line class="median" x1="{PAD_L}" y1="{yy:.1}" x2="{x2}" y2="{yy:.1}"><title>median {label}</title></line>"#,
            yy = y(m),
            x2 = WIDTH - 20.0,
            label = esc(&ms(m)),
        );
    }
    let r = (plot_w / n / 2.5).clamp(1.5, 5.0);
    for (i, p) in points.iter().enumerate() {
        let tip = format!("#{}: {}", i + 1, p.detail);
        if p.ok {
            let _ = write!(
                s,
                r#"<circle class="point ok" data-run="{run}" data-ms="{v:.3}" cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}"><title>{tip}</title></circle>"#,
                run = i + 1,
                v = finite(p.handshake_ms),
                cx = x(i),
                cy = y(p.handshake_ms),
                tip = esc(&tip),
            );
        } else {
            let (cx, cy, d) = (x(i), PAD_T + 2.0, r.max(3.5));
            let _ = write!(
                s,
                r#"<g class="point fail" data-run="{run}"><title>{tip}</title><line class="failure" x1="{a:.1}" y1="{b:.1}" x2="{c:.1}" y2="{e:.1}"/><line class="failure" x1="{a:.1}" y1="{e:.1}" x2="{c:.1}" y2="{b:.1}"/><line class="failure-drop" x1="{cx:.1}" y1="{e:.1}" x2="{cx:.1}" y2="{bottom:.1}"/></g>"#,
                run = i + 1,
                tip = esc(&tip),
                a = cx - d,
                b = cy,
                c = cx + d,
                e = cy + 2.0 * d,
                bottom = PLOT_H - PAD_B,
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{PAD_L}" y1="{yb}" x2="{x2}" y2="{yb}"/><text class="tick" x="{PAD_L}" y="{ty}">1</text><text class="tick" x="{x2}" y="{ty}" text-anchor="end">{n} handshakes</text></svg>"#,
        yb = PLOT_H - PAD_B,
        x2 = WIDTH - 20.0,
        ty = PLOT_H - PAD_B + 18.0,
        n = points.len(),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_show_the_step() {
        assert_eq!(ms_tick(0.04, 0.02), "0.04 ms");
        assert_eq!(ms_tick(0.5, 0.1), "0.5 ms");
        assert_eq!(ms_tick(40.0, 20.0), "40 ms");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(10.0, 8), 2.0);
        assert_eq!(tick_step(0.9, 8), 0.2);
        assert_eq!(tick_step(730.0, 8), 100.0);
        assert_eq!(tick_step(0.0, 8), 0.2);
        assert_eq!(tick_step(f64::NAN, 8), 0.2);
    }

    #[test]
    fn one_bar_per_row_with_escaped_text() {
        let bars = [Bar {
            attr: "data-phase",
            key: "tls".into(),
            label: "TLS".into(),
            start_ms: 1.0,
            duration_ms: 2.5,
            tone: Tone::Ok,
            detail: "<script>alert(1)</script>".into(),
        }];
        let svg = waterfall("w", &bars);
        assert_eq!(svg.matches("data-phase=\"tls\"").count(), 1);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("2.5 ms"));
    }

    #[test]
    fn failures_are_marked() {
        let pts = [
            Point {
                ok: true,
                handshake_ms: 3.0,
                detail: "ok".into(),
            },
            Point {
                ok: false,
                handshake_ms: 800.0,
                detail: "timed out".into(),
            },
        ];
        let svg = repeat_plot(&pts, Some(3.0));
        assert_eq!(svg.matches("class=\"point fail\"").count(), 1);
        assert_eq!(svg.matches("class=\"point ok\"").count(), 1);
    }
}
