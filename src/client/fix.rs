//! The terminal's FIX connection, on the venue's own codec
//! (`gateway::fix::codec`): [`Writer`] numbers and encodes outgoing
//! messages, [`Reader`] frames and parses incoming ones into owned
//! [`FixMsg`]s.
//!
//! The terminal keeps no message store: it logs on with
//! ResetSeqNumFlag(141)=Y, so both sides start at 1, and it answers a
//! ResendRequest with a gap fill (it never resends an order: a person who
//! wants it again types it again).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::fix::codec::{Encoder, FieldBuf, Framing, frame, parse};
use gateway::fix::tags;

/// FIX 4.4.
pub(crate) const BEGIN_STRING: &[u8] = b"FIX.4.4";
/// The largest message accepted from the venue.
const MESSAGE_LEN_MAX: usize = 1 << 20;

/// Nanoseconds since the Unix epoch (0 for a clock before 1970).
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A received message: its type and its fields in wire order, as text
/// (bytes that are not UTF-8 are replaced, for display).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FixMsg {
    pub(crate) msg_type: String,
    pub(crate) fields: Vec<(u32, String)>,
}

impl FixMsg {
    /// The first value of `tag`.
    pub(crate) fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `tag`, in order (a repeating group's members).
    pub(crate) fn all(&self, tag: u32) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// A number field, if present and a number.
    pub(crate) fn get_u64(&self, tag: u32) -> Option<u64> {
        self.get(tag).and_then(|v| v.parse().ok())
    }

    /// MsgSeqNum(34).
    pub(crate) fn seq(&self) -> Option<u64> {
        self.get_u64(tags::MSG_SEQ_NUM)
    }

    /// Whether PossDupFlag(43) is Y.
    pub(crate) fn poss_dup(&self) -> bool {
        self.get(tags::POSS_DUP_FLAG) == Some("Y")
    }

    /// Builds one from fields, for tests.
    #[cfg(test)]
    pub(crate) fn of(msg_type: &str, fields: &[(u32, &str)]) -> FixMsg {
        FixMsg {
            msg_type: msg_type.to_owned(),
            fields: fields.iter().map(|(t, v)| (*t, (*v).to_owned())).collect(),
        }
    }
}

/// What [`Reader::next`] found.
#[derive(Debug)]
pub(crate) enum Incoming {
    Message(FixMsg),
    /// Nothing arrived before the read timeout.
    Quiet,
    /// The venue closed the connection (or it broke: the text says how).
    Closed(String),
}

/// The receiving half.
#[derive(Debug)]
pub(crate) struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
    fields: FieldBuf,
    /// Garbled bytes skipped so far.
    pub(crate) garbled: u64,
}

impl Reader {
    pub(crate) fn new(stream: TcpStream) -> Reader {
        Reader {
            stream,
            buf: Vec::with_capacity(64 << 10),
            fields: FieldBuf::with_capacity(64),
            garbled: 0,
        }
    }

    /// The next message, waiting at most `wait` for bytes.
    pub(crate) fn next(&mut self, wait: Duration) -> Incoming {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(msg) = self.take() {
                return msg;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Incoming::Quiet;
            }
            if let Err(e) = self.stream.set_read_timeout(Some(left)) {
                return Incoming::Closed(format!("cannot set a read timeout: {e}"));
            }
            let mut chunk = [0u8; 16 << 10];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Incoming::Closed("the venue closed the connection".to_owned()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Incoming::Quiet;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Incoming::Closed(format!("the connection to the venue broke ({e})"));
                }
            }
        }
    }

    /// A whole message from the buffer, if one is there.
    fn take(&mut self) -> Option<Incoming> {
        loop {
            match frame(&self.buf, MESSAGE_LEN_MAX) {
                Framing::Incomplete => return None,
                Framing::TooLarge { declared } => {
                    return Some(Incoming::Closed(format!(
                        "the venue sent a message of {declared} bytes (more than {MESSAGE_LEN_MAX})"
                    )));
                }
                Framing::Garbled { skip, .. } => {
                    // As the session layer does: garbled bytes are dropped
                    // without touching sequence numbers.
                    self.garbled += 1;
                    self.buf.drain(..skip.min(self.buf.len()));
                }
                Framing::Complete { len } => {
                    let parsed = parse(&self.buf[..len], &mut self.fields)
                        .ok()
                        .map(|m| FixMsg {
                            msg_type: String::from_utf8_lossy(m.msg_type()).into_owned(),
                            fields: m
                                .fields()
                                .map(|(t, v)| (t, String::from_utf8_lossy(v).into_owned()))
                                .collect(),
                        });
                    self.buf.drain(..len);
                    match parsed {
                        Some(msg) => return Some(Incoming::Message(msg)),
                        None => self.garbled += 1,
                    }
                }
            }
        }
    }
}

