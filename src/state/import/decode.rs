//! Bytes on their way into a layer: read so that a stop signal ends the
//! wait even on a FIFO with no writer yet, counted against the size limit,
//! hashed as they pass (a layer's digest is checked only once every byte
//! has been read) and decompressed by what their first bytes say.

use std::io::{self, BufRead, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use sha2::{Digest, Sha256};
use std::sync::mpsc::{SyncSender, sync_channel};

use crate::error::Error;
use crate::signals::Signals;

/// How the first bytes say a stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    pub fn of(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// What every reader of one import shares: the signals to stop on, the
/// flag that says one of them was seen, and the progress so far.
pub struct Shared<'s> {
    pub signals: &'s Signals,
    /// Set when a reader saw a stop signal (kept in `signal`) or a layer
    /// failed: every reader gives up at its next read.
    pub stopped: AtomicBool,
    pub signal: std::sync::atomic::AtomicI32,
    /// Bytes read from the source, for the progress bar.
    pub progress: indicatif::ProgressBar,
    /// Bytes unpacked so far, in every layer, and how many may be.
    pub unpacked: AtomicU64,
    pub max_size: u64,
}

impl Shared<'_> {
    /// The stop signal a reader saw, if one did.
    pub fn interrupted(&self) -> Option<Error> {
        nix::sys::signal::Signal::try_from(self.signal.load(Ordering::Relaxed))
            .ok()
            .map(Error::Interrupted)
    }

    /// Count `n` more unpacked bytes: false once past the limit (a size
    /// near 2^64, which a sparse entry can claim, is past any).
    pub fn take(&self, n: u64) -> bool {
        let max = self.max_size;
        self.unpacked
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= max)
            })
            .is_ok()
    }
}

/// A source that gives up as soon as a stop signal is pending, even while
/// waiting on a pipe or FIFO that has nothing to read yet (`wait`: the
/// descriptor to wait on; a regular file never makes a reader wait).
pub struct Interruptible<'a, 's, R> {
    pub inner: R,
    pub wait: Option<OwnedFd>,
    pub shared: &'a Shared<'s>,
}

impl<R: Read> Read for Interruptible<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let shared = self.shared;
        if !shared.stopped.load(Ordering::Relaxed) {
            let signals = PollFd::new(shared.signals.fd(), PollFlags::POLLIN);
            let seen = match &self.wait {
                Some(fd) => {
                    let mut fds = [signals, PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    poll(&mut fds, PollTimeout::NONE).map_err(io::Error::from)?;
                    fds[0].any() == Some(true)
                }
                None => {
                    let mut fds = [signals];
                    poll(&mut fds, PollTimeout::ZERO).map_err(io::Error::from)? > 0
                }
            };
            if seen {
                if let Err(Error::Interrupted(sig)) = shared.signals.check() {
                    shared.signal.store(sig as i32, Ordering::Relaxed);
                    shared.stopped.store(true, Ordering::Relaxed);
                }
            }
        }
        if shared.stopped.load(Ordering::Relaxed) {
            return Err(io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf)?;
        shared.progress.inc(n as u64);
        Ok(n)
    }
}

/// Passes bytes through and hashes them with SHA-256 on a thread of its
/// own, so the hashing takes a core that unpacking leaves idle. Read it
/// in large pieces (from under a BufReader): each read is one message.
pub struct Hashing<R> {
    inner: R,
    chunks: Option<SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<String>>,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        let (chunks, received) = sync_channel::<Vec<u8>>(8);
        let hasher = std::thread::spawn(move || {
            let mut hash = Sha256::new();
            for chunk in received {
                hash.update(&chunk);
            }
            hex::encode(hash.finalize())
        });
        Hashing {
            inner,
            chunks: Some(chunks),
            hasher: Some(hasher),
        }
    }

    /// Read what is left (a tar's padding, a compressor's trailer, whose
    /// checksum is checked only when it is read) and give the digest in hex.
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        drop(self.chunks.take());
        self.hasher
            .take()
            .and_then(|h| h.join().ok())
            .ok_or_else(|| io::Error::other("the hashing thread failed"))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let sent = self.chunks.as_ref().map(|c| c.send(buf[..n].to_vec()));
            if !matches!(sent, Some(Ok(()))) {
                return Err(io::Error::other("the hashing thread failed"));
            }
        }
        Ok(n)
    }
}

/// The most memory an xz stream may make its decoder take: xz -9 needs
/// 65 MiB to decode.
const XZ_MEMORY: u64 = 256 << 20;

/// The stream decompressed as `kind` says.
pub fn decoder<'r, R: BufRead + Send + 'r>(
    kind: Compression,
    input: R,
) -> io::Result<Box<dyn Read + Send + 'r>> {
    Ok(match kind {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Xz => {
            // A stream may ask for a dictionary of 1.5 GiB: xz(1)'s own
            // default limit, a quarter of memory, is left to xz(1).
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    })
}

/// An error with every cause it carries, on one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_size_near_two_to_the_64_does_not_wrap_the_count_under_the_limit() -> Outcome {
        let signals = Signals::block()?;
        let shared = Shared {
            signals: &signals,
            stopped: AtomicBool::new(false),
            signal: 0.into(),
            progress: indicatif::ProgressBar::hidden(),
            unpacked: 0.into(),
            max_size: 10 << 20,
        };
        assert!(shared.take(1 << 20));
        // 1 MiB + this wraps to 512 KiB: under the limit, if it wrapped.
        assert!(!shared.take(u64::MAX - (512 << 10)));
        assert!(shared.take(8 << 20));
        assert!(!shared.take(2 << 20));
        Ok(())
    }

    #[test]
    fn compression_is_told_by_its_first_bytes() {
        assert_eq!(Compression::of(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::of(b"\xfd7zXZ\x00\x00"), Compression::Xz);
        assert_eq!(Compression::of(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::of(b"bin/\0\0\0"), Compression::None);
    }

    #[test]
    fn every_compression_decodes_to_the_same_bytes() -> Outcome {
        let data = b"hello layers".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &data)?;
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        io::Write::write_all(&mut xz, &data)?;
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        io::Write::write_all(&mut bz, &data)?;
        let packed = [
            gz.finish()?,
            zstd::encode_all(&data[..], 3)?,
            xz.finish()?,
            bz.finish()?,
        ];
        for bytes in packed {
            let mut stream = decoder(Compression::of(&bytes), &bytes[..])?;
            let mut out = Vec::new();
            stream.read_to_end(&mut out)?;
            assert_eq!(out, data);
        }
        Ok(())
    }
}
