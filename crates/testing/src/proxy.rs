//! A userspace TCP fault proxy on loopback, in front of a real peer.
//!
//! The kernel here has no netem, so latency, jitter and faults that depend on
//! how many bytes have passed are made by this proxy: each direction has its
//! own one-way delay and jitter, and may stall (stop forwarding, keep the
//! socket open), reset (SO_LINGER 0 close: an RST to both ends) or close
//! (FIN to both ends) once a number of bytes has passed. Every accepted
//! connection gets the same faults, counted from its own first byte.
//!
//! One thread accepts; one thread per connection owns both sockets and moves
//! bytes with `poll(2)`, so a reset really is the last close of the socket.
//! Dropping the proxy stops every thread and closes every socket.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a direction does once its byte limit has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Stop forwarding; keep both sockets open (what is sent is read and dropped).
    Stall,
    /// Close both sockets with SO_LINGER 0: both ends get an RST.
    Reset,
    /// Close both sockets normally: both ends get a FIN.
    Close,
}

/// The faults of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionFaults {
    /// One-way delay added to every chunk.
    pub latency: Duration,
    /// Each chunk's delay is `latency` plus or minus up to this (order is kept, as TCP keeps it).
    pub jitter: Duration,
    /// After this many bytes have been forwarded, do this (0: as soon as the connection is accepted).
    pub cut: Option<(u64, Cut)>,
}

impl DirectionFaults {
    /// A fixed one-way delay.
    pub fn latency(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// `cut` once `after` bytes have been forwarded.
    pub fn cut(after: u64, cut: Cut) -> Self {
        Self {
            cut: Some((after, cut)),
            ..Self::default()
        }
    }
}

/// The faults of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Client to server (what the probe sends).
    pub to_server: DirectionFaults,
    /// Server to client (the answers).
    pub to_client: DirectionFaults,
}

/// Counters over every connection the proxy carried.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    to_server: AtomicU64,
    to_client: AtomicU64,
    dropped: AtomicU64,
    cuts: AtomicU64,
    upstream_failures: AtomicU64,
}

/// A snapshot of the proxy's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Bytes forwarded client to server.
    pub to_server: u64,
    /// Bytes forwarded server to client.
    pub to_client: u64,
    /// Bytes read and not forwarded (stalled directions, bytes past a cut).
    pub dropped: u64,
    /// Stalls, resets and closes made.
    pub cuts: u64,
    /// Connections the upstream refused.
    pub upstream_failures: u64,
}

/// A running proxy; stops (and closes every connection) when dropped.
pub struct FaultProxy {
    /// Where clients connect (127.0.0.1 or [::1], a free port).
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

/// How often a connection thread looks at the stop flag while nothing happens.
const TICK: Duration = Duration::from_millis(20);

impl FaultProxy {
    /// Listens on the loopback address of `upstream`'s family and forwards to `upstream`.
    pub fn start(upstream: SocketAddr, faults: Faults) -> io::Result<Self> {
        let bind: SocketAddr = if upstream.is_ipv6() {
            "[::1]:0".parse().map_err(io::Error::other)?
        } else {
            "127.0.0.1:0".parse().map_err(io::Error::other)?
        };
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let (counters, stop, threads) = (counters.clone(), stop.clone(), threads.clone());
            std::thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || accept_loop(listener, upstream, faults, counters, stop, threads))?
        };
        Ok(Self {
            addr,
            counters,
            stop,
            threads,
            acceptor: Some(acceptor),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::SeqCst),
            to_server: c.to_server.load(Ordering::SeqCst),
            to_client: c.to_client.load(Ordering::SeqCst),
            dropped: c.dropped.load(Ordering::SeqCst),
            cuts: c.cuts.load(Ordering::SeqCst),
            upstream_failures: c.upstream_failures.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    faults: Faults,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    while !stop.load(Ordering::SeqCst) {
        if !wait_readable(listener.as_raw_fd(), TICK) {
            continue;
        }
        let client = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => continue,
        };
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let (counters, stop) = (counters.clone(), stop.clone());
        let conn_seed = seed;
        let handle = std::thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || {
                let server = match TcpStream::connect_timeout(&upstream, Duration::from_secs(3)) {
                    Ok(s) => s,
                    Err(_) => {
                        counters.upstream_failures.fetch_add(1, Ordering::SeqCst);
                        reset_on_close(&client);
                        return;
                    }
                };
                let _ = Connection::new(client, server, faults, conn_seed, counters, stop)
                    .map(Connection::run);
            });
        if let Ok(h) = handle {
            let mut list = threads.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|t| !t.is_finished());
            list.push(h);
        }
    }
}

