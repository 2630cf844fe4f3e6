//! The WebSocket gateway's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use engine::types::ParticipantId;

use crate::fix::app::InstrumentInfo;
use crate::fix::config::CancelOnDisconnect;

/// A certificate chain and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// A participant, as the WebSocket gateway knows it.
#[derive(Clone, Debug)]
pub struct WsParticipant {
    /// Engine id (the `participant` of a login).
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Ed25519 public keys that may log in as this participant.
    pub keys: Vec<VerifyingKey>,
    /// What to cancel when its last connection closes.
    pub cancel_on_disconnect: CancelOnDisconnect,
    /// Most connections logged in at once.
    pub max_connections: u32,
    /// Order entry messages a second per connection (0: no limit); over
    /// the rate, messages wait in order.
    pub rate_per_second: u32,
    /// Burst above the rate.
    pub rate_burst: u32,
}

/// The gateway's settings (see `docs/websocket-api.md`).
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS, if set.
    pub tls: Option<TlsFiles>,
    /// The venue's name, in `hello`.
    pub venue_name: String,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// Largest accepted difference between a login's timestamp and our clock.
    pub login_skew_ms: u64,
    /// Failed logins an address may make a minute.
    pub login_failures_per_minute: u32,
    /// Connections open at once from one address.
    pub max_connections_per_address: u32,
    /// Largest frame (and message) accepted.
    pub max_frame_bytes: usize,
    /// Subscriptions per connection.
    pub max_subscriptions: usize,
    /// Largest book depth.
    pub max_book_depth: u32,
    /// Messages waiting per connection before book channels are conflated
    /// (private events and trades close the connection at twice this).
    pub send_queue_max: usize,
    /// Private events kept per participant for `resume`.
    pub private_buffer_events: usize,
    /// SO_SNDBUF of each connection's socket; 0 leaves the kernel's
    /// autotuning (up to megabytes per connection). A small buffer makes a
    /// slow reader show up in the send queue, and so be conflated, sooner.
    pub socket_send_buffer_bytes: usize,
    /// The participants that have keys.
    pub participants: Vec<WsParticipant>,
    /// The instruments.
    pub instruments: Vec<InstrumentInfo>,
}

impl WsConfig {
    /// Settings with the documented defaults, for these participants and
    /// instruments.
    #[must_use]
    pub fn new(
        listen: SocketAddr,
        participants: Vec<WsParticipant>,
        instruments: Vec<InstrumentInfo>,
    ) -> WsConfig {
        WsConfig {
            listen,
            tls: None,
            venue_name: "venue".to_owned(),
            heartbeat_ms: 1000,
            login_skew_ms: 30_000,
            login_failures_per_minute: 5,
            max_connections_per_address: 50,
            max_frame_bytes: 64 * 1024,
            max_subscriptions: 64,
            max_book_depth: 100,
            send_queue_max: 8192,
            private_buffer_events: 65_536,
            socket_send_buffer_bytes: 0,
            participants,
            instruments,
        }
    }

    /// The participant with this id.
    #[must_use]
    pub fn participant(&self, id: u32) -> Option<&WsParticipant> {
        self.participants.iter().find(|p| p.id.0 == id)
    }
}

/// Parses a hex Ed25519 public key (64 hex digits).
///
/// # Errors
/// Not 32 bytes of hex, or not a valid curve point.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim())
        .map_err(|e| format!("an Ed25519 public key is 64 hex digits: {e}"))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("an Ed25519 public key is 32 bytes, not {}", b.len()))?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// Each participant's order entry rate (per second, burst), packed in one
/// atomic: set from the configuration at start and by the operator (a
/// journaled `SetRateLimit` the hub sees), read by every connection before
/// each message it paces.
#[derive(Debug)]
pub struct Rates {
    by_participant: Vec<(ParticipantId, std::sync::atomic::AtomicU64)>,
}

impl Rates {
    /// The configured rates.
    #[must_use]
    pub fn of(cfg: &WsConfig) -> Rates {
        Rates {
            by_participant: cfg
                .participants
                .iter()
                .map(|p| {
                    (
                        p.id,
                        std::sync::atomic::AtomicU64::new(pack(p.rate_per_second, p.rate_burst)),
                    )
                })
                .collect(),
        }
    }

    /// The participant's rate now: (per second, burst); 0 per second is no
    /// limit.
    #[must_use]
    pub fn get(&self, p: ParticipantId) -> Option<(u32, u32)> {
        self.by_participant
            .iter()
            .find(|(id, _)| *id == p)
            .map(|(_, a)| unpack(a.load(std::sync::atomic::Ordering::Relaxed)))
    }

    /// Sets the participant's rate; `false` if it has no WebSocket access.
    pub fn set(&self, p: ParticipantId, per_second: u32, burst: u32) -> bool {
        match self.by_participant.iter().find(|(id, _)| *id == p) {
            Some((_, a)) => {
                a.store(
                    pack(per_second, burst),
                    std::sync::atomic::Ordering::Relaxed,
                );
                true
            }
            None => false,
        }
    }
}

fn pack(per_second: u32, burst: u32) -> u64 {
    u64::from(per_second) << 32 | u64::from(burst)
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}
