//! The remedies of the account findings: commands a person runs on the host
//! (booted), or chntpw's steps on a rescued disk. Rights and groups live in
//! SECURITY and SAM, which the hive applier does not write: LSA's and SAM's
//! own tools change them, so their caches and audit stay right.

use rdp_doctor_model::{Action, Machine, Remedy};

use super::lsa::{AccountRights, Right};
use super::sam::Account;

/// secedit's steps to change a user right on the host.
fn secedit(edit: &str) -> Vec<Action> {
    vec![
        Action::run(
            Machine::Host,
            "secedit /export /areas USER_RIGHTS /cfg %TEMP%\\rights.inf",
        ),
        Action::run(
            Machine::Host,
            format!("notepad %TEMP%\\rights.inf   (then {edit})"),
        ),
        Action::run(
            Machine::Host,
            "secedit /configure /db %TEMP%\\rights.sdb /cfg %TEMP%\\rights.inf /areas USER_RIGHTS",
        ),
        Action::run(Machine::Host, "gpupdate /force"),
    ]
}

/// Remove a deny right from the SIDs holding it.
pub fn remove_deny(deny: Right, holders: &[&AccountRights]) -> Remedy {
    let sids: Vec<String> = holders.iter().map(|h| format!("*{}", h.sid)).collect();
    Remedy::new(
        format!("remove {} from {}", deny.name(), sids.join(", ")),
        "A deny right wins over every grant. When a Group Policy sets it (gpresult /h report.html, \
         \"Deny log on through Remote Desktop Services\" / \"Deny access to this computer from the network\"), \
         change the policy; a removed policy leaves its rights behind, which secedit removes. \
         On a rescued disk, boot it and run these on the host (the hive applier does not write SECURITY).",
    )
    .actions(secedit(&format!(
        "delete {} from the line {} =",
        sids.join(", "),
        deny.name()
    )))
}

/// Grant a right to Remote Desktop Users and Administrators (the defaults).
pub fn grant(right: Right) -> Remedy {
    Remedy::new(
        format!("grant {} to Administrators and Remote Desktop Users", right.name()),
        "Windows grants it to both by default (\"Allow log on through Remote Desktop Services\"; network: \
         \"Access this computer from the network\"); a Group Policy may have narrowed it. On a rescued disk, \
         boot it and run these on the host.",
    )
    .actions(secedit(&format!(
        "make the line read {} = *S-1-5-32-544,*S-1-5-32-555",
        right.name()
    )))
}

/// Add `user` to Remote Desktop Users: on the host, or offline with chntpw.
pub fn add_to_remote_desktop_users(user: &str) -> Vec<Remedy> {
    vec![
        Remedy::new(
            format!("add {user} to Remote Desktop Users"),
            "The group's name is localized; `Add-LocalGroupMember -SID S-1-5-32-555 -Member USER` \
             (PowerShell) names it by SID.",
        )
        .action(Action::run(
            Machine::Host,
            format!("net localgroup \"Remote Desktop Users\" \"{user}\" /add"),
        )),
        Remedy::new(
            format!("offline: add {user} to Remote Desktop Users with chntpw"),
            "On the rescued disk's SAM (keep a copy first): in chntpw's user menu choose \
             \"4 - Add user to a group\", then the group 0x22b (Remote Desktop Users), then q and y to write.",
        )
        .action(Action::run(
            Machine::Elsewhere,
            format!("chntpw -u \"{user}\" Windows/System32/config/SAM"),
        )),
    ]
}

/// Enable an account and clear its expiry.
pub fn enable(a: &Account) -> Vec<Remedy> {
    vec![
        Remedy::new(format!("enable {} and clear its expiry", a.name), "")
            .action(Action::run(
                Machine::Host,
                format!("net user \"{}\" /active:yes /expires:never", a.name),
            )),
        Remedy::new(
            format!("offline: enable {} with chntpw", a.name),
            "In chntpw's user menu choose \"2 - Unlock and enable user account\", then q and y to write \
             (it does not clear an expiry date: run the net user command once booted).",
        )
        .action(Action::run(
            Machine::Elsewhere,
            format!("chntpw -u \"{}\" Windows/System32/config/SAM", a.name),
        )),
    ]
}

/// Unlock an account, or let it set a new password.
pub fn credentials(a: &Account) -> Vec<Remedy> {
    let mut out = Vec::new();
    if a.locked() {
        out.push(
            Remedy::new(
                format!("unlock {}", a.name),
                "Or wait for the lockout duration; repeated lockouts come from a client or service \
                 retrying an old password (rdp-doctor logs: 4740, 4625).",
            )
            .action(Action::run(
                Machine::Host,
                format!(
                    "powershell -c \"$u=[ADSI]'WinNT://./{},user'; $u.IsAccountLocked=$false; $u.SetInfo()\"",
                    a.name
                ),
            )),
        );
    }
    if a.must_change_password() {
        out.push(
            Remedy::new(
                format!("set a password for {} that need not be changed", a.name),
                "Or log on once at the console and change it. An NLA logon cannot change a password.",
            )
            .action(Action::run(Machine::Host, format!("net user \"{}\" *", a.name))),
        );
    }
    out.push(
        Remedy::new(
            format!("offline: unlock {} with chntpw", a.name),
            "In chntpw's user menu choose \"2 - Unlock and enable user account\", then q and y to write.",
        )
        .action(Action::run(
            Machine::Elsewhere,
            format!("chntpw -u \"{}\" Windows/System32/config/SAM", a.name),
        )),
    );
    out
}
