//! `rdp-doctor check`: a monitoring plugin (Nagios / Icinga / Naemon plugin API).
//!
//! One status line, `RDP OK - HOST:PORT TLSv1.3, handshake 12.3 ms | perfdata`, then
//! long output (the problems found, one per line); exit 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN. Performance data: each phase's time, the handshake with the thresholds,
//! and the certificate's days left with theirs (`14:` means "alert below 14", the
//! plugin API's range syntax).

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use rdp_doctor_probe::{ProbeOptions, ProbeReport, Status};

/// `check`'s options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HOST, HOST:PORT or [IPv6]:PORT.
    target: String,

    /// Port when TARGET names none.
    #[arg(long, default_value_t = 3389)]
    port: u16,

    /// WARNING when the handshake (DNS to the last phase) takes longer, in milliseconds.
    #[arg(long, value_name = "MS")]
    warning_ms: Option<f64>,

    /// CRITICAL when the handshake takes longer, in milliseconds.
    #[arg(long, value_name = "MS")]
    critical_ms: Option<f64>,

    /// WARNING when the certificate expires in fewer days.
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    cert_warning_days: i64,

    /// CRITICAL when the certificate expires in fewer days (or has expired).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    cert_critical_days: i64,

    /// Total time budget in seconds; a server that does not answer in time is CRITICAL.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,

    /// Check the certificate against this name instead of the target's host.
    #[arg(long, value_name = "NAME")]
    tls_name: Option<String>,
}

/// The plugin API's states, in exit-code order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// The thresholds the state is judged by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warning_ms: Option<f64>,
    pub critical_ms: Option<f64>,
    pub cert_warning_days: i64,
    pub cert_critical_days: i64,
}

/// What the plugin prints: the state, the status text, performance data and long output.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: State,
    pub text: String,
    pub perfdata: Vec<String>,
    pub long: Vec<String>,
}

