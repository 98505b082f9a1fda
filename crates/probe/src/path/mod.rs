//! Path quality: kernel TCP_INFO of every connection, the bytes each phase
//! moved (stall detection), a small-MSS retry that confirms an MTU black
//! hole, and repeated handshakes (success rate, loss, RTT, jitter). The
//! measurements live in [`measure`]; the rules over them in `crate::rules::path`.

mod measure;
mod tcp_info;

use serde::Serialize;

use crate::report::PhaseName;

pub(crate) use measure::after_probe;
pub(crate) use tcp_info::Tap;
pub use tcp_info::{tcp_info, TcpInfo};

/// The MSS the MTU retry asks for: the IPv4 minimum every path carries (RFC 879).
pub const SMALL_MSS: u32 = 536;

/// Most repeated handshakes one probe makes (bounded memory and time).
pub const MAX_REPEAT: u32 = 1000;

/// How a phase ended on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseEnd {
    /// The exchange completed (an answer, even a refusal, came).
    Completed,
    /// The connection stayed open and the answer did not come before the deadline.
    TimedOut,
    /// The connection was reset (RST).
    Reset,
    /// The peer closed the connection (FIN).
    Closed,
    /// Another failure on a live connection (an answer that is not what the phase expects).
    Failed,
}

/// What one phase moved on its connection, from the kernel's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseTraffic {
    pub phase: PhaseName,
    /// New data bytes put on the wire (retransmissions not counted again).
    pub bytes_sent: u64,
    /// Of the bytes sent, those the server's TCP acknowledged.
    pub bytes_acked: u64,
    /// Bytes that came back in order.
    pub bytes_received: u64,
    pub retransmits: u32,
    pub end: PhaseEnd,
    /// The counts come from the kernel (false where TCP_INFO does not exist: they are then 0).
    pub counted: bool,
}

impl PhaseTraffic {
    /// One line of evidence.
    pub fn describe(&self) -> String {
        let end = match self.end {
            PhaseEnd::Completed => "completed",
            PhaseEnd::TimedOut => "then nothing until the deadline",
            PhaseEnd::Reset => "then a reset",
            PhaseEnd::Closed => "then the server closed",
            PhaseEnd::Failed => "failed",
        };
        if !self.counted {
            return format!(
                "{}: {end} (no kernel byte counts on this system)",
                self.phase.label()
            );
        }
        format!(
            "{}: {} byte(s) sent ({} acknowledged by the server's TCP), {} received, {} retransmission(s), {end}",
            self.phase.label(),
            self.bytes_sent,
            self.bytes_acked,
            self.bytes_received,
            self.retransmits,
        )
    }
}

/// Kernel statistics of one connection the probe made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// What the connection was for (`mstsc request`, `matrix PROTOCOL_SSL`, `repeat 3`, `small-MSS retry`).
    pub role: String,
    /// Time from the X.224 request to its answer (an application-level round trip).
    pub answer_ms: Option<f64>,
    #[serde(flatten)]
    pub tcp: TcpInfo,
}

/// The retry with a small MSS after TLS stalled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MssRetry {
    /// The MSS asked for in the SYN (TCP_MAXSEG before connect).
    pub mss: u32,
    /// The MSS the connection ended up with.
    pub effective_mss: Option<u32>,
    pub connected: bool,
    pub x224_ok: bool,
    /// The TLS handshake completed on the small-MSS connection.
    pub tls_completed: bool,
    /// Bytes the server sent during the retry's TLS handshake.
    pub tls_bytes_received: u64,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// One repeated handshake.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Attempt {
    pub ok: bool,
    /// Where it failed.
    pub failed_at: Option<PhaseName>,
    pub error: Option<String>,
    /// It failed by a deadline (the signature of loss), not by an answer.
    pub timed_out: bool,
    pub connect_ms: Option<f64>,
    /// X.224 request to answer.
    pub answer_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    /// Connect to the end of the last step.
    pub handshake_ms: f64,
    pub rtt_ms: Option<f64>,
    pub retransmits: u32,
}

impl Attempt {
    /// Marks the attempt failed at `phase`.
    pub(crate) fn fail(&mut self, phase: PhaseName, error: String, timed_out: bool) {
        self.ok = false;
        self.failed_at = Some(phase);
        self.error = Some(error);
        self.timed_out = timed_out;
    }
}

