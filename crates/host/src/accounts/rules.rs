//! The account rules: small pure functions from [`AccountFacts`] to findings
//! or passed checks.
//!
//! A Remote Desktop logon needs, for some SID of the logon's token,
//! SeRemoteInteractiveLogonRight, and for none of them
//! SeDenyRemoteInteractiveLogonRight (deny wins); with NLA, the CredSSP
//! logon is a network logon first, so SeNetworkLogonRight /
//! SeDenyNetworkLogonRight apply as well.

use rdp_doctor_model::{Finding, FindingId, Severity};

use super::lsa::{AccountRights, Right, Rights};
use super::remedies;
use super::sam::{Account, Groups};
use super::*;
use crate::report::Passed;
use crate::rules::Outcome;

/// The SIDs of one logon's token, as far as SECURITY and SAM tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Who it is ("the account alice", "a member of Remote Desktop Users").
    pub who: String,
    pub sids: Vec<Sid>,
    /// The account is a member of Remote Desktop Users or Administrators.
    pub in_rdp_groups: bool,
}

/// The token of a logon of `user` (or of a typical member of each group that
/// grants Remote Desktop by default), for a remote interactive or a network logon.
pub fn tokens(f: &AccountFacts, network: bool) -> Vec<Token> {
    let mut base: Vec<Sid> = [EVERYONE, AUTHENTICATED_USERS, LOCAL_ACCOUNT]
        .into_iter()
        .map(sid)
        .collect();
    if network {
        base.push(sid(NETWORK));
    } else {
        base.extend([sid(INTERACTIVE), sid(REMOTE_INTERACTIVE)]);
    }
    match &f.user {
        Some(UserLookup::Found(a)) => vec![user_token(a, base, f.groups.as_ref())],
        _ => [
            (REMOTE_DESKTOP_USERS, "Remote Desktop Users"),
            (ADMINISTRATORS, "Administrators"),
        ]
        .into_iter()
        .map(|(g, name)| {
            let mut sids = base.clone();
            sids.extend([sid(USERS), sid(g)]);
            if g == ADMINISTRATORS {
                sids.push(sid(LOCAL_ADMIN_ACCOUNT));
            }
            Token {
                who: format!("members of {name}"),
                sids,
                in_rdp_groups: true,
            }
        })
        .collect(),
    }
}

fn user_token(a: &Account, mut sids: Vec<Sid>, groups: Option<&Groups>) -> Token {
    sids.extend(a.sid.clone());
    // Aliases may hold other groups (Users holds Authenticated Users): two passes.
    for _ in 0..2 {
        for alias in groups.map_or(&[][..], |g| &g.aliases[..]) {
            let s = alias.sid();
            if !sids.contains(&s) && alias.members.iter().any(|m| sids.contains(m)) {
                sids.push(s);
            }
        }
    }
    if sids.contains(&sid(ADMINISTRATORS)) {
        sids.push(sid(LOCAL_ADMIN_ACCOUNT));
    }
    let in_rdp_groups = [REMOTE_DESKTOP_USERS, ADMINISTRATORS]
        .iter()
        .any(|g| sids.contains(&sid(g)));
    Token {
        who: format!("the account {}", a.name),
        sids,
        in_rdp_groups,
    }
}

fn unique<'a>(found: impl Iterator<Item = &'a AccountRights>) -> Vec<&'a AccountRights> {
    let mut out: Vec<&AccountRights> = Vec::new();
    for a in found {
        if !out.iter().any(|b| b.sid == a.sid) {
            out.push(a);
        }
    }
    out
}

fn names(found: &[&AccountRights]) -> String {
    found
        .iter()
        .map(|a| a.sid.shown())
        .collect::<Vec<_>>()
        .join(", ")
}

