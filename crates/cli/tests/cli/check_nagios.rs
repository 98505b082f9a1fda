//! `rdp-doctor check` run by a real Nagios Core (Debian's nagios4) as a service
//! check against xrdp on loopback: the states Nagios records in its status.dat.

use crate::support::closed_port;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};
use rdp_doctor_testing::PeerProcess;

/// The objects: one service per case, all checked every second.
fn objects(bin: &str, services: &[(&str, String)]) -> String {
    let mut s = format!(
        "define command {{\n  command_name check_rdp\n  command_line {bin} check $ARG1$ --timeout 5\n}}\n\
         define command {{\n  command_name nothing\n  command_line /bin/true\n}}\n\
         define timeperiod {{\n  timeperiod_name always\n  alias always\n{days}}}\n\
         define contact {{\n  contact_name nobody\n  host_notifications_enabled 0\n  service_notifications_enabled 0\n  \
         host_notification_period always\n  service_notification_period always\n  host_notification_options n\n  \
         service_notification_options n\n  host_notification_commands nothing\n  service_notification_commands nothing\n}}\n\
         define host {{\n  host_name loopback\n  address 127.0.0.1\n  check_command nothing\n  max_check_attempts 1\n  \
         check_period always\n  contacts nobody\n  notification_period always\n  notifications_enabled 0\n  active_checks_enabled 0\n}}\n",
        days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
            .iter()
            .map(|d| format!("  {d} 00:00-24:00\n"))
            .collect::<String>(),
    );
    for (name, args) in services {
        s.push_str(&format!(
            "define service {{\n  host_name loopback\n  service_description {name}\n  check_command check_rdp!{args}\n  \
             max_check_attempts 1\n  check_interval 1\n  retry_interval 1\n  check_period always\n  contacts nobody\n  \
             notification_period always\n  notifications_enabled 0\n}}\n"
        ));
    }
    s
}

/// A main configuration that keeps everything in `dir` and checks at once.
fn main_cfg(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "log_file={d}/nagios.log\ncfg_file={d}/objects.cfg\nstatus_file={d}/status.dat\nstatus_update_interval=1\n\
         object_cache_file={d}/objects.cache\nprecached_object_file={d}/objects.precache\ntemp_file={d}/nagios.tmp\n\
         temp_path={d}\nlock_file={d}/nagios.lock\nstate_retention_file={d}/retention.dat\nretain_state_information=0\n\
         command_file={d}/nagios.cmd\ncheck_external_commands=0\ncheck_result_path={d}/checkresults\n\
         query_socket={d}/nagios.qh\nnagios_user=root\nnagios_group=root\nenable_notifications=0\n\
         enable_event_handlers=0\nenable_flap_detection=0\ninterval_length=1\ncheck_result_reaper_frequency=1\n\
         max_service_check_spread=1\nmax_host_check_spread=1\nservice_inter_check_delay_method=n\n\
         host_inter_check_delay_method=n\nuse_syslog=0\nlog_rotation_method=n\n"
    )
}

/// The `servicestatus` blocks of status.dat that have been checked, by service name.
fn checked_services(status: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out = HashMap::new();
    for block in status.split("servicestatus {").skip(1) {
        let body = block.split('}').next().unwrap_or("");
        let fields: HashMap<String, String> = body
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if fields.get("has_been_checked").map(String::as_str) == Some("1") {
            if let Some(name) = fields.get("service_description") {
                out.insert(name.clone(), fields);
            }
        }
    }
    out
}

#[test]
fn nagios_records_the_states_of_the_plugin() {
    let server = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("localhost".into()),
    )
    .expect("xrdp");
    let ok = server.addr.to_string();
    let closed = format!("127.0.0.1:{}", closed_port());
    // (service, arguments, expected state, expected start of the output)
    let cases = [
        ("rdp_ok", ok.clone(), "0", format!("RDP OK - {ok}")),
        (
            "rdp_cert_soon",
            format!("{ok} --cert-warning-days 100"),
            "1",
            "RDP WARNING - ".into(),
        ),
        (
            "rdp_slow",
            format!("{ok} --warning-ms 0 --critical-ms 0.0001"),
            "2",
            "RDP CRITICAL - ".into(),
        ),
        (
            "rdp_closed",
            closed.clone(),
            "2",
            format!("RDP CRITICAL - {closed}"),
        ),
        (
            "rdp_bad_usage",
            format!("{ok} --timeout 0"),
            "3",
            "RDP UNKNOWN - ".into(),
        ),
        (
            "rdp_bad_flag",
            format!("{ok} --no-such-flag"),
            "3",
            "RDP UNKNOWN - ".into(),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("checkresults")).expect("mkdir");
    let services: Vec<(&str, String)> = cases.iter().map(|c| (c.0, c.1.clone())).collect();
    std::fs::write(
        dir.path().join("objects.cfg"),
        objects(env!("CARGO_BIN_EXE_rdp-doctor"), &services),
    )
    .expect("objects");
    let cfg = dir.path().join("nagios.cfg");
    std::fs::write(&cfg, main_cfg(dir.path())).expect("cfg");
    let verify = Command::new("/usr/sbin/nagios4")
        .arg("-v")
        .arg(&cfg)
        .output()
        .expect("nagios4 runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // In the foreground, in its own process group: dropped (killed by PID) at the end.
    let nagios = PeerProcess::spawn(
        "nagios4",
        Command::new("/usr/sbin/nagios4").arg(&cfg),
        &dir.path().join("stdout.log"),
    )
    .expect("nagios4 starts");
    let status_path = dir.path().join("status.dat");
    let deadline = Instant::now() + Duration::from_secs(45);
    let services = loop {
        let status = std::fs::read_to_string(&status_path).unwrap_or_default();
        let s = checked_services(&status);
        if s.len() == cases.len() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "nagios checked {} of {} services in time:\n{status}\n{}",
            s.len(),
            cases.len(),
            std::fs::read_to_string(dir.path().join("nagios.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(nagios);

    for (name, _, state, output) in &cases {
        let s = &services[*name];
        assert_eq!(s["current_state"], *state, "{name}: {s:?}");
        assert!(
            s["plugin_output"].starts_with(output.as_str()),
            "{name}: {s:?}"
        );
    }
    // Performance data as Nagios parsed it: the phases, the handshake with its thresholds,
    // and the certificate's days (xrdp's test certificate is valid for 90 days).
    let perf = &services["rdp_ok"]["performance_data"];
    for label in ["'dns'=", "'tcp'=", "'x224'=", "'tls'=", "'handshake'="] {
        assert!(perf.contains(label), "{label} missing in {perf}");
    }
    assert!(
        perf.contains("'cert_days'=89d;14:;7:;;") || perf.contains("'cert_days'=90d;14:;7:;;"),
        "{perf}"
    );
    assert!(services["rdp_slow"]["performance_data"].contains("ms;0;0.0001;0;"));
    assert!(
        !services.contains_key("never"),
        "only the configured services"
    );
    drop(server);
}