/// Waits up to `timeout` for `fd` to become readable.
fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for a live descriptor.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// SO_LINGER {on, 0}: the socket's last close sends an RST instead of a FIN.
fn reset_on_close(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a linger struct of the size passed, on a live socket.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A tiny PRNG (xorshift64*) for jitter: tests need spread, not secrecy.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One direction of one connection.
struct Pipe {
    faults: DirectionFaults,
    /// Chunks waiting for their time, with the write offset of the front one.
    queue: VecDeque<(Instant, Vec<u8>)>,
    front_written: usize,
    last_due: Instant,
    forwarded: u64,
    /// The cut is due once the queue has drained.
    pending_cut: Option<Cut>,
    stalled: bool,
    /// The source sent FIN: forward it once the queue has drained.
    eof: bool,
    eof_sent: bool,
}

impl Pipe {
    fn new(faults: DirectionFaults) -> Self {
        let mut p = Self {
            faults,
            queue: VecDeque::new(),
            front_written: 0,
            last_due: Instant::now(),
            forwarded: 0,
            pending_cut: None,
            stalled: false,
            eof: false,
            eof_sent: false,
        };
        if let Some((0, cut)) = faults.cut {
            p.arm(cut);
        }
        p
    }

    fn arm(&mut self, cut: Cut) {
        match cut {
            Cut::Stall => self.stalled = true,
            other => self.pending_cut = Some(other),
        }
    }

    fn wants_read(&self) -> bool {
        !self.eof && self.pending_cut.is_none()
    }

    /// Takes a chunk read from the source: queues what may pass, returns the bytes dropped.
    fn take(&mut self, data: &[u8], rng: &mut Rng) -> u64 {
        if self.stalled || self.pending_cut.is_some() {
            return data.len() as u64;
        }
        let mut pass = data.len();
        let mut cut_now = None;
        if let Some((after, cut)) = self.faults.cut {
            let room = after.saturating_sub(self.forwarded);
            if data.len() as u64 >= room {
                pass = room as usize;
                cut_now = Some(cut);
            }
        }
        if pass > 0 {
            let now = Instant::now();
            let jitter = self.faults.jitter.as_micros() as u64;
            let delay = if jitter == 0 {
                self.faults.latency
            } else {
                let spread = rng.next() % (2 * jitter + 1);
                let base = self.faults.latency.as_micros() as u64;
                Duration::from_micros((base + spread).saturating_sub(jitter))
            };
            let due = (now + delay).max(self.last_due);
            self.last_due = due;
            self.queue.push_back((due, data[..pass].to_vec()));
            self.forwarded += pass as u64;
        }
        if let Some(cut) = cut_now {
            self.arm(cut);
        }
        (data.len() - pass) as u64
    }

    /// When the front chunk is due, if there is one.
    fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    fn ready(&self, now: Instant) -> bool {
        self.next_due().is_some_and(|d| d <= now)
    }
}

/// Both sockets of one proxied connection and the faults between them.
struct Connection {
    client: TcpStream,
    server: TcpStream,
    up: Pipe,
    down: Pipe,
    rng: Rng,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

enum End {
    /// Both directions finished normally, or the proxy stops.
    Done,
    Cut(Cut),
}

impl Connection {
    fn new(
        client: TcpStream,
        server: TcpStream,
        faults: Faults,
        seed: u64,
        counters: Arc<Counters>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        client.set_nonblocking(true)?;
        server.set_nonblocking(true)?;
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        Ok(Self {
            client,
            server,
            up: Pipe::new(faults.to_server),
            down: Pipe::new(faults.to_client),
            rng: Rng(seed),
            counters,
            stop,
        })
    }

    fn run(mut self) {
        let end = self.pump();
        match end {
            End::Cut(Cut::Reset) => {
                self.counters.cuts.fetch_add(1, Ordering::SeqCst);
                reset_on_close(&self.client);
                reset_on_close(&self.server);
            }
            End::Cut(_) => {
                self.counters.cuts.fetch_add(1, Ordering::SeqCst);
                let _ = self.client.shutdown(Shutdown::Both);
                let _ = self.server.shutdown(Shutdown::Both);
            }
            End::Done => {}
        }
        // Dropping the sockets is their last close (RST after SO_LINGER 0).
    }

    fn pump(&mut self) -> End {
        let mut stall_counted = false;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return End::Done;
            }
            if !stall_counted && (self.up.stalled || self.down.stalled) {
                stall_counted = true;
                self.counters.cuts.fetch_add(1, Ordering::SeqCst);
            }
            // A cut fires once what came before it has been delivered.
            for pipe in [&self.up, &self.down] {
                if let Some(cut) = pipe.pending_cut {
                    if pipe.queue.is_empty() {
                        return End::Cut(cut);
                    }
                }
            }
            if self.up.eof_sent && self.down.eof_sent {
                return End::Done;
            }
            let now = Instant::now();
            let mut fds = [
                libc::pollfd {
                    fd: self.client.as_raw_fd(),
                    events: 0,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.server.as_raw_fd(),
                    events: 0,
                    revents: 0,
                },
            ];
            if self.up.wants_read() {
                fds[0].events |= libc::POLLIN;
            }
            if self.down.wants_read() {
                fds[1].events |= libc::POLLIN;
            }
            if self.up.ready(now) {
                fds[1].events |= libc::POLLOUT;
            }
            if self.down.ready(now) {
                fds[0].events |= libc::POLLOUT;
            }
            let mut wait = TICK;
            for due in [self.up.next_due(), self.down.next_due()]
                .into_iter()
                .flatten()
            {
                wait = wait.min(due.saturating_duration_since(now));
            }
            let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: two valid pollfds for the live sockets this struct owns.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return End::Done;
            }
            let err_mask = libc::POLLERR | libc::POLLHUP;
            // Reads: client -> up pipe, server -> down pipe.
            if fds[0].revents & (libc::POLLIN | err_mask) != 0 && self.up.wants_read() {
                match self.client.read(&mut buf) {
                    Ok(0) => self.up.eof = true,
                    Ok(n) => {
                        let dropped = self.up.take(&buf[..n], &mut self.rng);
                        self.counters.dropped.fetch_add(dropped, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return self.peer_reset(),
                }
            }
            if fds[1].revents & (libc::POLLIN | err_mask) != 0 && self.down.wants_read() {
                match self.server.read(&mut buf) {
                    Ok(0) => self.down.eof = true,
                    Ok(n) => {
                        let dropped = self.down.take(&buf[..n], &mut self.rng);
                        self.counters.dropped.fetch_add(dropped, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return self.peer_reset(),
                }
            }
            // Writes of the chunks that are due.
            let now = Instant::now();
            if write_due(
                &mut self.up,
                &mut self.server,
                now,
                &self.counters.to_server,
            )
            .is_err()
                || write_due(
                    &mut self.down,
                    &mut self.client,
                    now,
                    &self.counters.to_client,
                )
                .is_err()
            {
                return self.peer_reset();
            }
            // A FIN is forwarded after the data before it.
            if self.up.eof && !self.up.eof_sent && self.up.queue.is_empty() {
                self.up.eof_sent = true;
                let _ = self.server.shutdown(Shutdown::Write);
            }
            if self.down.eof && !self.down.eof_sent && self.down.queue.is_empty() {
                self.down.eof_sent = true;
                let _ = self.client.shutdown(Shutdown::Write);
            }
        }
    }

    /// One end reset or failed: reset the other too, as a middlebox in between would.
    fn peer_reset(&mut self) -> End {
        reset_on_close(&self.client);
        reset_on_close(&self.server);
        End::Done
    }
}

/// Writes the due chunks of `pipe` to `dst`, without blocking.
fn write_due(
    pipe: &mut Pipe,
    dst: &mut TcpStream,
    now: Instant,
    counter: &AtomicU64,
) -> io::Result<()> {
    while let Some((due, chunk)) = pipe.queue.front() {
        if *due > now {
            break;
        }
        match dst.write(&chunk[pipe.front_written..]) {
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::SeqCst);
                pipe.front_written += n;
                if pipe.front_written == chunk.len() {
                    pipe.queue.pop_front();
                    pipe.front_written = 0;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback that serves until the test ends.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut b = [0u8; 4096];
                    while let Ok(n) = s.read(&mut b) {
                        if n == 0 || s.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn client(proxy: &FaultProxy) -> TcpStream {
        let s = TcpStream::connect_timeout(&proxy.addr, Duration::from_secs(2)).expect("connect");
        // Fails only when the proxy has already reset the socket; reads then say so.
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        s
    }

    /// Reads until `want` bytes came, EOF, or an error; returns the bytes and the error.
    fn read_some(s: &mut TcpStream, want: usize) -> (Vec<u8>, Option<io::ErrorKind>) {
        let mut out = Vec::new();
        let mut b = [0u8; 4096];
        while out.len() < want {
            match s.read(&mut b) {
                Ok(0) => return (out, Some(io::ErrorKind::UnexpectedEof)),
                Ok(n) => out.extend_from_slice(&b[..n]),
                Err(e) => return (out, Some(e.kind())),
            }
        }
        (out, None)
    }

    #[test]
    fn forwards_both_ways_and_counts() {
        let proxy = FaultProxy::start(echo(), Faults::default()).expect("proxy");
        let mut s = client(&proxy);
        s.write_all(b"hello through the proxy").expect("write");
        let (got, err) = read_some(&mut s, 23);
        assert_eq!(
            (got.as_slice(), err),
            (&b"hello through the proxy"[..], None)
        );
        let st = proxy.stats();
        assert_eq!((st.accepted, st.to_server, st.to_client), (1, 23, 23));
    }

    #[test]
    fn latency_delays_each_direction() {
        let faults = Faults {
            to_server: DirectionFaults::latency(Duration::from_millis(60)),
            to_client: DirectionFaults::latency(Duration::from_millis(40)),
        };
        let proxy = FaultProxy::start(echo(), faults).expect("proxy");
        let mut s = client(&proxy);
        for _ in 0..3 {
            let t = Instant::now();
            s.write_all(b"ping").expect("write");
            let (got, _) = read_some(&mut s, 4);
            let rtt = t.elapsed();
            assert_eq!(got, b"ping");
            assert!(
                rtt >= Duration::from_millis(100) && rtt < Duration::from_millis(400),
                "{rtt:?}"
            );
        }
    }

    #[test]
    fn jitter_spreads_delays_and_keeps_order() {
        let faults = Faults {
            to_client: DirectionFaults {
                latency: Duration::from_millis(30),
                jitter: Duration::from_millis(25),
                cut: None,
            },
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo(), faults).expect("proxy");
        let mut s = client(&proxy);
        let mut rtts = Vec::new();
        for i in 0..12u8 {
            let t = Instant::now();
            s.write_all(&[i; 3]).expect("write");
            let (got, _) = read_some(&mut s, 3);
            assert_eq!(got, [i; 3], "bytes stay in order");
            rtts.push(t.elapsed());
        }
        let (min, max) = (
            rtts.iter().min().copied().unwrap_or_default(),
            rtts.iter().max().copied().unwrap_or_default(),
        );
        assert!(min >= Duration::from_millis(4), "{rtts:?}");
        assert!(
            max - min >= Duration::from_millis(10),
            "no spread: {rtts:?}"
        );
    }

    #[test]
    fn stall_after_n_bytes_keeps_the_socket_open() {
        let proxy = FaultProxy::start(
            echo(),
            Faults {
                to_client: DirectionFaults::cut(5, Cut::Stall),
                ..Faults::default()
            },
        )
        .expect("proxy");
        let mut s = client(&proxy);
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        s.write_all(b"0123456789").expect("write");
        let (got, err) = read_some(&mut s, 10);
        assert_eq!(got, b"01234");
        assert!(
            matches!(
                err,
                Some(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
            ),
            "{err:?}"
        );
        // Still open: writes are accepted (and dropped on the way back).
        s.write_all(b"more").expect("write after stall");
        let st = proxy.stats();
        assert_eq!(st.to_client, 5);
        assert_eq!(st.cuts, 1);
    }

    #[test]
    fn reset_after_n_bytes_sends_rst() {
        let proxy = FaultProxy::start(
            echo(),
            Faults {
                to_server: DirectionFaults::cut(4, Cut::Reset),
                ..Faults::default()
            },
        )
        .expect("proxy");
        let mut s = client(&proxy);
        s.write_all(b"abcdefgh").expect("write");
        let (got, err) = read_some(&mut s, 8);
        assert!(got.len() <= 4, "{got:?}");
        assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
        assert_eq!(proxy.stats().to_server, 4);
    }

    #[test]
    fn reset_at_zero_bytes_is_right_after_connect() {
        let proxy = FaultProxy::start(
            echo(),
            Faults {
                to_server: DirectionFaults::cut(0, Cut::Reset),
                ..Faults::default()
            },
        )
        .expect("proxy");
        let mut s = client(&proxy);
        let (got, err) = read_some(&mut s, 1);
        assert!(got.is_empty());
        assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
    }

    #[test]
    fn close_after_n_bytes_sends_fin() {
        let proxy = FaultProxy::start(
            echo(),
            Faults {
                to_client: DirectionFaults::cut(3, Cut::Close),
                ..Faults::default()
            },
        )
        .expect("proxy");
        let mut s = client(&proxy);
        s.write_all(b"abcdef").expect("write");
        let (got, err) = read_some(&mut s, 6);
        assert_eq!(got, b"abc");
        assert_eq!(err, Some(io::ErrorKind::UnexpectedEof));
    }

    #[test]
    fn upstream_down_resets_the_client() {
        let dead = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        let proxy = FaultProxy::start(dead, Faults::default()).expect("proxy");
        let mut s = client(&proxy);
        let (_, err) = read_some(&mut s, 1);
        assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
        assert_eq!(proxy.stats().upstream_failures, 1);
    }

    #[test]
    fn drop_stops_threads_and_closes_connections() {
        let proxy = FaultProxy::start(
            echo(),
            Faults {
                to_client: DirectionFaults::cut(0, Cut::Stall),
                ..Faults::default()
            },
        )
        .expect("proxy");
        let addr = proxy.addr;
        let mut s = client(&proxy);
        s.write_all(b"x").expect("write");
        let t = Instant::now();
        drop(proxy);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        let (_, err) = read_some(&mut s, 1);
        assert!(err.is_some());
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
    }
}
