//! The iptables lesson's outside host: a process of its own in a network
//! namespace of its own, joined to the lab by a veth pair (10.99.0.1 on
//! the lab's side, 10.99.0.2 on its), answering TCP on port 9000 as a real
//! server would. It tells diyc, over a pipe, the address each connection
//! came from: that is how the lesson sees what MASQUERADE did. The
//! network tests use the same host.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, pipe2};

use crate::error::{Error, IoContext, Result};
use crate::sys::{self, Call, Forked, Request, Sys, Veth};

pub struct Outside {
    child: i32,
    /// Four bytes per connection: the peer's IPv4 address.
    peers: std::fs::File,
}

/// Kills the outside host's process when dropped.
struct Holder(i32);

impl Drop for Holder {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.0);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
    }
}

impl Outside {
    pub const LAB: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const THERE: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const PORT: u16 = 9000;

    pub fn new(sys: &mut Sys) -> Result<Outside> {
        // Its process is real and so are the kills that end it.
        if sys.is_dry() {
            return Err(Error::invalid("the outside host needs the real seam"));
        }
        // On a real host the lesson's little network must not collide
        // with one that is already there.
        let taken = sys
            .addresses()?
            .iter()
            .any(|a| a.ip.octets()[..3] == Self::LAB.octets()[..3])
            || sys.link("vlab")?.is_some();
        if taken {
            return Err(Error::invalid(
                "this host already uses 10.99.0.0/24 or a link called vlab, which the lesson's outside host needs: try `diyc learn --step iptables --lab`",
            ));
        }
        let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let (peers_r, peers_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let diyc = std::process::id();
        let child = match sys.clone_process(libc::CLONE_NEWNET as u64, None)? {
            Forked::Child => {
                drop((go_w, peers_r));
                // It must not outlive diyc, however diyc dies: its veth
                // pair goes with its namespace.
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                if nix::unistd::getppid().as_raw() as u32 != diyc {
                    sys::exit_now(0);
                }
                serve(go_r, peers_w)
            }
            Forked::Parent { child } => child,
        };
        drop((go_r, peers_w));
        let guard = Holder(child);
        wire(sys, child)?;
        nix::unistd::write(&go_w, &[1]).map_err(|e| Error::os("starting the outside host", e))?;
        let mut peers = std::fs::File::from(peers_r);
        let mut ready = [0u8; 1];
        if peers.read_exact(&mut ready).is_err() || ready[0] != 0 {
            return Err(Error::Container(format!(
                "the outside host could not listen on {}:{}",
                Self::THERE,
                Self::PORT
            )));
        }
        fcntl(&peers, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| Error::os("reading the outside host", e))?;
        std::mem::forget(guard);
        Ok(Outside { child, peers })
    }

    /// Its process, whose network namespace is the outside.
    pub fn pid(&self) -> i32 {
        self.child
    }

    /// Who connected last since the last look, if anyone did.
    pub fn peer(&mut self) -> Option<Ipv4Addr> {
        let mut last = None;
        let mut record = [0u8; 4];
        while self.peers.read_exact(&mut record).is_ok() {
            last = Some(Ipv4Addr::from(record));
        }
        last
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        drop(Holder(self.child));
    }
}

/// The veth pair, its addresses and links up on both sides; the outside
/// end is configured from inside the outside host's namespace.
fn wire(sys: &mut Sys, child: i32) -> Result<()> {
    let nl = |sys: &mut Sys, request| sys.call(Call::Netlink { request }).map(drop);
    nl(
        sys,
        Request::AddVeth(Veth {
            name: "vlab".into(),
            master: None,
            peer: "vout".into(),
            peer_netns: child,
        }),
    )?;
    nl(
        sys,
        Request::AddAddress {
            dev: "vlab".into(),
            address: Outside::LAB,
            prefix: 24,
        },
    )?;
    nl(
        sys,
        Request::SetUp {
            name: "vlab".into(),
        },
    )?;
    // The calling thread's namespace, which in a threaded caller (a test)
    // need not be the process's: /proc/self would lead back to the host's.
    let here = "/proc/thread-self/ns/net";
    let ours = std::fs::File::open(here).ctx("opening", here)?;
    let theirs_path = format!("/proc/{child}/ns/net");
    let theirs = std::fs::File::open(&theirs_path).ctx("opening", &theirs_path)?;
    sys.call(Call::Setns {
        fd: theirs.as_raw_fd(),
        nstype: libc::CLONE_NEWNET as u64,
    })?;
    let inside = (|| -> Result<()> {
        nl(sys, Request::SetUp { name: "lo".into() })?;
        nl(
            sys,
            Request::AddAddress {
                dev: "vout".into(),
                address: Outside::THERE,
                prefix: 24,
            },
        )?;
        nl(
            sys,
            Request::SetUp {
                name: "vout".into(),
            },
        )
    })();
    sys.call(Call::Setns {
        fd: ours.as_raw_fd(),
        nstype: libc::CLONE_NEWNET as u64,
    })?;
    inside
}

/// The outside host's own code: wait until diyc has wired the namespace,
/// listen, say so, then note each connection's peer and close it at once,
/// so the container's `nc` sees the end and exits.
fn serve(go: OwnedFd, peers: OwnedFd) -> ! {
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(&go, &mut byte), Ok(1)) {
        sys::exit_now(0);
    }
    let listener = TcpListener::bind((Outside::THERE, Outside::PORT));
    let ready: u8 = if listener.is_ok() { 0 } else { 1 };
    if nix::unistd::write(&peers, &[ready]).is_err() {
        sys::exit_now(1);
    }
    let Ok(listener) = listener else {
        sys::exit_now(1);
    };
    while let Ok((stream, addr)) = listener.accept() {
        if let SocketAddr::V4(addr) = addr {
            let _ = nix::unistd::write(&peers, &addr.ip().octets());
        }
        drop(stream);
    }
    sys::exit_now(0)
}