/// Minimum, median and maximum of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for an empty series.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            min: v[0],
            median: round2(median),
            max: v[n - 1],
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Mean absolute difference of consecutive values (RFC 3550's idea, unsmoothed).
pub fn jitter(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let sum: f64 = values.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    Some(round2(sum / (values.len() - 1) as f64))
}

/// N handshakes one after another, and what they show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatStats {
    pub requested: u32,
    pub attempts: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// Failures by deadline: lost SYNs or answers.
    pub timeouts: u32,
    /// succeeded / attempts, 0..1.
    pub success_rate: f64,
    /// What one handshake is: `tcp+x224` or `tcp+x224+tls`.
    pub handshake: String,
    /// Over the successful handshakes.
    pub handshake_ms: Option<Spread>,
    /// Mean absolute difference of consecutive successful handshake times.
    pub jitter_ms: Option<f64>,
    /// X.224 request-to-answer times: the application-level RTT.
    pub answer_ms: Option<Spread>,
    /// Kernel smoothed RTT per connection.
    pub kernel_rtt_ms: Option<Spread>,
    pub retransmits: u32,
    /// Handshakes asked for but not made.
    pub not_run: u32,
    /// Why some were not made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run_reason: Option<NotRun>,
    pub runs: Vec<Attempt>,
}

/// Why asked-for handshakes were not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRun {
    /// The total budget (`--timeout`) ran out first.
    BudgetExhausted,
    /// The host has no address to connect to.
    NoAddress,
}

impl RepeatStats {
    /// Builds the statistics from the attempts made; those of the `requested`
    /// not made are counted as not run for lack of time.
    pub fn from_attempts(requested: u32, handshake: &str, runs: Vec<Attempt>) -> Self {
        let ok: Vec<&Attempt> = runs.iter().filter(|a| a.ok).collect();
        let times: Vec<f64> = ok.iter().map(|a| a.handshake_ms).collect();
        let answers: Vec<f64> = ok.iter().filter_map(|a| a.answer_ms).collect();
        let rtts: Vec<f64> = runs.iter().filter_map(|a| a.rtt_ms).collect();
        let attempts = runs.len() as u32;
        let succeeded = ok.len() as u32;
        Self {
            requested,
            attempts,
            succeeded,
            failed: attempts - succeeded,
            timeouts: runs.iter().filter(|a| !a.ok && a.timed_out).count() as u32,
            success_rate: if attempts == 0 {
                0.0
            } else {
                round2(f64::from(succeeded) / f64::from(attempts))
            },
            handshake: handshake.to_string(),
            handshake_ms: Spread::of(&times),
            jitter_ms: jitter(&times),
            answer_ms: Spread::of(&answers),
            kernel_rtt_ms: Spread::of(&rtts),
            retransmits: runs.iter().map(|a| a.retransmits).sum(),
            not_run: requested.saturating_sub(attempts),
            not_run_reason: (requested > attempts).then_some(NotRun::BudgetExhausted),
            runs,
        }
    }
}

/// Everything the path tests learned.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PathFacts {
    /// Kernel TCP_INFO of the connections the probe made (main connection, support matrix, retries, repeats).
    pub connections: Vec<ConnectionInfo>,
    /// The bytes each phase moved on its connection.
    pub traffic: Vec<PhaseTraffic>,
    /// The small-MSS retry, made when TLS stalled.
    pub mss_retry: Option<MssRetry>,
    /// The repeated handshakes (`--repeat N`).
    pub repeat: Option<RepeatStats>,
}

impl PathFacts {
    /// The traffic of `phase`, when it ran.
    pub fn traffic_of(&self, phase: PhaseName) -> Option<&PhaseTraffic> {
        self.traffic.iter().find(|t| t.phase == phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_jitter() {
        assert_eq!(Spread::of(&[]), None);
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 10.0));
        assert_eq!(jitter(&[10.0]), None);
        // |20-10| + |10-20| + |40-10| = 50 over 3 differences.
        assert_eq!(jitter(&[10.0, 20.0, 10.0, 40.0]), Some(16.67));
        assert_eq!(jitter(&[5.0, 5.0, 5.0]), Some(0.0));
    }

    fn run(ok: bool, ms: f64, timed_out: bool) -> Attempt {
        Attempt {
            ok,
            failed_at: (!ok).then_some(PhaseName::Tcp),
            error: (!ok).then(|| "TimedOut".to_string()),
            timed_out,
            connect_ms: ok.then_some(0.1),
            answer_ms: ok.then_some(ms / 2.0),
            tls_ms: None,
            handshake_ms: ms,
            rtt_ms: Some(0.05),
            retransmits: 0,
        }
    }

    #[test]
    fn repeat_stats_count_failures_and_timeouts() {
        let runs = vec![
            run(true, 2.0, false),
            run(false, 800.0, true),
            run(true, 4.0, false),
            run(false, 1.0, false),
        ];
        let s = RepeatStats::from_attempts(5, "tcp+x224", runs);
        assert_eq!(
            (s.attempts, s.succeeded, s.failed, s.timeouts),
            (4, 2, 2, 1)
        );
        assert_eq!(s.success_rate, 0.5);
        // The fifth asked for was not made: counted, with its reason.
        assert_eq!((s.requested, s.not_run), (5, 1));
        assert_eq!(s.not_run_reason, Some(NotRun::BudgetExhausted));
        // Only successful handshakes count for the times.
        let h = s.handshake_ms.unwrap();
        assert_eq!((h.min, h.max), (2.0, 4.0));
        assert_eq!(s.jitter_ms, Some(2.0));
    }
}