impl Verdict {
    /// The plugin's output: `RDP STATE - text | perfdata`, then the long lines.
    pub fn output(&self) -> String {
        let mut s = format!("RDP {} - {}", self.state.word(), self.text);
        if !self.perfdata.is_empty() {
            let _ = write!(s, " | {}", self.perfdata.join(" "));
        }
        s.push('\n');
        for l in &self.long {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    fn unknown(text: impl Into<String>) -> Self {
        Verdict {
            state: State::Unknown,
            text: clean(&text.into()),
            perfdata: Vec::new(),
            long: Vec::new(),
        }
    }
}

/// Text from outside on one line, without the `|` that starts performance data.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A number as performance data wants it: no exponent, at most 3 decimals.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A threshold as the user gave it (Rust prints floats without an exponent).
fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The handshake's time: the phases of the main connection that ran.
fn handshake_ms(r: &ProbeReport) -> f64 {
    r.phases
        .iter()
        .filter(|p| p.status != Status::Skipped && p.duration_ms.is_finite())
        .map(|p| p.duration_ms.max(0.0))
        .sum()
}

/// The state of a probe report under thresholds: a pure rule.
pub fn evaluate(r: &ProbeReport, t: &Thresholds) -> Verdict {
    let mut state = State::Ok;
    let mut long = Vec::new();
    let mut raise = |s: State, why: String, long: &mut Vec<String>| {
        state = state.max(s);
        long.push(clean(&why));
    };
    let total = handshake_ms(r);
    for p in &r.phases {
        match p.status {
            Status::Fail => raise(
                State::Critical,
                format!("{}: {}", p.name.label(), p.summary),
                &mut long,
            ),
            Status::Warn => raise(
                State::Warning,
                format!("{}: {}", p.name.label(), p.summary),
                &mut long,
            ),
            _ => {}
        }
    }
    if r.budget_exhausted {
        raise(
            State::Critical,
            "the time budget ran out before every phase was done".into(),
            &mut long,
        );
    }
    if let Some(c) = t.critical_ms.filter(|c| total > *c) {
        raise(
            State::Critical,
            format!("handshake {} ms is over {} ms", num(total), num(c)),
            &mut long,
        );
    } else if let Some(w) = t.warning_ms.filter(|w| total > *w) {
        raise(
            State::Warning,
            format!("handshake {} ms is over {} ms", num(total), num(w)),
            &mut long,
        );
    }
    let days = r.tls.as_ref().and_then(|t| t.days_left);
    if let Some(d) = days {
        if d < t.cert_critical_days {
            raise(
                State::Critical,
                format!("certificate expires in {d} day(s)"),
                &mut long,
            );
        } else if d < t.cert_warning_days {
            raise(
                State::Warning,
                format!("certificate expires in {d} day(s)"),
                &mut long,
            );
        }
    }
    Verdict {
        state,
        text: clean(&status_text(r, total, state, &long)),
        perfdata: perfdata(r, total, days, t),
        long,
    }
}

/// OK: the TLS version, the handshake time and the certificate's days; otherwise the
/// first problem, and how many more the long output lists.
fn status_text(r: &ProbeReport, total: f64, state: State, problems: &[String]) -> String {
    let mut s = r.authority();
    match problems.first() {
        Some(first) if state != State::Ok => {
            let _ = write!(s, " {first}");
            if problems.len() > 1 {
                let _ = write!(s, " (+{} more)", problems.len() - 1);
            }
        }
        _ => {
            if let Some(v) = r.tls.as_ref().and_then(|t| t.version.as_deref()) {
                let _ = write!(s, " {v},");
            }
            let _ = write!(s, " handshake {} ms", num(total));
            if let Some(d) = r.tls.as_ref().and_then(|t| t.days_left) {
                let _ = write!(s, ", certificate {d} day(s) left");
            }
        }
    }
    s
}

fn perfdata(r: &ProbeReport, total: f64, days: Option<i64>, t: &Thresholds) -> Vec<String> {
    let mut p: Vec<String> = r
        .phases
        .iter()
        .filter(|ph| ph.status != Status::Skipped)
        .map(|ph| {
            let key = serde_json::to_value(ph.name)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("'{key}'={}ms;;;0;", num(ph.duration_ms.max(0.0)))
        })
        .collect();
    p.push(format!(
        "'handshake'={}ms;{};{};0;",
        num(total),
        opt(t.warning_ms),
        opt(t.critical_ms)
    ));
    if let Some(d) = days {
        p.push(format!(
            "'cert_days'={d}d;{}:;{}:;;",
            t.cert_warning_days, t.cert_critical_days
        ));
    }
    p
}

fn options(a: &Args) -> Result<ProbeOptions, String> {
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 600.0) {
        return Err("--timeout must be a number of seconds in (0, 600]".into());
    }
    for (v, name) in [
        (a.warning_ms, "--warning-ms"),
        (a.critical_ms, "--critical-ms"),
    ] {
        if v.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            return Err(format!("{name} must be a number of milliseconds >= 0"));
        }
    }
    let total = Duration::from_secs_f64(a.timeout);
    let step = total.min(Duration::from_secs(3));
    Ok(ProbeOptions {
        default_port: a.port,
        total_budget: total,
        connect_timeout: step,
        io_timeout: step,
        // What mstsc asks only: one connection, so the handshake time is one client's.
        protocol_matrix: false,
        ntlm_info: true,
        tls_name: a.tls_name.clone(),
        repeat: 0,
    })
}