/// The sending half: our CompIDs, our next MsgSeqNum, a reusable encoder.
#[derive(Debug)]
pub(crate) struct Writer {
    stream: TcpStream,
    enc: Encoder,
    sender: String,
    target: String,
    next_seq: u64,
    last_sent: Instant,
}

impl Writer {
    pub(crate) fn new(stream: TcpStream, sender: &str, target: &str) -> Writer {
        Writer {
            stream,
            enc: Encoder::new(),
            sender: sender.to_owned(),
            target: target.to_owned(),
            next_seq: 1,
            last_sent: Instant::now(),
        }
    }

    /// The MsgSeqNum the next message gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// When we last sent anything (for heartbeats).
    pub(crate) fn last_sent(&self) -> Instant {
        self.last_sent
    }

    /// Sends a message with the next MsgSeqNum; `body` writes the fields
    /// after the standard header. Returns the MsgSeqNum used.
    pub(crate) fn send(
        &mut self,
        msg_type: &[u8],
        body: impl FnOnce(&mut Encoder),
    ) -> io::Result<u64> {
        let seq = self.next_seq;
        self.write(msg_type, seq, false, body)?;
        self.next_seq += 1;
        Ok(seq)
    }

    /// A SequenceReset-GapFill from `begin` to our next MsgSeqNum: the
    /// answer to a ResendRequest, since the terminal resends nothing.
    pub(crate) fn gap_fill(&mut self, begin: u64) -> io::Result<()> {
        let new_seq = self.next_seq;
        let begin = begin.min(new_seq);
        self.write(b"4", begin, true, |e| {
            e.bool(tags::GAP_FILL_FLAG, true);
            e.u64(tags::NEW_SEQ_NO, new_seq);
        })
    }

    fn write(
        &mut self,
        msg_type: &[u8],
        seq: u64,
        poss_dup: bool,
        body: impl FnOnce(&mut Encoder),
    ) -> io::Result<()> {
        let now = now_ns();
        let e = &mut self.enc;
        e.start(BEGIN_STRING, msg_type);
        e.str(tags::SENDER_COMP_ID, self.sender.as_bytes());
        e.str(tags::TARGET_COMP_ID, self.target.as_bytes());
        e.u64(tags::MSG_SEQ_NUM, seq);
        if poss_dup {
            e.bool(tags::POSS_DUP_FLAG, true);
        }
        e.timestamp_ms(tags::SENDING_TIME, now);
        if poss_dup {
            e.timestamp_ms(tags::ORIG_SENDING_TIME, now);
        }
        body(e);
        let bytes = e.finish();
        self.stream.write_all(bytes)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Closes our side of the connection.
    pub(crate) fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn what_the_writer_sends_the_reader_reads_back() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let out = TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        let (inp, _) = listener.accept().expect("accepts");
        let mut w = Writer::new(out, "CLIENT1", "VENUE");
        let seq = w
            .send(b"D", |e| {
                e.str(tags::CL_ORD_ID, b"o-1");
                e.str(tags::SYMBOL, b"UST-10Y");
            })
            .expect("sends");
        assert_eq!(seq, 1);
        w.gap_fill(1).expect("sends");
        assert_eq!(w.next_seq(), 2, "a gap fill takes no new number");
        // Garbage between messages is skipped.
        let mut raw = w.stream.try_clone().expect("clone");
        raw.write_all(b"garbage\x01").expect("writes");
        w.send(b"0", |_| {}).expect("sends");
        let mut r = Reader::new(inp);
        let Incoming::Message(m) = r.next(Duration::from_secs(5)) else {
            panic!("no message")
        };
        assert_eq!(m.msg_type, "D");
        assert_eq!(
            (m.get(49), m.get(56), m.seq()),
            (Some("CLIENT1"), Some("VENUE"), Some(1))
        );
        assert_eq!((m.get(11), m.get(55)), (Some("o-1"), Some("UST-10Y")));
        let Incoming::Message(m) = r.next(Duration::from_secs(5)) else {
            panic!("no gap fill")
        };
        assert_eq!(
            (
                m.msg_type.as_str(),
                m.seq(),
                m.poss_dup(),
                m.get(123),
                m.get(36)
            ),
            ("4", Some(1), true, Some("Y"), Some("2"))
        );
        assert!(m.get(122).is_some(), "OrigSendingTime on a PossDup message");
        let Incoming::Message(m) = r.next(Duration::from_secs(5)) else {
            panic!("no heartbeat")
        };
        assert_eq!((m.msg_type.as_str(), m.seq()), ("0", Some(2)));
        assert_eq!(r.garbled, 1);
        assert!(matches!(r.next(Duration::from_millis(20)), Incoming::Quiet));
        w.shutdown();
        assert!(matches!(
            r.next(Duration::from_secs(5)),
            Incoming::Closed(_)
        ));
    }
}
