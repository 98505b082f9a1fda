//! Prometheus text exposition format (version 0.0.4) for a list of samples.
//!
//! Each `/probe` request builds its own small set of samples, as
//! blackbox_exporter does, so a per-request encoder is all that is needed.

use std::fmt::Write;

/// Metric type, as announced in the `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// One sample: a metric name, its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// A gauge without labels.
    pub fn gauge(name: &str, help: &'static str, value: f64) -> Self {
        Self {
            name: name.to_string(),
            help,
            kind: Kind::Gauge,
            labels: Vec::new(),
            value,
        }
    }

    /// A counter without labels.
    pub fn counter(name: &str, help: &'static str, value: f64) -> Self {
        Self {
            kind: Kind::Counter,
            ..Self::gauge(name, help, value)
        }
    }

    /// Adds a label.
    pub fn label(mut self, name: &str, value: impl Into<String>) -> Self {
        self.labels.push((name.to_string(), value.into()));
        self
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        // Fixed precision (microseconds for durations in seconds): no binary
        // rounding noise such as 0.00007000000000000001.
        let fixed = format!("{v:.6}");
        let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
        match trimmed {
            "" | "-0" => "0".to_string(),
            t => t.to_string(),
        }
    }
}

/// Renders samples, grouping each metric family under one HELP/TYPE header
/// (the format requires a family's samples to be contiguous).
pub fn render(samples: &[Sample]) -> String {
    let mut order: Vec<&str> = Vec::new();
    for s in samples {
        if !order.contains(&s.name.as_str()) {
            order.push(&s.name);
        }
    }
    let mut out = String::new();
    for name in order {
        let family: Vec<&Sample> = samples.iter().filter(|s| s.name == name).collect();
        let first = family[0];
        let kind = match first.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(out, "# HELP {name} {}", first.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in family {
            if s.labels.is_empty() {
                let _ = writeln!(out, "{name} {}", format_value(s.value));
            } else {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let _ = writeln!(
                    out,
                    "{name}{{{}}} {}",
                    labels.join(","),
                    format_value(s.value)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_families_and_escapes() {
        let samples = vec![
            Sample::gauge("a", "first", 1.0).label("phase", "tcp"),
            Sample::counter("b_total", "second", 2.0),
            Sample::gauge("a", "first", 0.25).label("phase", "x\"y\\z\n"),
        ];
        assert_eq!(
            render(&samples),
            "# HELP a first\n# TYPE a gauge\na{phase=\"tcp\"} 1\na{phase=\"x\\\"y\\\\z\\n\"} 0.25\n\
             # HELP b_total second\n# TYPE b_total counter\nb_total 2\n"
        );
    }

    #[test]
    fn special_values() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(1.5e20), "150000000000000000000");
        assert_eq!(format_value(-3.0), "-3");
    }

    #[test]
    fn fractions_have_fixed_precision() {
        assert_eq!(format_value(0.07 / 1000.0), "0.00007");
        assert_eq!(format_value(0.1 + 0.2), "0.3");
        assert_eq!(format_value(1e-9), "0");
        assert_eq!(format_value(-2.5), "-2.5");
    }
}
