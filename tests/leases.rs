//! The bridge's address book: leases under `<root>/net/leases` and the
//! address handed out last, driven through the library on a temporary
//! store. Nothing here makes a link or touches the network.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;

use diyc::stages::net::Bridge;
use diyc::state::Store;
use diyc::state::container::ProcessId;
use diyc::state::network::{Lease, lease, release};

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("an address")
}

/// A store whose bridge `name` has five addresses to give (.2 to .6),
/// with its leases directory made.
fn store_of_six(name: &str) -> (tempfile::TempDir, Store, Bridge, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary store");
    let store = Store::new(dir.path()).expect("store");
    let bridge = Bridge::new(name, "10.77.0.0/29").expect("bridge");
    let leases = dir.path().join("net/leases");
    std::fs::create_dir_all(&leases).expect("leases dir");
    (dir, store, bridge, leases)
}

#[test]
fn an_address_given_back_is_handed_out_last_and_the_last_one_is_rewritten_in_place() {
    let dir = tempfile::tempdir().expect("a temporary store");
    let store = Store::new(dir.path()).expect("store");
    // Five addresses a container may have: .1 is the bridge's, .7 the
    // broadcast.
    let bridge = Bridge::new("diyc-t0", "10.77.0.0/29").expect("bridge");
    let first = lease(&store, &bridge, "a", None, &[]).expect("a lease");
    assert_eq!(first, ip("10.77.0.2"));
    let last = dir.path().join("net/last");
    let inode = std::fs::metadata(&last).expect("net/last").ino();
    release(&store, first).expect("given back");
    // Round the subnet once: the address given back comes last.
    let next: Vec<Ipv4Addr> = ["b", "c", "d", "e", "f"]
        .iter()
        .map(|name| lease(&store, &bridge, name, None, &[]).expect("a lease"))
        .collect();
    assert_eq!(
        next,
        [
            "10.77.0.3",
            "10.77.0.4",
            "10.77.0.5",
            "10.77.0.6",
            "10.77.0.2"
        ]
        .map(ip)
    );
    assert_eq!(
        std::fs::metadata(&last).expect("net/last").ino(),
        inode,
        "net/last was replaced, not rewritten"
    );
    assert_eq!(
        std::fs::read_to_string(&last).expect("net/last").trim(),
        "10.77.0.2"
    );
}

#[test]
fn a_shorter_address_written_over_a_longer_one_reads_back_whole() {
    let dir = tempfile::tempdir().expect("a temporary store");
    let store = Store::new(dir.path()).expect("store");
    let bridge = Bridge::new("diyc-t1", "10.77.0.0/24").expect("bridge");
    let last = dir.path().join("net/last");
    std::fs::create_dir_all(dir.path().join("net")).expect("net dir");
    // As an earlier diyc left it, without padding: the last address
    // there is, so the search wraps round to the first.
    std::fs::write(&last, "10.77.0.254").expect("net/last");
    assert_eq!(
        lease(&store, &bridge, "a", None, &[]).expect("a lease"),
        ip("10.77.0.2")
    );
    assert_eq!(
        std::fs::read_to_string(&last).expect("net/last").trim(),
        "10.77.0.2",
        "the tail of the longer address was left behind"
    );
    assert_eq!(
        lease(&store, &bridge, "b", None, &[]).expect("a lease"),
        ip("10.77.0.3")
    );
}

#[test]
fn a_lease_whose_owner_is_gone_is_taken_back_and_a_living_owners_kept() {
    let (dir, store, bridge, leases) = store_of_six("diyc-t2");
    let me = ProcessId::of(std::process::id() as i32).expect("this test's own process");
    // This pid with another start time: a process that is gone, its pid
    // reused.
    let gone = ProcessId {
        start: me.start + 1,
        ..me
    };
    for (ip, owner) in [("10.77.0.2", gone), ("10.77.0.3", me)] {
        let lease = Lease {
            ip: ip.parse().expect("an address"),
            container: format!("owner-of-{ip}"),
            owner: Some(owner),
            ports: Vec::new(),
        };
        std::fs::write(leases.join(ip), serde_json::to_vec(&lease).expect("json")).expect("lease");
    }
    // What a diyc killed while writing a lease leaves.
    std::fs::write(leases.join(".10.77.0.4.tmp-0000beef"), "{\"ip\"").expect("leftover");
    std::fs::write(dir.path().join("net/.last.tmp-0000beef"), "10.77").expect("leftover");
    // Not a lease this diyc can read (a newer diyc's, say): kept.
    std::fs::write(leases.join("10.77.0.5"), "not a lease").expect("unreadable lease");
    std::fs::write(dir.path().join("net/last"), "10.77.0.6").expect("net/last");

    // The search starts after .6 and wraps round: .2 is free again.
    let got = lease(&store, &bridge, "new", None, &[]).expect("a lease");
    assert_eq!(got, ip("10.77.0.2"));
    let mut left: Vec<String> = std::fs::read_dir(&leases)
        .expect("leases")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["10.77.0.2", "10.77.0.3", "10.77.0.5"]);
    assert!(
        !dir.path().join("net/.last.tmp-0000beef").exists(),
        "a half-written file in net/ was left behind"
    );
    let taken = std::fs::read_to_string(leases.join("10.77.0.2")).expect("the new lease");
    assert!(taken.contains("\"new\""), "{taken}");
    let kept = std::fs::read_to_string(leases.join("10.77.0.3")).expect("the living lease");
    assert!(kept.contains("owner-of-10.77.0.3"), "{kept}");
}

#[test]
fn a_lease_file_that_cannot_be_read_still_holds_its_address() {
    let (dir, store, bridge, leases) = store_of_six("diyc-t3");
    // A newer diyc's lease, in a form this one can't read.
    std::fs::write(leases.join("10.77.0.5"), "{\"format\": 9}").expect("lease");
    // The search starts after .4: .5 is next, and is not free.
    std::fs::write(dir.path().join("net/last"), "10.77.0.4").expect("net/last");
    let got = lease(&store, &bridge, "new", None, &[]).expect("a lease");
    assert_eq!(got, ip("10.77.0.6"));
    assert_eq!(
        std::fs::read_to_string(leases.join("10.77.0.5")).expect("the unread lease"),
        "{\"format\": 9}",
        "written over"
    );
    let asked = lease(&store, &bridge, "other", Some(ip("10.77.0.5")), &[]);
    let refused = asked.expect_err(".5 was handed out again").to_string();
    assert!(refused.contains("cannot be read"), "{refused}");
}
