//! FIX session settings, with the names QuickFIX users know.

use engine::types::ParticipantId;

/// What happens to a participant's orders when its session disconnects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CancelOnDisconnect {
    /// Orders stay.
    #[default]
    None,
    /// The participant's live Day orders are cancelled.
    Day,
    /// Every live order of the participant is cancelled.
    All,
}

/// A token bucket: `per_second` messages a second on average, bursts of up
/// to `burst`, and up to `queue_max` more waiting before a throttle reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub per_second: u32,
    /// Bucket size.
    pub burst: u32,
    /// Messages that may wait for tokens before the next is rejected.
    pub queue_max: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 10_000,
            burst: 1_000,
            queue_max: 10_000,
        }
    }
}

/// A weekly sequence reset: at `weekday` (0 = Monday … 6 = Sunday)
/// `hour:minute` in `time_zone` (an IANA name), both sequence numbers start
/// again at 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeeklyReset {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// IANA time zone name, e.g. `America/New_York`.
    pub time_zone: String,
}

impl Default for WeeklyReset {
    /// Sunday 17:00 New York, the FX and rates week's start.
    fn default() -> Self {
        WeeklyReset {
            weekday: 6,
            hour: 17,
            minute: 0,
            time_zone: "America/New_York".to_owned(),
        }
    }
}

/// One FIX session: a CompID pair bound to one participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The venue's CompID (the client's TargetCompID).
    pub sender_comp_id: String,
    /// The client's CompID (the client's SenderCompID).
    pub target_comp_id: String,
    /// The participant whose orders this session enters.
    pub participant: ParticipantId,
    /// Username(553) expected on Logon, if a password is required.
    pub username: Option<String>,
    /// Argon2 hash (PHC string) of Password(554); `None` to allow Logon
    /// without a password (say, behind an IP allowlist).
    pub password_hash: Option<String>,
    /// Start both sequences at 1 on every Logon.
    pub reset_on_logon: bool,
    /// Start both sequences at 1 after a Logout.
    pub reset_on_logout: bool,
    /// Start both sequences at 1 after any disconnect.
    pub reset_on_disconnect: bool,
    /// The weekly reset, if any.
    pub weekly_reset: Option<WeeklyReset>,
    /// Largest |SendingTime - now| accepted.
    pub sending_time_tolerance_ms: u64,
    /// Largest inbound message accepted, in bytes.
    pub max_message_size: usize,
    /// How long a new connection may take to log on.
    pub logon_timeout_ms: u64,
    /// How long to wait for the answer to our Logout.
    pub logout_timeout_ms: u64,
    /// What to cancel on disconnect.
    pub cancel_on_disconnect: CancelOnDisconnect,
    /// Rate limit for application messages.
    pub rate: RateLimit,
    /// Bytes waiting for a client that does not read, past which it is
    /// disconnected (its messages stay stored for a resend).
    pub outbox_max_bytes: usize,
}

impl SessionConfig {
    /// A session with QuickFIX's usual defaults and no password.
    #[must_use]
    pub fn new(sender_comp_id: &str, target_comp_id: &str, participant: ParticipantId) -> Self {
        SessionConfig {
            sender_comp_id: sender_comp_id.to_owned(),
            target_comp_id: target_comp_id.to_owned(),
            participant,
            username: None,
            password_hash: None,
            reset_on_logon: false,
            reset_on_logout: false,
            reset_on_disconnect: false,
            weekly_reset: Some(WeeklyReset::default()),
            sending_time_tolerance_ms: 120_000,
            max_message_size: 8 << 10,
            logon_timeout_ms: 10_000,
            logout_timeout_ms: 2_000,
            cancel_on_disconnect: CancelOnDisconnect::None,
            rate: RateLimit::default(),
            outbox_max_bytes: 16 << 20,
        }
    }

    /// The session's name in logs and file names: `VENUE-CLIENT1`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{}-{}", self.sender_comp_id, self.target_comp_id)
    }
}
