//! Reading the kernel's answer to one netlink request, a datagram at a
//! time. Apart from the socket so that what the kernel might send (a
//! message this crate can't parse, a refusal in the middle of a dump, a
//! garbled datagram) can be tried on bytes made in a test.

use nix::errno::Errno;
use rtnetlink::packet_core::{
    NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;

/// What the datagram just read says of the answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// It goes on in the next datagram.
    More,
    /// The kernel ended it: the change acknowledged, the dump done, or the
    /// one reply to a lookup come.
    Ended,
    /// The kernel refused the request, or failed the dump part-way.
    Refused(Errno),
    /// The datagram can't be walked: the answer's end may be in the part
    /// that can't be read, so nothing more can be waited for on this socket.
    Garbled,
}

/// The answer to the request sent with `sequence`.
pub(super) struct Answer {
    sequence: u32,
    /// A lookup asks for no acknowledgement: its one reply is the end.
    single: bool,
    /// The kernel marked the dump: the table changed while it was read,
    /// so the list may lack an entry or hold a stale one.
    interrupted: bool,
    pub(super) replies: Vec<RouteNetlinkMessage>,
}

/// The errno a netlink error code stands for. The kernel sends it negated;
/// anything else is not an errno.
fn errno(code: i32) -> Errno {
    match code.checked_neg() {
        Some(errno) if errno > 0 => Errno::from_raw(errno),
        _ => Errno::EIO,
    }
}

impl Answer {
    pub(super) fn new(sequence: u32, single: bool) -> Answer {
        Answer {
            sequence,
            single,
            interrupted: false,
            replies: Vec::new(),
        }
    }

