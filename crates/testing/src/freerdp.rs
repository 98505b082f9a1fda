//! FreeRDP peers: the shadow server (an NLA / CredSSP server) on an Xvfb
//! display, and the xfreerdp client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::{free_port, wait_for_port, PeerProcess};

/// A virtual X display, killed on drop.
pub struct Xvfb {
    pub display: String,
    _process: PeerProcess,
}

impl Xvfb {
    /// Starts Xvfb on the first free display number from 90 up.
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        for n in 90..190 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
            // Xvfb killed with SIGKILL leaves its lock and socket behind: reclaim a
            // display whose lock names a process that no longer exists.
            if lock.exists() && lock_owner_is_gone(&lock) {
                let _ = std::fs::remove_file(&lock);
                let _ = std::fs::remove_file(&socket);
            }
            if socket.exists() || lock.exists() {
                continue;
            }
            let display = format!(":{n}");
            let mut process = PeerProcess::spawn(
                "Xvfb",
                Command::new("Xvfb").arg(&display).args([
                    "-screen",
                    "0",
                    "1024x768x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ]),
                &dir.join(format!("xvfb{n}.log")),
            )?;
            let start = Instant::now();
            let mut lost_race = false;
            while !socket.exists() {
                // Another test process took this display between the check and the
                // start: Xvfb exits at once ("server already active"); try the next.
                if process.check_running().is_err() {
                    lost_race = true;
                    break;
                }
                if start.elapsed() > Duration::from_secs(10) {
                    return Err(std::io::Error::other(format!(
                        "Xvfb {display} did not come up"
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if lost_race {
                continue;
            }
            return Ok(Self {
                display,
                _process: process,
            });
        }
        Err(std::io::Error::other("no free X display number"))
    }
}

/// Whether an X lock file names a PID that no longer runs.
fn lock_owner_is_gone(lock: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(lock)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
    else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 only checks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// A FreeRDP shadow server requiring NLA with one account, killed on drop.
pub struct ShadowServer {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub xvfb: Xvfb,
    pub dir: tempfile::TempDir,
    _process: PeerProcess,
}

impl ShadowServer {
    /// Whether the server process is still running (it sometimes exits after a failed NLA logon).
    pub fn is_running(&mut self) -> bool {
        self._process.check_running().is_ok()
    }

    /// Starts `freerdp-shadow-cli` on 127.0.0.1 with `/sec:nla` and account `tester`.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with("nla")
    }

    /// Starts it with another `/sec:` value (rdp, tls, nla, ext).
    pub fn start_with(sec: &str) -> std::io::Result<Self> {
        Self::start_in(None, sec)
    }

    /// Starts it inside the network namespace `ns`, on its address there.
    pub fn start_in_netns(ns: &crate::netns::Netns, sec: &str) -> std::io::Result<Self> {
        Self::start_in(Some(ns), sec)
    }

    fn start_in(ns: Option<&crate::netns::Netns>, sec: &str) -> std::io::Result<Self> {
        let address = ns.map_or("127.0.0.1".to_string(), |n| n.ns_addr.to_string());
        let dir = tempfile::tempdir()?;
        let xvfb = Xvfb::start(dir.path())?;
        let (user, password) = ("tester".to_string(), "S3cret!".to_string());
        let sam = dir.path().join("shadow.sam");
        let hash = Command::new("winpr-hash")
            .args(["-u", &user, "-p", &password, "-f", "sam"])
            .output()?;
        if !hash.status.success() {
            return Err(std::io::Error::other("winpr-hash failed"));
        }
        std::fs::write(&sam, hash.stdout)?;
        let port = free_port();
        // `ip netns exec` execs the server itself: the PID stays the server's.
        let mut command = match ns {
            Some(n) => n.command("freerdp-shadow-cli"),
            None => Command::new("freerdp-shadow-cli"),
        };
        let mut process = PeerProcess::spawn(
            "freerdp-shadow-cli",
            command
                .env("DISPLAY", &xvfb.display)
                .env("HOME", dir.path())
                .arg(format!("/bind-address:{address}"))
                .arg(format!("/port:{port}"))
                .arg("+auth")
                .arg(format!("/sec:{sec}"))
                .arg(format!("/sam-file:{}", sam.display())),
            &dir.path().join("shadow.log"),
        )?;
        let addr: SocketAddr = format!("{address}:{port}")
            .parse()
            .map_err(std::io::Error::other)?;
        wait_for_port(addr, &mut process, Duration::from_secs(20))?;
        Ok(Self {
            addr,
            user,
            password,
            xvfb,
            dir,
            _process: process,
        })
    }

    /// Runs xfreerdp with `args` on this server's display (HOME in the temp dir),
    /// killed after `deadline` (a silent server would hang it forever).
    pub fn xfreerdp(&self, args: &[&str], deadline: Duration) -> std::io::Result<Output> {
        Command::new("timeout")
            .arg("-s")
            .arg("KILL")
            .arg(format!("{}", deadline.as_secs().max(1)))
            .arg("xfreerdp")
            .args(args)
            .env("DISPLAY", &self.xvfb.display)
            .env("HOME", self.dir.path())
            .output()
    }
}
