//! Test harness for rdp-doctor: starts real peers on loopback and stops them.
//!
//! Every process started here is owned by a [`PeerProcess`], which kills it
//! by PID when dropped, so a failing test never leaves a server behind.
//! Every wait has a deadline; nothing sleeps for a fixed time.
#![allow(clippy::unwrap_used)] // the test harness stops at the first unexpected value

pub mod freerdp;
pub mod measure;
pub mod netns;
pub mod proxy;
pub mod rdpeudp;
pub mod xrdp;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed (SIGKILL, by its PID) when dropped.
pub struct PeerProcess {
    name: String,
    child: Child,
}

impl PeerProcess {
    /// Spawns `cmd` with stdout/stderr sent to `log` (a file in the test's temp dir).
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> io::Result<Self> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        // Own process group, so the peer's forked children (xrdp forks one per
        // connection) are stopped with it.
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name}: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            child,
        })
    }

    /// The PID of the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns an error if the process has already exited.
    pub fn check_running(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(io::Error::other(format!(
                "{} (pid {}) exited early: {status}",
                self.name,
                self.child.id()
            ))),
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the process group this harness created for the child.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Polls until something accepts TCP connections on `addr`, or the deadline passes.
/// `peer` is checked on every round so a server that died is reported at once.
pub fn wait_for_port(
    addr: SocketAddr,
    peer: &mut PeerProcess,
    deadline: Duration,
) -> io::Result<()> {
    let start = Instant::now();
    loop {
        peer.check_running()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if start.elapsed() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing listens on {addr} after {deadline:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether an executable is on PATH.
pub fn have_tool(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

/// Fails the test when `tool` is missing in CI; elsewhere returns false so the
/// caller can print "skipped" and return.
pub fn require_tool(tool: &str) -> bool {
    if have_tool(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is not installed; run scripts/test.sh as root to install the test peers");
    }
    eprintln!("skipped: {tool} is not installed");
    false
}
