//! The HTTP side: `/probe`, `/metrics`, `/-/reload`, and the SIGHUP reload.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::config::{Config, Module};
use super::metrics::{render, Sample};

/// What a prober returns: whether the target is healthy, and its metrics.
pub struct ProbeOutcome {
    pub success: bool,
    pub samples: Vec<Sample>,
}

/// One protocol's prober, behind the exporter's uniform interface.
pub trait Prober: Send + Sync + 'static {
    /// Probes `target` (host or host:port) with `module`'s settings. Must
    /// finish within the module's timeout (the exporter also enforces it).
    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: &'a Module,
    ) -> Pin<Box<dyn Future<Output = ProbeOutcome> + Send + 'a>>;
}

struct Counters {
    probes_ok: AtomicU64,
    probes_failed: AtomicU64,
    rejected_not_allowed: AtomicU64,
    rejected_busy: AtomicU64,
    rejected_bad_request: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    last_reload_ok: AtomicU64,
    last_reload_success_time: AtomicU64,
}

struct Shared<P> {
    prober: P,
    config_path: PathBuf,
    config: RwLock<Arc<Config>>,
    /// Replaced on reload when max_concurrent_probes changes; in-flight probes keep the old one.
    permits: RwLock<Arc<Semaphore>>,
    in_flight: AtomicU64,
    counters: Counters,
}

/// The exporter: a prober, its configuration and counters.
pub struct Exporter<P> {
    shared: Arc<Shared<P>>,
}

impl<P> Clone for Exporter<P> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct ProbeParams {
    target: Option<String>,
    module: Option<String>,
}

impl<P: Prober> Exporter<P> {
    /// Loads the configuration and builds the exporter.
    pub fn new(prober: P, config_path: PathBuf) -> Result<Self, super::config::ConfigError> {
        let config = Config::load(&config_path)?;
        let permits = Arc::new(Semaphore::new(config.max_concurrent_probes));
        Ok(Self {
            shared: Arc::new(Shared {
                prober,
                config_path,
                config: RwLock::new(Arc::new(config)),
                permits: RwLock::new(permits),
                in_flight: AtomicU64::new(0),
                counters: Counters {
                    probes_ok: AtomicU64::new(0),
                    probes_failed: AtomicU64::new(0),
                    rejected_not_allowed: AtomicU64::new(0),
                    rejected_busy: AtomicU64::new(0),
                    rejected_bad_request: AtomicU64::new(0),
                    reloads_ok: AtomicU64::new(0),
                    reloads_failed: AtomicU64::new(0),
                    last_reload_ok: AtomicU64::new(1),
                    last_reload_success_time: AtomicU64::new(now_secs()),
                },
            }),
        })
    }

    fn config(&self) -> Arc<Config> {
        match self.shared.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the configuration file; on error the old one stays in force.
    /// Either way the result is logged to standard error.
    pub fn reload(&self) -> Result<(), String> {
        let result = self.load_again();
        match &result {
            Ok(()) => eprintln!("rdp-doctor serve: configuration reloaded"),
            Err(e) => eprintln!("rdp-doctor serve: reload failed, old configuration kept: {e}"),
        }
        result
    }

    fn load_again(&self) -> Result<(), String> {
        let c = &self.shared.counters;
        match Config::load(&self.shared.config_path) {
            Ok(new) => {
                let old_max = self.config().max_concurrent_probes;
                if new.max_concurrent_probes != old_max {
                    let sem = Arc::new(Semaphore::new(new.max_concurrent_probes));
                    match self.shared.permits.write() {
                        Ok(mut p) => *p = sem,
                        Err(poisoned) => *poisoned.into_inner() = sem,
                    }
                }
                match self.shared.config.write() {
                    Ok(mut cfg) => *cfg = Arc::new(new),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(new),
                }
                c.reloads_ok.fetch_add(1, Ordering::Relaxed);
                c.last_reload_ok.store(1, Ordering::Relaxed);
                c.last_reload_success_time
                    .store(now_secs(), Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                c.reloads_failed.fetch_add(1, Ordering::Relaxed);
                c.last_reload_ok.store(0, Ordering::Relaxed);
                Err(e.to_string())
            }
        }
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/probe", get(probe_handler::<P>))
            .route("/metrics", get(metrics_handler::<P>))
            .route("/-/reload", post(reload_handler::<P>))
            .with_state(self.clone())
    }

    /// Serves on `listener` until the process ends; reloads on SIGHUP (Unix) and POST /-/reload.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let me = self.clone();
            tokio::spawn(async move {
                let Ok(mut hup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    return;
                };
                while hup.recv().await.is_some() {
                    // reload() logs its result.
                    let _ = me.reload();
                }
            });
        }
        axum::serve(listener, self.router()).await
    }

