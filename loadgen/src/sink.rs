//! `loadgen sink`: a FIX acceptor that is not a venue, for measuring
//! loadgen itself and for testing it.
//!
//! It accepts any session, answers the logon, and then either only reads
//! (counting messages: the "sink that only reads" against which loadgen's
//! own sending rate is measured), or, with `answer`, acknowledges every
//! NewOrderSingle with an ExecutionReport (New), optionally holding all
//! answers back for a while once (`stall`), which is how the tests check
//! that latencies include a venue's stall.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use gateway::fix::codec::{Encoder, FieldBuf, Framing, frame, parse};
use gateway::fix::tags;

/// What the sink does with orders.
#[derive(Clone, Copy, Debug, Default)]
pub struct SinkMode {
    /// Acknowledge every NewOrderSingle with an ExecutionReport (New).
    pub answer: bool,
    /// Once this long after the logon, hold every answer back for
    /// `stall.1`, then send them all.
    pub stall: Option<(Duration, Duration)>,
}

/// A running sink.
#[derive(Debug)]
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Application messages received, over all connections.
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Listens on `addr` (port 0 for any free one).
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn start(addr: SocketAddr, mode: SinkMode) -> Result<Sink> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("loadgen-sink".to_owned())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                let received = Arc::clone(&received);
                                let stop = Arc::clone(&stop);
                                let _ = std::thread::Builder::new()
                                    .name("loadgen-sink-conn".to_owned())
                                    .spawn(move || {
                                        let _ = serve(stream, mode, &received, &stop);
                                    });
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(5)),
                        }
                    }
                })?
        };
        Ok(Sink {
            addr,
            received,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn serve(
    mut stream: TcpStream,
    mode: SinkMode,
    received: &AtomicU64,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    let mut fields = FieldBuf::with_capacity(64);
    let mut enc = Encoder::new();
    let mut out = Vec::with_capacity(1 << 16);
    let mut held = Vec::new();
    let mut seq = 1u64;
    let mut names: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut logged_on_at: Option<Instant> = None;
    let mut order_id = 0u64;
    while !stop.load(Ordering::Acquire) {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let mut used = 0;
        loop {
            match frame(&buf[used..], 1 << 20) {
                Framing::Incomplete => break,
                Framing::TooLarge { .. } => return Ok(()),
                Framing::Garbled { skip, .. } => used += skip,
                Framing::Complete { len } => {
                    let msg = &buf[used..used + len];
                    used += len;
                    let Ok(m) = parse(msg, &mut fields) else {
                        continue;
                    };
                    let wall = wall_ns();
                    let mut send =
                        |enc: &mut Encoder,
                         out: &mut Vec<u8>,
                         names: &(Vec<u8>, Vec<u8>),
                         t: &[u8],
                         body: &dyn Fn(&mut Encoder)| {
                            enc.start(b"FIX.4.4", t);
                            enc.str(tags::SENDER_COMP_ID, &names.0);
                            enc.str(tags::TARGET_COMP_ID, &names.1);
                            enc.u64(tags::MSG_SEQ_NUM, seq);
                            enc.timestamp_ms(tags::SENDING_TIME, wall);
                            body(enc);
                            out.extend_from_slice(enc.finish());
                            seq += 1;
                        };
                    match m.msg_type() {
                        b"A" => {
                            let n = (
                                m.get(tags::TARGET_COMP_ID).unwrap_or(b"VENUE").to_vec(),
                                m.get(tags::SENDER_COMP_ID).unwrap_or(b"CLIENT").to_vec(),
                            );
                            send(&mut enc, &mut out, &n, b"A", &|e| {
                                e.u64(tags::ENCRYPT_METHOD, 0);
                                e.u64(tags::HEART_BT_INT, 30);
                                e.bool(tags::RESET_SEQ_NUM_FLAG, true);
                            });
                            names = Some(n);
                            logged_on_at = Some(Instant::now());
                        }
                        b"5" => {
                            if let Some(n) = &names {
                                send(&mut enc, &mut out, n, b"5", &|_| {});
                            }
                            stream.write_all(&out)?;
                            return Ok(());
                        }
                        b"0" | b"1" | b"2" | b"4" => {}
                        t => {
                            received.fetch_add(1, Ordering::Relaxed);
                            if mode.answer && t == b"D" {
                                if let Some(n) = &names {
                                    order_id += 1;
                                    let cl = m.get(tags::CL_ORD_ID).unwrap_or(b"").to_vec();
                                    let symbol = m.get(tags::SYMBOL).unwrap_or(b"").to_vec();
                                    let side = m.get(tags::SIDE).unwrap_or(b"1").to_vec();
                                    let qty = m.get(tags::ORDER_QTY).unwrap_or(b"1").to_vec();
                                    let id = order_id;
                                    send(&mut enc, &mut out, n, b"8", &|e| {
                                        e.u64(tags::ORDER_ID, id);
                                        e.str(tags::CL_ORD_ID, &cl);
                                        e.u64(tags::EXEC_ID, id);
                                        e.char(tags::EXEC_TYPE, b'0');
                                        e.char(tags::ORD_STATUS, b'0');
                                        e.str(tags::SYMBOL, &symbol);
                                        e.str(tags::SIDE, &side);
                                        e.str(tags::ORDER_QTY, &qty);
                                        e.str(tags::LEAVES_QTY, &qty);
                                        e.u64(tags::CUM_QTY, 0);
                                        e.u64(tags::AVG_PX, 0);
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        buf.drain(..used.min(buf.len()));
        if out.is_empty() && held.is_empty() {
            continue;
        }
        let stalled = match (mode.stall, logged_on_at) {
            (Some((after, for_)), Some(at)) => {
                let e = at.elapsed();
                e >= after && e < after + for_
            }
            _ => false,
        };
        if stalled {
            held.append(&mut out);
        } else {
            if !held.is_empty() {
                stream.write_all(&held)?;
                held.clear();
            }
            stream.write_all(&out)?;
            out.clear();
        }
    }
    Ok(())
}