    /// Take in one datagram, which may hold several messages.
    pub(super) fn take(&mut self, datagram: &[u8]) -> Step {
        let mut at = 0;
        while at < datagram.len() {
            let Ok(header) = NetlinkBuffer::new_checked(&datagram[at..]) else {
                return Step::Garbled;
            };
            let size = header.length() as usize;
            let kind = header.message_type();
            let ours = header.sequence_number() == self.sequence;
            self.interrupted |= ours && header.flags() & NLM_F_DUMP_INTR != 0;
            let bytes = &datagram[at..at + size];
            at += size.next_multiple_of(4);
            if !ours {
                // Left over from an earlier request on this socket.
                continue;
            }
            let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) else {
                if kind == NLMSG_ERROR || kind == NLMSG_DONE || self.single {
                    // The end can't be told from what was meant: stop here.
                    return Step::Refused(Errno::EBADMSG);
                }
                // One link or address of a dump in a form this crate
                // doesn't know: the rest of the dump is still good.
                continue;
            };
            match message.payload {
                NetlinkPayload::Done(done) if done.code == 0 && self.interrupted => {
                    return Step::Refused(Errno::EINTR);
                }
                NetlinkPayload::Done(done) if done.code == 0 => return Step::Ended,
                NetlinkPayload::Done(done) => return Step::Refused(errno(done.code)),
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Step::Ended,
                        Some(code) => Step::Refused(errno(code.get())),
                    };
                }
                NetlinkPayload::InnerMessage(inner) => {
                    self.replies.push(inner);
                    if self.single {
                        return Step::Ended;
                    }
                }
                _ => {}
            }
        }
        Step::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::{DoneMessage, ErrorMessage, NetlinkHeader};
    use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
    use std::num::NonZeroI32;

    fn bytes(payload: NetlinkPayload<RouteNetlinkMessage>, sequence: u32) -> Vec<u8> {
        let mut message = NetlinkMessage::new(NetlinkHeader::default(), payload);
        message.header.sequence_number = sequence;
        message.finalize();
        let mut out = vec![0; message.buffer_len()];
        message.serialize(&mut out);
        out
    }

    fn link(name: &str, sequence: u32) -> Vec<u8> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.into()));
        bytes(
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)),
            sequence,
        )
    }

    fn done(code: i32, sequence: u32) -> Vec<u8> {
        let mut done = DoneMessage::default();
        done.code = code;
        bytes(NetlinkPayload::Done(done), sequence)
    }

    fn error(code: Option<i32>, sequence: u32) -> Vec<u8> {
        let mut error = ErrorMessage::default();
        error.code = code.and_then(NonZeroI32::new);
        bytes(NetlinkPayload::Error(error), sequence)
    }

    /// A link message whose payload is cut short of a link header: the
    /// netlink header is sound, so the dump can be walked past it.
    fn unparseable_link(sequence: u32) -> Vec<u8> {
        let mut out = link("cut", sequence);
        out.truncate(20);
        out[..4].copy_from_slice(&20u32.to_ne_bytes());
        out
    }

    fn names(answer: &Answer) -> Vec<String> {
        answer
            .replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_dump_skips_a_message_it_cannot_parse_and_keeps_the_rest() {
        let mut answer = Answer::new(7, false);
        let datagram = [link("lo", 7), unparseable_link(7), link("eth0", 7)].concat();
        assert_eq!(answer.take(&datagram), Step::More);
        assert_eq!(answer.take(&done(0, 7)), Step::Ended);
        assert_eq!(names(&answer), ["lo", "eth0"]);
    }

    #[test]
    fn messages_of_an_earlier_request_are_passed_over() {
        let mut answer = Answer::new(8, false);
        let datagram = [link("old", 7), done(0, 7), link("new", 8)].concat();
        assert_eq!(answer.take(&datagram), Step::More);
        assert_eq!(answer.take(&done(0, 8)), Step::Ended);
        assert_eq!(names(&answer), ["new"]);
    }

    #[test]
    fn a_dump_the_kernel_fails_part_way_is_refused_not_cut_short() {
        let mut answer = Answer::new(3, false);
        let datagram = [link("lo", 3), done(-libc::EINTR, 3)].concat();
        assert_eq!(answer.take(&datagram), Step::Refused(Errno::EINTR));
    }

    #[test]
    fn a_dump_of_a_table_that_changed_meanwhile_is_refused_to_be_read_again() {
        let mut answer = Answer::new(4, false);
        let mut marked = link("eth0", 4);
        marked[6..8].copy_from_slice(&NLM_F_DUMP_INTR.to_ne_bytes());
        assert_eq!(answer.take(&[link("lo", 4), marked].concat()), Step::More);
        assert_eq!(answer.take(&done(0, 4)), Step::Refused(Errno::EINTR));
    }

    #[test]
    fn an_acknowledgement_ends_a_change_and_a_refusal_carries_its_errno() {
        assert_eq!(Answer::new(1, false).take(&error(None, 1)), Step::Ended);
        assert_eq!(
            Answer::new(1, false).take(&error(Some(-libc::EEXIST), 1)),
            Step::Refused(Errno::EEXIST)
        );
        // No errno is this far out; reading it must not overflow.
        assert_eq!(
            Answer::new(1, false).take(&error(Some(i32::MIN), 1)),
            Step::Refused(Errno::EIO)
        );
    }

    #[test]
    fn a_lookup_ends_at_its_one_reply_and_fails_if_it_cannot_be_parsed() {
        let mut answer = Answer::new(5, true);
        assert_eq!(answer.take(&link("eth0", 5)), Step::Ended);
        assert_eq!(names(&answer), ["eth0"]);
        assert_eq!(
            Answer::new(5, true).take(&unparseable_link(5)),
            Step::Refused(Errno::EBADMSG)
        );
    }

    #[test]
    fn a_datagram_whose_framing_is_broken_is_garbled() {
        let mut cut = link("eth0", 2);
        cut.truncate(cut.len() - 4);
        assert_eq!(Answer::new(2, false).take(&cut), Step::Garbled);
        assert_eq!(Answer::new(2, false).take(&[0; 10]), Step::Garbled);
    }
}
