//! Remote Desktop on, the listener, drain mode, limits and services.

use rdp_doctor_model::{Evidence, Finding, FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::HostFacts;

/// What `host fix` raises a too-small `MaxOutstandingConnections` to.
pub const MAX_OUTSTANDING: u32 = 10_000;

/// HOST000 (warning): a dirty hive whose logs were not replayed.
pub fn dirty_hives(f: &HostFacts) -> Vec<Outcome> {
    f.dirty
        .iter()
        .map(|d| {
            let name = d.root.name();
            Outcome::Found(
                Finding::new(Id::HiveDirty, Severity::Warning, format!("the {name} hive was not closed cleanly: its last changes are in {name}.LOG1/.LOG2, not replayed here; values may be stale"))
                    .evidence(Evidence::Registry { path: format!("{name} hive base block"), value: format!("sequence {} / {}", d.primary, d.secondary), origin: d.origin.clone() })
                    .remedy(Remedy::advice("Put the hive's .LOG1/.LOG2 beside it (host fix --apply replays them first), or boot the disk once")),
            )
        })
        .collect()
}

pub fn remote_desktop(f: &HostFacts) -> Outcome {
    let (r, by_policy) = f.deny_ts.effective();
    if r.dword() != Some(1) {
        return passed(
            Id::RemoteDesktopOff,
            r,
            "Remote Desktop connections are allowed",
        );
    }
    let remedy = if by_policy {
        Remedy::new("Allow Remote Desktop connections in the policy copy of fDenyTSConnections (0)",
            "Group Policy set fDenyTSConnections=1 under SOFTWARE\\Policies, and the policy copy wins over the local value, so the policy value is the one changed. \
             On a domain member the GPO 'Allow users to connect remotely by using Remote Desktop Services' writes it back at the next policy refresh: change the GPO too.")
    } else {
        Remedy::new("Allow Remote Desktop connections (fDenyTSConnections=0)", "System Properties > Remote > 'Allow remote connections to this computer' stores this value.")
    };
    let title = if by_policy {
        "Remote Desktop is turned off by Group Policy"
    } else {
        "Remote Desktop is turned off (Allow remote connections = off)"
    };
    Outcome::Found(
        found(Id::RemoteDesktopOff, Severity::Error, r, title)
            .remedy(remedy.actions(f.deny_ts.set_to(0))),
    )
}

pub fn listener_enabled(f: &HostFacts) -> Outcome {
    let r = &f.listener_enabled;
    if r.dword() != Some(0) {
        return passed(Id::ListenerDisabled, r, "the RDP-Tcp listener is enabled");
    }
    Outcome::Found(
        found(
            Id::ListenerDisabled,
            Severity::Error,
            r,
            "the RDP-Tcp listener is disabled",
        )
        .remedy(
            Remedy::new(
                "Enable the RDP-Tcp listener (fEnableWinStation=1)",
                "TermService creates the listener at start when this value is 1.",
            )
            .action(r.set_dword(1)),
        ),
    )
}

pub fn port(f: &HostFacts) -> Outcome {
    let port = f.port_number();
    if port == 3389 {
        return passed(Id::NonDefaultPort, &f.port, "the listener uses port 3389");
    }
    Outcome::Found(found(
        Id::NonDefaultPort,
        Severity::Info,
        &f.port,
        format!("the listener uses port {port}: clients must connect to HOST:{port}"),
    ))
}

pub fn lan_adapter(f: &HostFacts) -> Option<Outcome> {
    let r = &f.lan_adapter;
    r.dword().filter(|&n| n != 0)?;
    Some(Outcome::Found(
        found(Id::BoundToOneAdapter, Severity::Warning, r, "the listener is bound to one network adapter: if that adapter changed (a cloud VM moved or resized), nothing listens")
            .remedy(Remedy::new("Listen on every network adapter (LanAdapter=0)", "A listener bound to an adapter that no longer exists does not start; 0 binds all adapters.").action(r.set_dword(0))),
    ))
}

/// HOST005: drain mode and disabled logons.
pub fn drain(f: &HostFacts) -> Vec<Outcome> {
    let mut out = Vec::new();
    if f.drain.dword().is_some_and(|n| n != 0) {
        out.push(Outcome::Found(
            found(Id::DrainMode, Severity::Error, &f.drain, "the server is in drain mode: new logons are refused").remedy(
                Remedy::new("Leave drain mode (TSServerDrainMode=0)", "What 'change logon /enable' does; in a farm, the broker may put the server back in drain mode.")
                    .action(f.drain.set_dword(0)),
            ),
        ));
    }
    if f.logons_disabled.dword() == Some(1) {
        out.push(Outcome::Found(
            found(
                Id::DrainMode,
                Severity::Error,
                &f.logons_disabled,
                "logons are disabled (change logon /disable)",
            )
            .remedy(
                Remedy::new(
                    "Enable logons (WinStationsDisabled=0)",
                    "What 'change logon /enable' does.",
                )
                .action(f.logons_disabled.set_dword(0)),
            ),
        ));
    }
    out
}

pub fn outstanding(f: &HostFacts) -> Outcome {
    let r = &f.max_outstanding;
    match r.dword() {
        Some(n) if n < 10 => Outcome::Found(
            found(Id::FewOutstandingConnections, Severity::Warning, r, format!("only {n} incomplete connections allowed: a few scanners lock everyone out (TermService 1006)"))
                .remedy(Remedy::new(format!("Raise MaxOutstandingConnections to {MAX_OUTSTANDING}"), "Connections still in their handshake count against this limit; scanners and brute force fill a small one. Restricting who reaches the port is the lasting remedy.")
                    .action(r.set_dword(MAX_OUTSTANDING))),
        ),
        Some(_) => passed(Id::FewOutstandingConnections, r, "incomplete-connection limit set"),
        None => passed(Id::FewOutstandingConnections, r, "incomplete-connection limit at the built-in default"),
    }
}

/// HOST008: "Limit number of connections"; unlimited is 0xFFFFFFFF (what Azure's reset script writes).
pub fn instances(f: &HostFacts) -> Outcome {
    let (r, by_policy) = f.max_instances.effective();
    let Some(n) = r.dword().filter(|&n| n <= 2) else {
        return passed(
            Id::FewInstances,
            r,
            "no tight limit on concurrent connections",
        );
    };
    let remedy = if by_policy {
        Remedy::new("Remove the 'Limit number of connections' policy value", "The policy copy wins over the listener's own value; a domain GPO writes it again at its next refresh, so change the GPO too.")
            .action(r.delete())
    } else {
        Remedy::new("Allow unlimited concurrent connections on the listener (MaxInstanceCount=0xFFFFFFFF)", "The value Windows and Azure's RDP reset use; session limits belong in the session-host policies.")
            .action(f.max_instances.local.set_dword(u32::MAX))
    };
    let how = if by_policy { ", set by policy" } else { "" };
    Outcome::Found(found(Id::FewInstances, Severity::Warning, r, format!("the listener takes only {n} concurrent connection(s){how}: the next client is refused (often 0x904 / extended 0x7)")).remedy(remedy))
}

pub fn single_session(f: &HostFacts) -> Option<Outcome> {
    let (r, _) = f.single_session.effective();
    (r.dword() == Some(1)).then(|| {
        Outcome::Found(found(
            Id::SingleSessionPerUser,
            Severity::Info,
            r,
            "one session per user: a second connection takes over the first",
        ))
    })
}

/// HOST004: the services' `Start`.
pub fn services(f: &HostFacts) -> Vec<Outcome> {
    f.services
        .iter()
        .map(|(svc, r)| {
            let essential = *svc == "TermService";
            match r.dword() {
                Some(4) => Outcome::Found(
                    found(Id::ServiceDisabled, if essential { Severity::Error } else { Severity::Warning }, r, format!("{svc} is disabled"))
                        .remedy(Remedy::new(format!("Set {svc} to start on demand (Start=3, manual), its default"), "Windows starts it when a connection comes (TermService) or a session needs it.").action(r.set_dword(3))),
                ),
                None if essential => Outcome::Found(
                    found(Id::ServiceDisabled, Severity::Error, r, format!("{svc} is not installed"))
                        .remedy(Remedy::new("Repair the Remote Desktop Services installation", "The service's key is missing; a registry value cannot bring it back: run 'sfc /scannow' or 'DISM /Online /Cleanup-Image /RestoreHealth' on the booted host.")),
                ),
                _ => passed(Id::ServiceDisabled, r, format!("{svc} can start")),
            }
        })
        .collect()
}