fn verdict(a: &Args) -> Verdict {
    let opts = match options(a) {
        Ok(o) => o,
        Err(e) => return Verdict::unknown(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Verdict::unknown(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(rdp_doctor_probe::probe(&a.target, &opts)) {
        Ok(report) => evaluate(
            &report,
            &Thresholds {
                warning_ms: a.warning_ms,
                critical_ms: a.critical_ms,
                cert_warning_days: a.cert_warning_days,
                cert_critical_days: a.cert_critical_days,
            },
        ),
        Err(e) => Verdict::unknown(e.to_string()),
    }
}

/// `check`: prints the plugin output and returns the plugin API's exit code.
pub fn run(a: &Args) -> ExitCode {
    let v = verdict(a);
    let mut out = std::io::stdout().lock();
    // A monitoring system that closed the pipe has gone; the code still tells the state.
    let _ = out.write_all(v.output().as_bytes());
    let _ = out.flush();
    ExitCode::from(v.state as u8)
}

/// A command line `check` could not parse is UNKNOWN (exit 3), as the plugin API asks;
/// other commands keep clap's exit 2. Help and version print as usual.
pub fn exit_on_parse_error(e: clap::Error) -> ! {
    let is_check = std::env::args().nth(1).as_deref() == Some("check");
    if is_check && e.use_stderr() {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or("bad arguments");
        println!(
            "RDP UNKNOWN - {}",
            clean(first.trim_start_matches("error: "))
        );
        std::process::exit(State::Unknown as i32);
    }
    e.exit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_doctor_probe::{Phase, PhaseName};

    fn report(phases: &[(PhaseName, Status, f64)]) -> ProbeReport {
        let mut r = ProbeReport::new("h", "127.0.0.1", 3389);
        r.phases = phases
            .iter()
            .map(|(name, status, ms)| Phase {
                name: *name,
                status: *status,
                duration_ms: *ms,
                summary: format!("{} | done", name.label()),
                evidence: Vec::new(),
            })
            .collect();
        r
    }

    const T: Thresholds = Thresholds {
        warning_ms: Some(50.0),
        critical_ms: Some(100.0),
        cert_warning_days: 14,
        cert_critical_days: 7,
    };

    #[test]
    fn thresholds_on_the_handshake_time() {
        let ok = report(&[
            (PhaseName::Tcp, Status::Ok, 0.25),
            (PhaseName::X224, Status::Ok, 10.0),
        ]);
        let v = evaluate(&ok, &T);
        assert_eq!(v.state, State::Ok);
        assert!(v.output().starts_with("RDP OK - 127.0.0.1:3389 handshake 10.25 ms | 'tcp'=0.25ms;;;0; 'x224'=10ms;;;0; 'handshake'=10.25ms;50;100;0;\n"), "{}", v.output());
        let slow = report(&[(PhaseName::X224, Status::Ok, 60.0)]);
        assert_eq!(evaluate(&slow, &T).state, State::Warning);
        let slower = report(&[(PhaseName::X224, Status::Ok, 160.0)]);
        assert_eq!(evaluate(&slower, &T).state, State::Critical);
    }

    #[test]
    fn failed_phase_is_critical_and_server_text_cannot_inject_perfdata() {
        let r = report(&[(PhaseName::Tcp, Status::Fail, 1.0)]);
        let v = evaluate(&r, &T);
        assert_eq!(v.state, State::Critical);
        let first = v.output();
        let first = first.lines().next().unwrap_or_default().to_string();
        assert_eq!(first.matches('|').count(), 1, "{first}");
        assert!(first.contains("TCP: TCP / done"), "{first}");
    }

    #[test]
    fn certificate_days() {
        let mut r = report(&[(PhaseName::Tls, Status::Ok, 1.0)]);
        let mut tls = rdp_doctor_probe::TlsFacts {
            version: Some("TLSv1.3".into()),
            cipher: None,
            chain: Vec::new(),
            name_matches: None,
            expired: None,
            not_yet_valid: None,
            days_left: Some(10),
            failure: None,
            server_sent: None,
            server_first_byte: None,
        };
        r.tls = Some(tls.clone());
        let v = evaluate(&r, &T);
        assert_eq!(v.state, State::Warning);
        assert!(
            v.perfdata.contains(&"'cert_days'=10d;14:;7:;;".to_string()),
            "{:?}",
            v.perfdata
        );
        tls.days_left = Some(-3);
        r.tls = Some(tls);
        assert_eq!(evaluate(&r, &T).state, State::Critical);
    }

    #[test]
    fn numbers() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(1e-9), "0");
    }
}
