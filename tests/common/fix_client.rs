//! A small FIX 4.4 test client, written independently of the venue's codec
//! (its own framing and checksum), so that a bug in one is not mirrored in
//! the other.

#![allow(dead_code, reason = "each test uses part of the client")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const SOH: char = '\x01';

/// A received message: its fields in order.
#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub(crate) fields: Vec<(u32, String)>,
    pub(crate) raw: String,
}

impl Msg {
    pub(crate) fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }

    pub(crate) fn seq(&self) -> u64 {
        self.get(34).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

/// UTC timestamp text with milliseconds.
pub(crate) fn utc_now() -> String {
    utc(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
}

/// UTC timestamp text for a time since the epoch.
pub(crate) fn utc(d: Duration) -> String {
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{dd:02}-{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Builds a complete message from a MsgType and the fields after the
/// standard header's BeginString, BodyLength and MsgType.
pub(crate) fn build(msg_type: &str, fields: &[(u32, String)]) -> String {
    let mut body = format!("35={msg_type}{SOH}");
    for (t, v) in fields {
        body.push_str(&format!("{t}={v}{SOH}"));
    }
    let head = format!("8=FIX.4.4{SOH}9={}{SOH}", body.len());
    let mut msg = head + &body;
    let sum: u32 = msg.bytes().map(u32::from).sum::<u32>() % 256;
    msg.push_str(&format!("10={sum:03}{SOH}"));
    msg
}

/// A connected client session.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    pub(crate) sender: String,
    pub(crate) target: String,
    pub(crate) next_out: u64,
    buf: Vec<u8>,
    /// Every message received, in order.
    pub(crate) received: Vec<Msg>,
}

impl Client {
    pub(crate) fn connect(addr: &str, sender: &str) -> Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot connect to {addr}: {e}"),
            }
        };
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            sender: sender.to_owned(),
            target: "VENUE".to_owned(),
            next_out: 1,
            buf: Vec::new(),
            received: Vec::new(),
        }
    }

    /// The standard header fields for our next message, then `fields`.
    pub(crate) fn header(&self, seq: u64) -> Vec<(u32, String)> {
        vec![
            (49, self.sender.clone()),
            (56, self.target.clone()),
            (34, seq.to_string()),
            (52, utc_now()),
        ]
    }

    /// Sends a message with the next sequence number.
    pub(crate) fn send(&mut self, msg_type: &str, fields: &[(u32, String)]) -> u64 {
        let seq = self.next_out;
        self.send_with_seq(msg_type, seq, fields);
        self.next_out += 1;
        seq
    }

    /// Sends a message with a given sequence number (not advancing ours).
    pub(crate) fn send_with_seq(&mut self, msg_type: &str, seq: u64, fields: &[(u32, String)]) {
        let mut all = self.header(seq);
        all.extend_from_slice(fields);
        self.send_raw(build(msg_type, &all).as_bytes());
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub(crate) fn logon(&mut self, heartbeat_s: u32, extra: &[(u32, String)]) -> Msg {
        let mut fields = vec![(98, "0".to_owned()), (108, heartbeat_s.to_string())];
        fields.extend_from_slice(extra);
        self.send("A", &fields);
        self.expect("A", Duration::from_secs(5))
    }

    /// The next message, or `None` after `timeout` or on disconnect.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.take_message() {
                self.received.push(m.clone());
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits for a message of `msg_type`, skipping heartbeats; panics with
    /// what arrived instead.
    pub(crate) fn expect(&mut self, msg_type: &str, timeout: Duration) -> Msg {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(m) if m.msg_type() == msg_type => return m,
                Some(m) => seen.push(m.raw.replace(SOH, "|")),
                None => panic!("expected 35={msg_type}, got {seen:?}"),
            }
        }
    }

    /// Whether the venue closed the connection within `timeout` (any
    /// messages before the close are kept in `received`).
    pub(crate) fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.take_message().is_some() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    fn take_message(&mut self) -> Option<Msg> {
        // Find "10=xxx<SOH>" after a BodyLength-delimited body.
        let text = std::str::from_utf8(&self.buf).ok()?;
        let body_len_start = text.find("\x019=")? + 3;
        let body_len_end = body_len_start + text[body_len_start..].find(SOH)?;
        let body_len: usize = text[body_len_start..body_len_end].parse().ok()?;
        let end = body_len_end + 1 + body_len + 7;
        if self.buf.len() < end {
            return None;
        }
        let raw = String::from_utf8(self.buf[..end].to_vec()).ok()?;
        self.buf.drain(..end);
        let fields = raw
            .split(SOH)
            .filter(|f| !f.is_empty())
            .filter_map(|f| {
                let (t, v) = f.split_once('=')?;
                Some((t.parse().ok()?, v.to_owned()))
            })
            .collect();
        Some(Msg { fields, raw })
    }
}

/// A NewOrderSingle's fields.
pub(crate) fn new_order(cl_ord_id: &str, side: u8, qty: &str, price: &str) -> Vec<(u32, String)> {
    vec![
        (11, cl_ord_id.to_owned()),
        (21, "1".to_owned()),
        (55, "UST-10Y".to_owned()),
        (54, (side as char).to_string()),
        (60, utc_now()),
        (38, qty.to_owned()),
        (40, "2".to_owned()),
        (44, price.to_owned()),
        (59, "0".to_owned()),
    ]
}
