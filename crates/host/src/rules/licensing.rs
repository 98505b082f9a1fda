//! HOST032: RD Session Host licensing (mode, license servers, grace period).

use rdp_doctor_model::{Evidence, FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::licensing::GraceEnd;
use crate::facts::HostFacts;

const DAY: i64 = 86_400;
/// Warn this many days before the grace period ends.
const SOON: i64 = 14;

fn configure() -> Remedy {
    Remedy::new(
        "Configure RD licensing: a licensing mode (per user or per device) and a license server with CALs",
        "Group Policy: Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Licensing (\"Set the Remote Desktop licensing mode\", \"Use the specified Remote Desktop license servers\"), or the RD Licensing Manager. Without the RD Session Host role, two administrative sessions need no licenses.",
    )
}

pub fn licensing(f: &HostFacts) -> Outcome {
    let l = &f.licensing;
    let (mode, mode_reading) = l.mode();
    if !l.session_host() {
        return passed(
            Id::LicensingSetup,
            &l.app_compat,
            "not an RD Session Host (remote administration needs no licenses)",
        );
    }
    let servers = l.servers();
    let configured = mode.is_some_and(|m| m.is_configured()) && !servers.is_empty();
    let grace = l.grace_end();
    let days_left = match grace {
        Some(GraceEnd::At(end)) => Some((end - f.now).div_euclid(DAY)),
        _ => None,
    };
    let mut evidence = vec![mode_reading.evidence()];
    if let Some(p) = &l.servers_policy {
        evidence.push(p.evidence());
    }
    if let Some(g) = grace {
        let shown = match (g, days_left) {
            (GraceEnd::At(end), Some(d)) => format!(
                "ends {} ({d} days from the facts' time)",
                crate::cert::rfc3339(end)
            ),
            _ => "present, not a readable FILETIME".into(),
        };
        evidence.push(Evidence::Registry {
            path: l.timebomb.path(),
            value: shown,
            origin: l.timebomb.origin.clone(),
        });
    }
    let what = match (mode.is_some_and(|m| m.is_configured()), servers.is_empty()) {
        (false, true) => "no licensing mode and no license server are configured",
        (false, false) => "no licensing mode is configured",
        (true, true) => "no license server is configured",
        (true, false) => "",
    };
    let (severity, title) = match (configured, days_left) {
        (true, _) => {
            return passed(Id::LicensingSetup, mode_reading, format!("licensing mode set, license server(s): {}", servers.join(", ")));
        }
        (false, Some(d)) if d < 0 => (Severity::Error, format!("RD Session Host: {what}, and the grace period ended {} days ago: connections are refused with a licensing error (LIC001)", -d)),
        (false, Some(d)) if d <= SOON => (Severity::Warning, format!("RD Session Host: {what}; the grace period ends in {d} days, then connections are refused")),
        (false, Some(d)) => (Severity::Info, format!("RD Session Host: {what}; the grace period has {d} days left")),
        (false, None) => (Severity::Warning, format!("RD Session Host: {what}: once the 120-day grace period ends, connections are refused with a licensing error")),
    };
    let mut finding = found(Id::LicensingSetup, severity, &l.app_compat, title);
    for e in evidence {
        finding = finding.evidence(e);
    }
    Outcome::Found(finding.remedy(configure()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::Data;

    fn filetime(unix: i64) -> Data {
        Data::Binary(
            (((unix + 11_644_473_600) as u64) * 10_000_000)
                .to_le_bytes()
                .to_vec(),
        )
    }

    #[test]
    fn an_unlicensed_session_host_is_judged_by_its_grace_period() {
        let mut f = facts();
        assert!(matches!(licensing(&f), Outcome::Passed(_)));
        f.licensing.app_compat.value = Some(Data::Dword(1));
        let Outcome::Found(x) = licensing(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        f.licensing.timebomb.value = Some(filetime(f.now - 3 * DAY));
        let Outcome::Found(x) = licensing(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Error);
        assert!(x.title.contains("ended 3 days ago"), "{}", x.title);
        f.licensing.timebomb.value = Some(filetime(f.now + 60 * DAY));
        let Outcome::Found(x) = licensing(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Info);
        f.licensing.mode_local.value = Some(Data::Dword(4));
        f.licensing.servers_policy.as_mut().unwrap().value =
            Some(Data::String("lic1.example, lic2".into()));
        assert!(matches!(licensing(&f), Outcome::Passed(_)));
    }
}