    async fn run_probe(&self, params: ProbeParams) -> Response {
        let counters = &self.shared.counters;
        let config = self.config();
        let bad = |msg: String| {
            counters
                .rejected_bad_request
                .fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, msg).into_response()
        };
        let Some(target) = params.target.filter(|t| !t.is_empty()) else {
            return bad("target parameter is missing\n".into());
        };
        let module_name = params.module.unwrap_or_else(|| "rdp".to_string());
        let Some(module) = config.modules.get(&module_name).cloned() else {
            return bad(format!("unknown module {module_name:?}\n"));
        };
        let Ok(rdp_doctor_probe::Target { host, .. }) =
            rdp_doctor_probe::Target::parse(&target, 3389)
        else {
            return bad(format!("target {target:?} is not host[:port]\n"));
        };
        if !config.allow.allows(&host) {
            counters
                .rejected_not_allowed
                .fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::FORBIDDEN,
                format!(
                    "target {host:?} is not in the allowlist of {}\n",
                    self.shared.config_path.display()
                ),
            )
                .into_response();
        }
        let permits = match self.shared.permits.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        // Waiting for a slot counts against the probe's own budget.
        let started = Instant::now();
        let permit = match tokio::time::timeout(module.timeout(), permits.acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => {
                counters.rejected_busy.fetch_add(1, Ordering::Relaxed);
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many probes in flight\n",
                )
                    .into_response();
            }
        };
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let remaining = module.timeout().saturating_sub(started.elapsed());
        let budget = Module {
            timeout_secs: remaining.as_secs_f64().max(0.001),
            ..module.clone()
        };
        // A margin over the budget so a prober that honours it is never cut short.
        let hard_deadline = remaining + Duration::from_millis(500);
        let outcome =
            tokio::time::timeout(hard_deadline, self.shared.prober.probe(&target, &budget)).await;
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        let elapsed = started.elapsed().as_secs_f64();
        let (success, mut samples) = match outcome {
            Ok(o) => (o.success, o.samples),
            Err(_) => (false, Vec::new()),
        };
        if success {
            counters.probes_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.probes_failed.fetch_add(1, Ordering::Relaxed);
        }
        samples.insert(
            0,
            Sample::gauge(
                "rdp_probe_success",
                "Whether the probe succeeded (1) or not (0).",
                if success { 1.0 } else { 0.0 },
            ),
        );
        samples.insert(
            1,
            Sample::gauge(
                "rdp_probe_duration_seconds",
                "How long the probe took, in seconds.",
                elapsed,
            ),
        );
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render(&samples),
        )
            .into_response()
    }

    fn self_metrics(&self) -> String {
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut samples = vec![
            Sample::counter(
                "rdp_exporter_probes_total",
                "Probes run, by result.",
                load(&c.probes_ok),
            )
            .label("result", "success"),
            Sample::counter(
                "rdp_exporter_probes_total",
                "Probes run, by result.",
                load(&c.probes_failed),
            )
            .label("result", "failure"),
            Sample::counter(
                "rdp_exporter_requests_rejected_total",
                "Probe requests refused, by reason.",
                load(&c.rejected_not_allowed),
            )
            .label("reason", "not_allowed"),
            Sample::counter(
                "rdp_exporter_requests_rejected_total",
                "Probe requests refused, by reason.",
                load(&c.rejected_busy),
            )
            .label("reason", "busy"),
            Sample::counter(
                "rdp_exporter_requests_rejected_total",
                "Probe requests refused, by reason.",
                load(&c.rejected_bad_request),
            )
            .label("reason", "bad_request"),
            Sample::gauge(
                "rdp_exporter_probes_in_flight",
                "Probes running now.",
                load(&self.shared.in_flight),
            ),
            Sample::gauge(
                "rdp_exporter_max_concurrent_probes",
                "Configured bound on probes running at once.",
                self.config().max_concurrent_probes as f64,
            ),
            Sample::counter(
                "rdp_exporter_config_reloads_total",
                "Configuration reloads, by result.",
                load(&c.reloads_ok),
            )
            .label("result", "success"),
            Sample::counter(
                "rdp_exporter_config_reloads_total",
                "Configuration reloads, by result.",
                load(&c.reloads_failed),
            )
            .label("result", "failure"),
            Sample::gauge(
                "rdp_exporter_config_last_reload_successful",
                "Whether the last configuration reload succeeded.",
                load(&c.last_reload_ok),
            ),
            Sample::gauge(
                "rdp_exporter_config_last_reload_success_timestamp_seconds",
                "Time of the last successful configuration load.",
                load(&c.last_reload_success_time),
            ),
        ];
        samples.extend(process_samples());
        render(&samples)
    }
}

/// Open file descriptors and resident memory of this process (Linux /proc).
fn process_samples() -> Vec<Sample> {
    let mut out = Vec::new();
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(Sample::gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            fds.count() as f64,
        ));
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            out.push(Sample::gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                kb * 1024.0,
            ));
        }
    }
    out
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>rdp-doctor exporter</title></head><body><h1>rdp-doctor exporter</h1>\
         <p><a href=\"/metrics\">/metrics</a> &middot; /probe?target=HOST[:PORT]&amp;module=NAME</p></body></html>\n",
    )
}

async fn probe_handler<P: Prober>(
    State(exporter): State<Exporter<P>>,
    Query(params): Query<ProbeParams>,
) -> Response {
    exporter.run_probe(params).await
}

async fn metrics_handler<P: Prober>(State(exporter): State<Exporter<P>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exporter.self_metrics(),
    )
        .into_response()
}

async fn reload_handler<P: Prober>(State(exporter): State<Exporter<P>>) -> Response {
    match exporter.reload() {
        Ok(()) => (StatusCode::OK, "reloaded\n".to_string()).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed, old configuration kept: {e}\n"),
        )
            .into_response(),
    }
}

/// Binds the listen address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
