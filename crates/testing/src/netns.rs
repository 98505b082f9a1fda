//! A network namespace of the test's own, joined to the root namespace by a
//! veth pair on a private /30. Traffic goes only between the two ends; rules
//! (iptables) are only ever added inside the namespace. Removed on drop.

use std::net::Ipv4Addr;
use std::process::Command;

/// A namespace with one veth end inside (`ns_addr`) and one outside (`host_addr`).
pub struct Netns {
    pub name: String,
    pub host_addr: Ipv4Addr,
    pub ns_addr: Ipv4Addr,
    host_if: String,
}

fn run(args: &[&str]) -> std::io::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// Creates the namespace; `slot` (0..=63) picks the /30 so parallel tests differ.
    pub fn create(slot: u8) -> std::io::Result<Self> {
        let id = format!("{}{}", std::process::id() % 100_000, slot);
        let name = format!("rdpdoc-{id}");
        let host_if = format!("rdh{id}");
        let ns_if = format!("rds{id}");
        let third = 200u8.wrapping_add((std::process::id() % 50) as u8);
        let base = slot.min(63) * 4;
        let host_addr = Ipv4Addr::new(10, 231, third, base + 1);
        let ns_addr = Ipv4Addr::new(10, 231, third, base + 2);
        run(&["ip", "netns", "add", &name])?;
        let me = Self {
            name: name.clone(),
            host_addr,
            ns_addr,
            host_if: host_if.clone(),
        };
        run(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        run(&["ip", "link", "set", &ns_if, "netns", &name])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{host_addr}/30"),
            "dev",
            &host_if,
        ])?;
        run(&["ip", "link", "set", &host_if, "up"])?;
        me.exec(&["ip", "addr", "add", &format!("{ns_addr}/30"), "dev", &ns_if])?;
        me.exec(&["ip", "link", "set", &ns_if, "up"])?;
        me.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(me)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> std::io::Result<()> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec` execs it: the PID is the program's).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// The counters of the namespace's iptables chain `chain`, as `iptables -L -v -n -x` prints them.
    pub fn iptables_counters(&self, chain: &str) -> std::io::Result<String> {
        let out = self
            .command("iptables")
            .args(["-L", chain, "-v", "-n", "-x"])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Adds an iptables rule inside the namespace, e.g. `["-A", "INPUT", "-p", "tcp", "-j", "DROP"]`.
    pub fn iptables(&self, rule: &[&str]) -> std::io::Result<()> {
        let mut full = vec!["iptables"];
        full.extend_from_slice(rule);
        self.exec(&full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.host_if]);
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// Whether namespace tests can run here; in CI (env `CI` set) a missing
/// facility fails the test instead (panics), elsewhere the caller skips.
pub fn require() -> bool {
    if available() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("network namespace tests need root, ip and iptables (run scripts/test.sh as root)");
    }
    eprintln!("skipped: needs root, ip and iptables");
    false
}

/// Whether this process may create namespaces (root with `ip` and `iptables`).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && crate::have_tool("ip") && crate::have_tool("iptables")
}