fn whom(tokens: &[&Token]) -> String {
    tokens
        .iter()
        .map(|t| t.who.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn passed(id: FindingId, rights: &Rights, right: Right, message: String) -> Outcome {
    let holders: Vec<String> = rights
        .all_holders(right)
        .map(|a| a.sid.to_string())
        .collect();
    Outcome::Passed(Passed {
        id,
        path: match rights.origin {
            rdp_doctor_model::RegistryOrigin::Live => "LsaEnumerateAccountsWithUserRight".into(),
            _ => format!("HKLM\\SECURITY\\{}\\*\\ActSysAc", super::lsa::ACCOUNTS),
        },
        value: format!(
            "{}: {}",
            right.name(),
            if holders.is_empty() {
                "nobody".into()
            } else {
                holders.join(", ")
            }
        ),
        message,
    })
}

/// A deny right (`deny`) held by a SID of some token: nobody it covers logs on.
fn denied(f: &AccountFacts, id: FindingId, deny: Right, network: bool) -> Option<Outcome> {
    let rights = f.rights.as_ref()?;
    let tokens = tokens(f, network);
    let hit: Vec<&Token> = tokens
        .iter()
        .filter(|t| rights.holders(deny, &t.sids).next().is_some())
        .collect();
    let holders = unique(tokens.iter().flat_map(|t| rights.holders(deny, &t.sids)));
    if holders.is_empty() {
        return Some(passed(
            id,
            rights,
            deny,
            format!(
                "no group of {} holds {}",
                whom(&tokens.iter().collect::<Vec<_>>()),
                deny.name()
            ),
        ));
    }
    let what = if network {
        "cannot complete the NLA (CredSSP) network logon"
    } else {
        "cannot log on through Remote Desktop"
    };
    let mut finding = Finding::new(
        id,
        Severity::Error,
        format!(
            "{} (\"{}\") is held by {}, and a deny right wins over every grant: {} {what}",
            deny.name(),
            deny.policy_name(),
            names(&holders),
            whom(&hit)
        ),
    );
    for h in &holders {
        finding = finding.evidence(h.evidence(&rights.origin));
    }
    Some(Outcome::Found(
        finding.remedy(remedies::remove_deny(deny, &holders)),
    ))
}

/// SeDenyRemoteInteractiveLogonRight on a group the logon's token holds.
pub fn remote_denied(f: &AccountFacts) -> Option<Outcome> {
    denied(
        f,
        FindingId::RemoteLogonDenied,
        Right::DenyRemoteInteractive,
        false,
    )
}

/// SeDenyNetworkLogonRight on a group the NLA logon's token holds.
pub fn network_denied(f: &AccountFacts) -> Option<Outcome> {
    denied(f, FindingId::NetworkLogonDenied, Right::DenyNetwork, true)
}

/// No SID of the token holds `grant`.
fn not_granted(f: &AccountFacts, id: FindingId, grant: Right, network: bool) -> Option<Outcome> {
    let rights = f.rights.as_ref()?;
    let tokens = tokens(f, network);
    let lacking: Vec<&Token> = tokens
        .iter()
        .filter(|t| rights.holders(grant, &t.sids).next().is_none())
        .collect();
    if lacking.is_empty() {
        return Some(passed(
            id,
            rights,
            grant,
            format!(
                "{} is granted to a group of {}",
                grant.name(),
                whom(&tokens.iter().collect::<Vec<_>>())
            ),
        ));
    }
    let user = matches!(f.user, Some(UserLookup::Found(_)));
    // Without --user, one of the two default groups lacking the right is a warning.
    let severity = if user || lacking.len() == tokens.len() {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut finding = Finding::new(
        id,
        severity,
        format!(
            "{} (\"{}\") is granted to none of the groups of {}",
            grant.name(),
            grant.policy_name(),
            whom(&lacking)
        ),
    );
    for h in unique(rights.all_holders(grant)) {
        finding = finding.evidence(h.evidence(&rights.origin));
    }
    if let (Some(UserLookup::Found(a)), Some(g)) = (&f.user, &f.groups) {
        if let Some(rdu) = g.alias(0x22B) {
            finding = finding.evidence(rdu.evidence(&g.origin));
        }
        if !lacking.iter().all(|t| t.in_rdp_groups) && !network {
            finding = finding.remedies(remedies::add_to_remote_desktop_users(&a.name));
        }
    }
    Some(Outcome::Found(finding.remedy(remedies::grant(grant))))
}

/// Nobody the logon can be holds SeRemoteInteractiveLogonRight.
pub fn remote_not_granted(f: &AccountFacts) -> Option<Outcome> {
    not_granted(
        f,
        FindingId::RemoteLogonNotGranted,
        Right::RemoteInteractive,
        false,
    )
}

/// Nobody the NLA logon can be holds SeNetworkLogonRight.
pub fn network_not_granted(f: &AccountFacts) -> Option<Outcome> {
    not_granted(f, FindingId::NetworkLogonDenied, Right::Network, true)
}

/// The account checked is disabled or expired (STATUS_ACCOUNT_DISABLED / _EXPIRED).
pub fn account_restricted(f: &AccountFacts) -> Option<Outcome> {
    let Some(UserLookup::Found(a)) = &f.user else {
        return None;
    };
    let why: Vec<&str> = [(a.disabled(), "disabled"), (a.expired(f.now), "expired")]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect();
    if why.is_empty() {
        return Some(Outcome::Passed(Passed {
            id: FindingId::AccountDisabled,
            path: a.path.clone(),
            value: format!("control 0x{:04X}", a.control),
            message: format!("the account {} is enabled and not expired", a.name),
        }));
    }
    Some(Outcome::Found(
        Finding::new(
            FindingId::AccountDisabled,
            Severity::Error,
            format!("the account {} is {}", a.name, why.join(" and ")),
        )
        .evidence(a.evidence())
        .remedies(remedies::enable(a)),
    ))
}

/// The account checked is locked out, or must change its password first.
pub fn account_credentials(f: &AccountFacts) -> Option<Outcome> {
    let Some(UserLookup::Found(a)) = &f.user else {
        return None;
    };
    let mut why = Vec::new();
    if a.locked() {
        why.push("is locked out (as SAM last recorded it; the lockout may have expired since)");
    }
    if a.must_change_password() {
        why.push(
            "must change its password at the next logon, which an NLA (CredSSP) logon cannot do",
        );
    }
    if why.is_empty() {
        return Some(Outcome::Passed(Passed {
            id: FindingId::AccountLockedOrPasswordChange,
            path: a.path.clone(),
            value: format!("control 0x{:04X}", a.control),
            message: format!(
                "the account {} is not locked out and its password is set",
                a.name
            ),
        }));
    }
    Some(Outcome::Found(
        Finding::new(
            FindingId::AccountLockedOrPasswordChange,
            Severity::Error,
            format!("the account {} {}", a.name, why.join(", and ")),
        )
        .evidence(a.evidence())
        .remedies(remedies::credentials(a)),
    ))
}

/// Who is in Remote Desktop Users and Administrators; an account SAM does not have.
pub fn membership(f: &AccountFacts) -> Vec<Outcome> {
    let mut out = Vec::new();
    if let Some(g) = &f.groups {
        let mut finding = Finding::new(
            FindingId::RemoteDesktopGroups,
            Severity::Info,
            format!(
                "Remote Desktop Users has {} member(s), Administrators {}",
                g.alias(0x22B).map_or(0, |a| a.members.len()),
                g.alias(0x220).map_or(0, |a| a.members.len())
            ),
        );
        for rid in [0x22B, 0x220] {
            if let Some(a) = g.alias(rid) {
                finding = finding.evidence(a.evidence(&g.origin));
            }
        }
        out.push(Outcome::Found(finding));
    }
    if let Some(UserLookup::NotFound { name, origin }) = &f.user {
        out.push(Outcome::Found(
            Finding::new(
                FindingId::RemoteDesktopGroups,
                Severity::Warning,
                format!("the account {name} is not a local account of this SAM (a domain account, or misspelt): its groups and state are not checked"),
            )
            .evidence(rdp_doctor_model::Evidence::Registry {
                path: format!("HKLM\\SAM\\{}\\Names\\{name}", super::sam::USERS),
                value: "absent".into(),
                origin: origin.clone(),
            }),
        ));
    }
    out
}

/// Every account rule, in report order.
pub fn all(f: &AccountFacts) -> Vec<Outcome> {
    let mut out = Vec::new();
    out.extend(remote_denied(f));
    out.extend(remote_not_granted(f));
    out.extend(network_denied(f));
    out.extend(network_not_granted(f));
    out.extend(account_restricted(f));
    out.extend(account_credentials(f));
    out.extend(membership(f));
    out
}

#[cfg(test)]
mod tests {
    use rdp_doctor_model::RegistryOrigin;

    use super::*;
    use crate::accounts::sam::{Alias, NEVER};

    fn right(s: &str, mask: u32) -> AccountRights {
        AccountRights {
            sid: sid(s),
            mask,
            path: format!("HKLM\\SECURITY\\Policy\\Accounts\\{s}\\ActSysAc"),
        }
    }

    /// Windows' defaults: Administrators and Remote Desktop Users may use
    /// Remote Desktop, Everyone and Users the network.
    fn facts(extra: &[(&str, u32)], user: Option<Account>) -> AccountFacts {
        let mut accounts = vec![
            right(ADMINISTRATORS, 0x407),
            right(REMOTE_DESKTOP_USERS, 0x400),
            right(EVERYONE, 0x2),
            right(USERS, 0x3),
        ];
        accounts.extend(extra.iter().map(|&(s, m)| right(s, m)));
        let domain = sid("S-1-5-21-1-2-3");
        let alias = |rid, members: Vec<Sid>| Alias {
            rid,
            members,
            path: String::new(),
        };
        AccountFacts {
            rights: Some(Rights {
                accounts,
                origin: RegistryOrigin::Live,
            }),
            groups: Some(Groups {
                aliases: vec![
                    alias(0x220, vec![domain.child(500)]),
                    alias(0x221, vec![sid(AUTHENTICATED_USERS), domain.child(1000)]),
                    alias(0x22B, vec![]),
                ],
                domain: Some(domain),
                origin: RegistryOrigin::Live,
            }),
            user: user.map(UserLookup::Found),
            now: 1000,
        }
    }

    fn bob(control: u16) -> Account {
        Account {
            name: "bob".into(),
            rid: 1000,
            sid: Some(sid("S-1-5-21-1-2-3-1000")),
            control,
            last_logon: 0,
            password_last_set: 1,
            expires: NEVER,
            failed_logons: 0,
            path: String::new(),
            origin: RegistryOrigin::Live,
        }
    }

    fn problem(o: Option<Outcome>) -> Finding {
        match o {
            Some(Outcome::Found(f)) if f.severity.is_problem() => f,
            other => panic!("no problem: {other:?}"),
        }
    }

    #[test]
    fn a_deny_on_everyone_stops_every_default_group() {
        let f = problem(remote_denied(&facts(&[(EVERYONE, 0x802)], None)));
        assert!(
            f.title
                .contains("members of Remote Desktop Users and members of Administrators"),
            "{}",
            f.title
        );
        assert!(matches!(
            remote_denied(&facts(&[], None)),
            Some(Outcome::Passed(_))
        ));
    }

    #[test]
    fn a_deny_on_the_account_itself_stops_its_nla_logon() {
        let f = problem(network_denied(&facts(
            &[("S-1-5-21-1-2-3-1000", 0x80)],
            Some(bob(0x10)),
        )));
        assert!(
            f.title.contains("the account bob cannot complete the NLA"),
            "{}",
            f.title
        );
    }

    #[test]
    fn a_user_outside_the_groups_is_told_to_join_and_a_member_is_not() {
        let f = problem(remote_not_granted(&facts(&[], Some(bob(0x10)))));
        assert!(f.remedies[0]
            .title
            .contains("add bob to Remote Desktop Users"));
        // bob in Remote Desktop Users, which lost its grant: only the grant helps.
        let mut x = facts(&[], Some(bob(0x10)));
        if let Some(g) = x.groups.as_mut() {
            g.aliases[2].members.push(sid("S-1-5-21-1-2-3-1000"));
        }
        if let Some(r) = x.rights.as_mut() {
            r.accounts.retain(|a| a.sid != sid(REMOTE_DESKTOP_USERS));
        }
        let f = problem(remote_not_granted(&x));
        assert_eq!(f.remedies.len(), 1);
        assert!(f.remedies[0]
            .title
            .starts_with("grant SeRemoteInteractiveLogonRight"));
    }

    #[test]
    fn one_default_group_without_the_grant_is_a_warning() {
        let mut x = facts(&[], None);
        if let Some(r) = x.rights.as_mut() {
            r.accounts.retain(|a| a.sid != sid(REMOTE_DESKTOP_USERS));
        }
        let Some(Outcome::Found(f)) = remote_not_granted(&x) else {
            panic!()
        };
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.title.ends_with("members of Remote Desktop Users"),
            "{}",
            f.title
        );
    }

    #[test]
    fn account_state_uses_the_facts_clock() {
        let mut expired = bob(0x10);
        expired.expires = 999;
        let f = problem(account_restricted(&facts(&[], Some(expired.clone()))));
        assert!(f.title.ends_with("is expired"), "{}", f.title);
        expired.expires = 1001;
        assert!(matches!(
            account_restricted(&facts(&[], Some(expired))),
            Some(Outcome::Passed(_))
        ));
        let f = problem(account_credentials(&facts(&[], Some(bob(0x410)))));
        assert_eq!(f.cause, Some(rdp_doctor_model::CauseId::Credentials));
        let mut must_change = bob(0x10);
        must_change.password_last_set = 0;
        let f = problem(account_credentials(&facts(&[], Some(must_change))));
        assert!(f.title.contains("must change its password"), "{}", f.title);
    }
}
