//! The venue's configuration file (TOML): one file for a whole venue.
//!
//! [`load`] reads and checks a file. Unknown keys and wrong types are errors
//! with the file, line and column (serde with `deny_unknown_fields`, and the
//! `toml` crate's spans); semantic errors ([`VenueConfig::check`]) say what
//! is wrong and how to fix it. Prices and quantities are exact decimals in
//! the file and become integer ticks and lots here, or the file is refused.
//! `examples/venue.toml` documents every key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use engine::{
    Collar, CreditLimit, Decimal, EngineConfig, InstrumentId, InstrumentSpec, OrdType, OrdTypeSet,
    ParticipantId, ParticipantSpec, Permissions, Phase, StpMode, TifSet, TimeInForce, TradingHours,
    VolatilityGuard,
};
use gateway::fix::app::InstrumentInfo;
use gateway::fix::config::{CancelOnDisconnect, RateLimit, SessionConfig, WeeklyReset};
use gateway::ws::config::{TlsFiles, WsConfig, WsParticipant, parse_public_key};
use journal::Durability;
use serde::Deserialize;

use crate::logging::{LogFormat, LogSettings};
use crate::runtime::IdleStrategy;

/// The most slots a ring may be configured with: 2^24 (a few GB of
/// inputs or outputs), far past what a venue needs and short of an
/// allocation that would abort the process.
pub const RING_SLOTS_MAX: usize = 1 << 24;

/// The file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueFile {
    /// `[venue]`
    pub venue: VenueSection,
    /// `[log]`
    #[serde(default)]
    pub log: LogSection,
    /// `[journal]`
    #[serde(default)]
    pub journal: JournalSection,
    /// `[engine]`
    #[serde(default)]
    pub engine: EngineSection,
    /// `[fix]`
    #[serde(default)]
    pub fix: FixSection,
    /// `[websocket]`
    #[serde(default)]
    pub websocket: WebSocketSection,
    /// `[admin]`
    #[serde(default)]
    pub admin: AdminSection,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: MetricsSection,
    /// `[[instrument]]`
    #[serde(rename = "instrument", default)]
    pub instruments: Vec<InstrumentEntry>,
    /// `[[participant]]`
    #[serde(rename = "participant", default)]
    pub participants: Vec<ParticipantEntry>,
}

/// `[venue]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSection {
    /// Display name.
    pub name: String,
}

/// `[admin]`: the operator's HTTP API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Listen address.
    pub listen: String,
    /// Argon2 hash of the bearer token (`venue hash-password`); without it
    /// the operator's actions are refused (health, readiness and metrics
    /// still answer).
    pub token_hash: Option<String>,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: "127.0.0.1:9880".to_owned(),
            token_hash: None,
        }
    }
}

/// The operator's HTTP API, checked.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Argon2 hash of the bearer token, if operator actions are enabled.
    pub token_hash: Option<String>,
}

/// `[log]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// `EnvFilter` directives (`RUST_LOG` overrides them).
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: "text".to_owned(),
            filter: "info".to_owned(),
        }
    }
}

/// `[journal]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSection {
    /// `process`, `group` or `sync`.
    pub durability: String,
    /// Group commit interval.
    pub flush_interval_us: u64,
    /// Segment size.
    pub segment_size_mb: u64,
}

impl Default for JournalSection {
    fn default() -> Self {
        JournalSection {
            durability: "group".to_owned(),
            flush_interval_us: 250,
            segment_size_mb: 256,
        }
    }
}

/// `[engine]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Core to pin the matching thread to.
    pub core: Option<usize>,
    /// `backoff` or `busy-spin`.
    pub idle: String,
    /// Inbound ring capacity (rounded up to a power of two).
    pub inbound_ring: usize,
    /// Outbound ring capacity.
    pub outbound_ring: usize,
    /// Orders (live plus finished today) to reserve room for.
    pub orders_capacity: usize,
    /// Snapshot every this many inputs (0: only at shutdown).
    pub snapshot_every_inputs: u64,
    /// Journal a state-hash checkpoint every this many inputs (0: never).
    pub checkpoint_every_inputs: u64,
    /// Clock tick interval.
    pub tick_interval_ms: u64,
    /// End of the trading day, `HH:MM` UTC.
    pub day_end_utc: String,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            core: None,
            idle: "backoff".to_owned(),
            inbound_ring: 1 << 16,
            outbound_ring: 1 << 14,
            orders_capacity: 1 << 16,
            snapshot_every_inputs: 1_000_000,
            checkpoint_every_inputs: 1_000_000,
            tick_interval_ms: 1_000,
            day_end_utc: "22:00".to_owned(),
        }
    }
}

/// `[fix]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixSection {
    /// Listen address.
    pub listen: String,
    /// The venue's CompID.
    pub comp_id: String,
    /// Idle turns the FIX thread polls without blocking before it yields.
    pub idle_spins: u32,
    /// Idle turns it yields before it blocks in epoll.
    pub idle_yields: u32,
}

impl Default for FixSection {
    fn default() -> Self {
        FixSection {
            listen: "127.0.0.1:9878".to_owned(),
            comp_id: "VENUE".to_owned(),
            idle_spins: 0,
            idle_yields: 0,
        }
    }
}

/// `[websocket]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSection {
    /// Listen address.
    pub listen: String,
    /// PEM certificate chain for `wss://`.
    pub tls_cert: Option<String>,
    /// PEM private key for `wss://`.
    pub tls_key: Option<String>,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// Largest login clock difference.
    pub login_skew_ms: u64,
    /// Failed logins per address a minute.
    pub login_failures_per_minute: u32,
    /// Connections per address.
    pub max_connections_per_address: u32,
    /// Largest frame.
    pub max_frame_bytes: usize,
    /// Subscriptions per connection.
    pub max_subscriptions: usize,
    /// Largest book depth.
    pub max_book_depth: u32,
    /// Messages waiting per connection before conflation.
    pub send_queue_max: usize,
    /// Private events kept per participant for resume.
    pub private_buffer_events: usize,
    /// SO_SNDBUF per connection; 0 for the kernel's autotuning.
    pub socket_send_buffer_bytes: usize,
}

impl Default for WebSocketSection {
    fn default() -> Self {
        let d = WsConfig::new(([127, 0, 0, 1], 9879).into(), Vec::new(), Vec::new());
        WebSocketSection {
            listen: d.listen.to_string(),
            tls_cert: None,
            tls_key: None,
            heartbeat_ms: d.heartbeat_ms,
            login_skew_ms: d.login_skew_ms,
            login_failures_per_minute: d.login_failures_per_minute,
            max_connections_per_address: d.max_connections_per_address,
            max_frame_bytes: d.max_frame_bytes,
            max_subscriptions: d.max_subscriptions,
            max_book_depth: d.max_book_depth,
            send_queue_max: d.send_queue_max,
            private_buffer_events: d.private_buffer_events,
            socket_send_buffer_bytes: d.socket_send_buffer_bytes,
        }
    }
}

/// `[metrics]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Rate-limit quota use (a fraction) past which a session is warned
    /// about.
    pub quota_warning_threshold: f64,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            quota_warning_threshold: crate::metrics::QUOTA_WARNING_THRESHOLD_DEFAULT,
        }
    }
}

/// `[participant.websocket]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketEntry {
    /// Ed25519 public keys, hex.
    pub public_keys: Vec<String>,
    /// `none`, `day` or `all`.
    #[serde(default = "default_cod")]
    pub cancel_on_disconnect: String,
    /// Connections logged in at once.
    #[serde(default = "default_ws_connections")]
    pub max_connections: u32,
    /// Order entry messages a second per connection; 0 for no limit.
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    /// Burst.
    #[serde(default = "default_burst")]
    pub rate_burst: u32,
}

fn default_ws_connections() -> u32 {
    10
}

/// `[[instrument]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentEntry {
    /// Stable id.
    pub id: u32,
    /// Symbol.
    pub symbol: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Tick size, decimal text.
    pub tick_size: String,
    /// Lot size, decimal text.
    #[serde(default = "one")]
    pub lot_size: String,
    /// Smallest order quantity, decimal text in units (a multiple of the lot).
    #[serde(default)]
    pub min_qty: Option<String>,
    /// Largest order quantity.
    #[serde(default)]
    pub max_qty: Option<String>,
    /// Largest price × quantity of one order, decimal text.
    #[serde(default)]
    pub max_notional: Option<String>,
    /// Collar half-width: `{ ticks = N }` or `{ percent = "P" }`.
    #[serde(default)]
    pub collar: Option<CollarEntry>,
    /// Reference price before the first trade, decimal text (may be negative).
    #[serde(default)]
    pub reference_price: Option<String>,
    /// Order types allowed (`limit`, `market`, `stop`, `stop_limit`).
    #[serde(default)]
    pub order_types: Option<Vec<String>>,
    /// Time in force allowed (`day`, `gtc`, `ioc`, `fok`, `gtd`).
    #[serde(default)]
    pub time_in_force: Option<Vec<String>>,
    /// Phase at start: `open` (default), `pre_open`, `halted`, `closed`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Volatility interruption.
    #[serde(default)]
    pub volatility: Option<VolatilityEntry>,
    /// Trading hours, UTC.
    #[serde(default)]
    pub hours: Option<HoursEntry>,
}

/// `hours = { pre_open = "06:30", open = "07:00", close = "21:00" }`, UTC.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursEntry {
    /// Start of pre-open (optional).
    #[serde(default)]
    pub pre_open: Option<String>,
    /// Start of continuous trading.
    pub open: String,
    /// End of trading.
    pub close: String,
}

/// `volatility = { percent = "2", window_s = 60, pause_s = 300 }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolatilityEntry {
    /// Largest move, in percent of a reference trade's price (two decimals).
    pub percent: String,
    /// Seconds of trades that count as references.
    pub window_s: u64,
    /// Seconds the instrument stays halted.
    pub pause_s: u64,
}

fn one() -> String {
    "1".to_owned()
}

/// A collar.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollarEntry {
    /// Half-width in ticks.
    #[serde(default)]
    pub ticks: Option<i64>,
    /// Half-width in percent of the reference price, decimal text.
    #[serde(default)]
    pub percent: Option<String>,
}

/// `[[participant]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantEntry {
    /// Stable id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// `none`, `cancel_resting`, `cancel_aggressing`, `cancel_both`, `decrement_both`.
    #[serde(default = "default_stp")]
    pub self_trade_prevention: String,
    /// Its FIX session, if it trades over FIX.
    #[serde(default)]
    pub fix: Option<FixSessionEntry>,
    /// Its WebSocket keys, if it trades over WebSocket.
    #[serde(default)]
    pub websocket: Option<WebSocketEntry>,
    /// Credit limits: symbol → largest open notional (price × quantity over
    /// its resting orders, as `max_notional` counts one order).
    #[serde(default)]
    pub credit_limits: BTreeMap<String, String>,
    /// The instruments it may trade (symbols); absent: all.
    #[serde(default)]
    pub instruments: Option<Vec<String>>,
}

fn default_stp() -> String {
    "cancel_resting".to_owned()
}

/// `[participant.fix]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixSessionEntry {
    /// The client's SenderCompID.
    pub sender_comp_id: String,
    /// Username(553) expected on Logon.
    #[serde(default)]
    pub username: Option<String>,
    /// Argon2 hash of Password(554) (`venue hash-password`).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Logon without a password (say, behind an IP allowlist): must be said
    /// explicitly.
    #[serde(default)]
    pub allow_without_password: bool,
    /// QuickFIX's ResetOnLogon.
    #[serde(default)]
    pub reset_on_logon: bool,
    /// QuickFIX's ResetOnLogout.
    #[serde(default)]
    pub reset_on_logout: bool,
    /// QuickFIX's ResetOnDisconnect.
    #[serde(default)]
    pub reset_on_disconnect: bool,
    /// `"sun 17:00 America/New_York"` or `"none"`.
    #[serde(default = "default_weekly_reset")]
    pub weekly_reset: String,
    /// SendingTime tolerance.
    #[serde(default = "default_tolerance")]
    pub sending_time_tolerance_s: u64,
    /// Largest inbound message.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Time to log on after connecting.
    #[serde(default = "default_logon_timeout")]
    pub logon_timeout_s: u64,
    /// `none`, `day` or `all`.
    #[serde(default = "default_cod")]
    pub cancel_on_disconnect: String,
    /// Messages per second.
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    /// Burst.
    #[serde(default = "default_burst")]
    pub rate_burst: u32,
    /// Messages waiting for tokens before a throttle reject.
    #[serde(default = "default_queue")]
    pub rate_queue: usize,
}

fn default_weekly_reset() -> String {
    "sun 17:00 America/New_York".to_owned()
}
fn default_tolerance() -> u64 {
    120
}
fn default_max_message() -> usize {
    8 << 10
}
fn default_logon_timeout() -> u64 {
    10
}
fn default_cod() -> String {
    "none".to_owned()
}
fn default_rate() -> u32 {
    RateLimit::default().per_second
}
fn default_burst() -> u32 {
    RateLimit::default().burst
}
fn default_queue() -> usize {
    RateLimit::default().queue_max
}

/// A checked configuration, in the engine's and the gateway's terms.
#[derive(Debug, Clone)]
pub struct VenueConfig {
    /// Venue name.
    pub name: String,
    /// The log's format and filter.
    pub log: LogSettings,
    /// Journal durability.
    pub durability: Durability,
    /// Journal segment size.
    pub segment_size_bytes: u64,
    /// The engine's configuration.
    pub engine: EngineConfig,
    /// Core to pin to.
    pub core: Option<usize>,
    /// The matching thread's idle strategy.
    pub idle: IdleStrategy,
    /// Ring sizes.
    pub inbound_ring: usize,
    /// Ring sizes.
    pub outbound_ring: usize,
    /// Snapshot interval in inputs.
    pub snapshot_every_inputs: u64,
    /// Checkpoint interval in inputs.
    pub checkpoint_every_inputs: u64,
    /// Clock tick interval.
    pub tick_interval_ns: u64,
    /// FIX listen address.
    pub fix_listen: SocketAddr,
    /// FIX sessions.
    pub fix_sessions: Vec<SessionConfig>,
    /// The FIX thread's idle strategy: spins, then yields, then it blocks.
    pub fix_idle: (u32, u32),
    /// Instruments as the gateway sees them.
    pub instruments: Vec<InstrumentInfo>,
    /// The WebSocket gateway.
    pub ws: WsConfig,
    /// The operator's HTTP API.
    pub admin: AdminConfig,
    /// Participants' ids and names.
    pub participant_names: Vec<(ParticipantId, String)>,
    /// Rate-limit quota use (a fraction in (0, 1]) past which a session is
    /// warned about.
    pub quota_warning_threshold: f64,
}

/// Reads and checks `path`.
///
/// # Errors
/// The file cannot be read, does not parse (with line and column), or is
/// semantically wrong (with what to change).
pub fn load(path: &Path) -> Result<VenueConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    parse(&text, path)
}

/// Parses and checks configuration text; `path` names it in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path) -> Result<VenueConfig> {
    let file: VenueFile = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    check(file).with_context(|| format!("{}", path.display()))
}

fn decimal(text: &str, what: &str) -> Result<(bool, Decimal)> {
    gateway::fix::decimal::parse_decimal(text.as_bytes()).map_err(|_| {
        anyhow::anyhow!("{what} {text:?} is not a decimal number (write it as \"100.25\")")
    })
}

fn units(text: &str, unit: Decimal, unit_text: &str, what: &str) -> Result<i64> {
    let (negative, value) = decimal(text, what)?;
    gateway::fix::decimal::to_units(negative, value, unit)
        .ok_or_else(|| anyhow::anyhow!("{what} {text} is not a whole multiple of {unit_text}"))
}

/// A notional (price × quantity, decimal text) in tick-lots: notional =
/// ticks × tick × lots × lot, so it is `n / (tick × lot)`, which must come
/// out whole and positive.
///
/// # Errors
/// The text is not a decimal, not a whole number of tick-lots, or not
/// positive.
pub fn notional_tick_lots(n: &str, tick: Decimal, lot: Decimal, what: &str) -> Result<u64> {
    let (neg, value) = decimal(n, what)?;
    let tick_lot = Decimal {
        mantissa: tick
            .mantissa
            .checked_mul(lot.mantissa)
            .context("tick × lot too precise")?,
        scale: tick.scale + lot.scale,
    };
    let tl = gateway::fix::decimal::to_units(neg, value, tick_lot)
        .ok_or_else(|| anyhow::anyhow!("{what} {n} is not a whole number of tick × lot"))?;
    u64::try_from(tl)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| anyhow::anyhow!("{what} {n} must be positive"))
}

/// Percent text with at most two decimals, in basis points.
fn percent_bps(p: &str, what: &str) -> Result<u32> {
    let (neg, pct) = decimal(p, what)?;
    let bps_unit = Decimal {
        mantissa: 1,
        scale: 2,
    };
    gateway::fix::decimal::to_units(neg, pct, bps_unit)
        .filter(|b| *b > 0)
        .and_then(|b| u32::try_from(b).ok())
        .ok_or_else(|| anyhow::anyhow!("{what} {p} must be positive with at most two decimals"))
}

fn check(file: VenueFile) -> Result<VenueConfig> {
    let log = LogSettings {
        format: LogFormat::parse(&file.log.format).context("[log] format")?,
        filter: file.log.filter.clone(),
    };
    crate::logging::parse_filter(&log.filter).context("[log] filter")?;
    let durability = match file.journal.durability.as_str() {
        "process" => Durability::Process,
        "group" => Durability::Group {
            flush_interval_us: file.journal.flush_interval_us.max(1),
            flush_threshold_bytes: 4 << 20,
        },
        "sync" => Durability::Sync,
        other => {
            bail!("[journal] durability {other:?}: expected \"process\", \"group\" or \"sync\"")
        }
    };
    let idle = match file.engine.idle.as_str() {
        "backoff" => IdleStrategy::default(),
        "busy-spin" => IdleStrategy::BusySpin,
        other => bail!("[engine] idle {other:?}: expected \"backoff\" or \"busy-spin\""),
    };
    let day_end_ns_of_day = parse_hh_mm(&file.engine.day_end_utc)
        .with_context(|| format!("[engine] day_end_utc {:?}", file.engine.day_end_utc))?;
    let quota_warning_threshold = file.metrics.quota_warning_threshold;
    if !(quota_warning_threshold > 0.0 && quota_warning_threshold <= 1.0) {
        bail!(
            "[metrics] quota_warning_threshold {quota_warning_threshold}: expected a fraction \
             above 0 and at most 1 (0.7 warns when a session uses 70% of its rate limit)"
        );
    }
    let fix_listen: SocketAddr = file.fix.listen.parse().with_context(|| {
        format!(
            "[fix] listen {:?}: expected an address such as 127.0.0.1:9878",
            file.fix.listen
        )
    })?;

    let mut instruments = Vec::new();
    let mut infos = Vec::new();
    let mut ids = BTreeSet::new();
    let mut symbols = BTreeSet::new();
    for i in &file.instruments {
        let at = format!("[[instrument]] {}", i.symbol);
        if !ids.insert(i.id) {
            bail!(
                "{at}: id {} is used twice; give every instrument its own id",
                i.id
            );
        }
        if !symbols.insert(i.symbol.clone()) {
            bail!("{at}: symbol used twice");
        }
        let (neg, tick) = decimal(&i.tick_size, "tick_size").with_context(|| at.clone())?;
        let (neg_lot, lot) = decimal(&i.lot_size, "lot_size").with_context(|| at.clone())?;
        if neg || tick.is_zero() || neg_lot || lot.is_zero() {
            bail!("{at}: tick_size and lot_size must be positive");
        }
        let mut spec = InstrumentSpec::new(InstrumentId(i.id), &i.symbol);
        spec.tick_size = tick;
        spec.lot_size = lot;
        if let Some(q) = &i.min_qty {
            spec.qty_min_lots =
                units(q, lot, &i.lot_size, "min_qty").with_context(|| at.clone())? as u64;
        }
        if let Some(q) = &i.max_qty {
            spec.qty_max_lots =
                units(q, lot, &i.lot_size, "max_qty").with_context(|| at.clone())? as u64;
        }
        if spec.qty_min_lots == 0 || spec.qty_min_lots > spec.qty_max_lots {
            bail!("{at}: min_qty must be positive and at most max_qty");
        }
        if let Some(n) = &i.max_notional {
            spec.notional_max_tick_lots = Some(u128::from(
                notional_tick_lots(n, tick, lot, "max_notional").with_context(|| at.clone())?,
            ));
        }
        if let Some(r) = &i.reference_price {
            spec.reference_price_ticks =
                Some(units(r, tick, &i.tick_size, "reference_price").with_context(|| at.clone())?);
        }
        if let Some(c) = &i.collar {
            spec.collar = Some(match (c.ticks, &c.percent) {
                (Some(t), None) if t >= 1 => Collar::Ticks(t),
                (Some(_), None) => bail!(
                    "{at}: a collar narrower than one tick refuses every price; use ticks >= 1"
                ),
                (None, Some(p)) => {
                    let bps = percent_bps(p, "collar percent").with_context(|| at.clone())?;
                    if let Some(reference) = spec.reference_price_ticks
                        && i128::from(reference).abs() * i128::from(bps) / 10_000 < 1
                    {
                        bail!(
                            "{at}: a collar of {p}% of the reference price is narrower than one tick; widen it"
                        );
                    }
                    Collar::Bps(bps)
                }
                _ => bail!("{at}: collar takes exactly one of ticks = N or percent = \"P\""),
            });
        }
        if let Some(types) = &i.order_types {
            let parsed: Result<Vec<OrdType>> = types
                .iter()
                .map(|t| match t.as_str() {
                    "limit" => Ok(OrdType::Limit),
                    "market" => Ok(OrdType::Market),
                    "stop" => Ok(OrdType::Stop),
                    "stop_limit" => Ok(OrdType::StopLimit),
                    other => bail!(
                        "{at}: order type {other:?}: expected limit, market, stop or stop_limit"
                    ),
                })
                .collect();
            spec.order_types = OrdTypeSet::of(&parsed?);
        }
        if let Some(tifs) = &i.time_in_force {
            let parsed: Result<Vec<TimeInForce>> = tifs
                .iter()
                .map(|t| match t.as_str() {
                    "day" => Ok(TimeInForce::Day),
                    "gtc" => Ok(TimeInForce::Gtc),
                    "ioc" => Ok(TimeInForce::Ioc),
                    "fok" => Ok(TimeInForce::Fok),
                    "gtd" => Ok(TimeInForce::Gtd),
                    other => {
                        bail!("{at}: time in force {other:?}: expected day, gtc, ioc, fok or gtd")
                    }
                })
                .collect();
            spec.time_in_force = TifSet::of(&parsed?);
        }
        if let Some(ph) = &i.phase {
            spec.phase = Phase::from_name(ph).ok_or_else(|| {
                anyhow::anyhow!("{at}: phase {ph:?}: expected open, pre_open, halted or closed")
            })?;
        }
        if let Some(h) = &i.hours {
            let at_time = |t: &str, what: &str| {
                parse_hh_mm(t).with_context(|| format!("{at}: hours {what} {t:?}"))
            };
            let hours = TradingHours {
                pre_open_ns_of_day: h
                    .pre_open
                    .as_deref()
                    .map(|t| at_time(t, "pre_open"))
                    .transpose()?,
                open_ns_of_day: at_time(&h.open, "open")?,
                close_ns_of_day: at_time(&h.close, "close")?,
            };
            if hours.open_ns_of_day >= hours.close_ns_of_day
                || hours
                    .pre_open_ns_of_day
                    .is_some_and(|p| p > hours.open_ns_of_day)
            {
                bail!(
                    "{at}: hours must run pre_open <= open < close within one UTC day \
                     (a session across midnight is not supported)"
                );
            }
            spec.hours = Some(hours);
        }
        if let Some(v) = &i.volatility {
            if v.window_s == 0 || v.pause_s == 0 {
                bail!("{at}: volatility window_s and pause_s must be at least one second");
            }
            spec.volatility = Some(VolatilityGuard {
                band_bp: percent_bps(&v.percent, "volatility percent")
                    .with_context(|| at.clone())?,
                window_ns: v.window_s.saturating_mul(1_000_000_000),
                pause_ns: v.pause_s.saturating_mul(1_000_000_000),
            });
        }
        infos.push(InstrumentInfo::from_spec(&spec, i.description.clone()));
        instruments.push(spec);
    }
    if instruments.is_empty() {
        bail!("no [[instrument]]: a venue needs at least one");
    }

    let mut participants = Vec::new();
    let mut sessions = Vec::new();
    let mut pids = BTreeSet::new();
    let mut comp_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut ws_participants = Vec::new();
    let mut credit_limits = Vec::new();
    let mut permissions = Vec::new();
    for p in &file.participants {
        let at = format!("[[participant]] {} (id {})", p.name, p.id);
        if !pids.insert(p.id) {
            bail!("{at}: id {} is used twice", p.id);
        }
        let stp = match p.self_trade_prevention.as_str() {
            "none" => StpMode::None,
            "cancel_resting" => StpMode::CancelResting,
            "cancel_aggressing" => StpMode::CancelAggressing,
            "cancel_both" => StpMode::CancelBoth,
            "decrement_both" => StpMode::DecrementBoth,
            other => bail!(
                "{at}: self_trade_prevention {other:?}: expected none, cancel_resting, cancel_aggressing, cancel_both or decrement_both"
            ),
        };
        participants.push(ParticipantSpec {
            id: ParticipantId(p.id),
            stp,
        });
        if let Some(symbols) = &p.instruments {
            let mut ids = Vec::new();
            for symbol in symbols {
                let Some(spec) = instruments.iter().find(|i| &i.symbol == symbol) else {
                    bail!("{at}: instruments names {symbol:?}, which is no [[instrument]] symbol");
                };
                ids.push(spec.id);
            }
            permissions.push(Permissions {
                participant: ParticipantId(p.id),
                instruments: ids,
            });
        }
        for (symbol, n) in &p.credit_limits {
            let Some(spec) = instruments.iter().find(|i| &i.symbol == symbol) else {
                bail!("{at}: credit_limits names {symbol:?}, which is no [[instrument]] symbol");
            };
            credit_limits.push(CreditLimit {
                participant: ParticipantId(p.id),
                instrument: spec.id,
                max_open_notional_tick_lots: notional_tick_lots(
                    n,
                    spec.tick_size,
                    spec.lot_size,
                    &format!("credit limit on {symbol}"),
                )
                .with_context(|| at.clone())?,
            });
        }
        if let Some(w) = &p.websocket {
            ws_participants.push(ws_participant(p, w).with_context(|| at.clone())?);
        }
        let Some(f) = &p.fix else {
            if p.websocket.is_none() {
                bail!(
                    "{at} has no way to log on: add a [participant.fix] session or \
                     [participant.websocket] public_keys"
                );
            }
            continue;
        };
        if let Some(other) = comp_ids.insert(f.sender_comp_id.clone(), p.name.clone()) {
            bail!(
                "{at}: FIX sender_comp_id {:?} is also {other}'s; two sessions cannot share CompIDs",
                f.sender_comp_id
            );
        }
        let mut s = SessionConfig::new(&file.fix.comp_id, &f.sender_comp_id, ParticipantId(p.id));
        match (&f.password_hash, f.allow_without_password) {
            (Some(h), false) => {
                if !gateway::fix::auth::is_valid_hash(h) {
                    bail!(
                        "{at}: password_hash is not an Argon2 hash (a plaintext password?); \
                         put the output of `venue hash-password` there"
                    );
                }
                s.password_hash = Some(h.clone());
                s.username = f.username.clone();
            }
            (None, true) => {}
            (Some(_), true) => {
                bail!("{at}: set either password_hash or allow_without_password, not both")
            }
            (None, false) => bail!(
                "{at}: the FIX session has no password_hash; set one (`venue hash-password`) \
                 or say allow_without_password = true"
            ),
        }
        s.reset_on_logon = f.reset_on_logon;
        s.reset_on_logout = f.reset_on_logout;
        s.reset_on_disconnect = f.reset_on_disconnect;
        s.weekly_reset = parse_weekly_reset(&f.weekly_reset).with_context(|| at.clone())?;
        s.sending_time_tolerance_ms = f.sending_time_tolerance_s * 1_000;
        s.max_message_size = f.max_message_bytes;
        s.logon_timeout_ms = f.logon_timeout_s * 1_000;
        s.cancel_on_disconnect = match f.cancel_on_disconnect.as_str() {
            "none" => CancelOnDisconnect::None,
            "day" => CancelOnDisconnect::Day,
            "all" => CancelOnDisconnect::All,
            other => bail!("{at}: cancel_on_disconnect {other:?}: expected none, day or all"),
        };
        if f.rate_per_second == 0 || f.rate_burst == 0 {
            bail!("{at}: rate_per_second and rate_burst must be positive");
        }
        s.rate = RateLimit {
            per_second: f.rate_per_second,
            burst: f.rate_burst,
            queue_max: f.rate_queue,
        };
        sessions.push(s);
    }
    let engine = EngineConfig {
        instruments,
        participants,
        day_end_ns_of_day,
        orders_capacity: file.engine.orders_capacity,
        credit_limits,
        permissions,
    };
    engine.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let w = &file.websocket;
    let mut ws = WsConfig::new(
        w.listen.parse().with_context(|| {
            format!(
                "[websocket] listen {:?}: expected an address such as 127.0.0.1:9879",
                w.listen
            )
        })?,
        ws_participants,
        infos.clone(),
    );
    ws.tls = match (&w.tls_cert, &w.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        }),
        (None, None) => None,
        _ => bail!("[websocket] TLS needs both tls_cert and tls_key (PEM files)"),
    };
    if w.max_book_depth == 0 || w.send_queue_max < 16 || w.max_frame_bytes < 1024 {
        bail!(
            "[websocket] max_book_depth must be positive, send_queue_max at least 16 and \
             max_frame_bytes at least 1024"
        );
    }
    ws.venue_name = file.venue.name.clone();
    ws.heartbeat_ms = w.heartbeat_ms.max(1);
    ws.login_skew_ms = w.login_skew_ms;
    ws.login_failures_per_minute = w.login_failures_per_minute;
    ws.max_connections_per_address = w.max_connections_per_address;
    ws.max_frame_bytes = w.max_frame_bytes;
    ws.max_subscriptions = w.max_subscriptions;
    ws.max_book_depth = w.max_book_depth;
    ws.send_queue_max = w.send_queue_max;
    ws.private_buffer_events = w.private_buffer_events;
    ws.socket_send_buffer_bytes = w.socket_send_buffer_bytes;
    let admin = AdminConfig {
        listen: file.admin.listen.parse().with_context(|| {
            format!(
                "[admin] listen {:?}: expected an address such as 127.0.0.1:9880",
                file.admin.listen
            )
        })?,
        token_hash: file.admin.token_hash.clone(),
    };
    if let Some(h) = &admin.token_hash
        && !gateway::fix::auth::is_valid_hash(h)
    {
        bail!(
            "[admin] token_hash is not an Argon2 hash (a plaintext token?); put the output of \
             `venue hash-password` there"
        );
    }
    for (key, slots) in [
        ("inbound_ring", file.engine.inbound_ring),
        ("outbound_ring", file.engine.outbound_ring),
    ] {
        if !(1..=RING_SLOTS_MAX).contains(&slots) {
            bail!(
                "[engine] {key} = {slots}: a ring holds 1 to {RING_SLOTS_MAX} slots \
                 (each a few hundred bytes, allocated at start-up)"
            );
        }
    }
    Ok(VenueConfig {
        name: file.venue.name,
        log,
        durability,
        segment_size_bytes: file.journal.segment_size_mb << 20,
        engine,
        core: file.engine.core,
        idle,
        inbound_ring: file.engine.inbound_ring,
        outbound_ring: file.engine.outbound_ring,
        snapshot_every_inputs: file.engine.snapshot_every_inputs,
        checkpoint_every_inputs: file.engine.checkpoint_every_inputs,
        tick_interval_ns: file.engine.tick_interval_ms * 1_000_000,
        fix_listen,
        fix_sessions: sessions,
        fix_idle: (file.fix.idle_spins, file.fix.idle_yields),
        instruments: infos,
        ws,
        admin,
        participant_names: file
            .participants
            .iter()
            .map(|p| (ParticipantId(p.id), p.name.clone()))
            .collect(),
        quota_warning_threshold,
    })
}

fn ws_participant(p: &ParticipantEntry, w: &WebSocketEntry) -> Result<WsParticipant> {
    if w.public_keys.is_empty() {
        bail!("[participant.websocket] public_keys is empty; add a key from `venue ws-keygen`");
    }
    let keys = w
        .public_keys
        .iter()
        .map(|k| {
            parse_public_key(k).map_err(|e| {
                anyhow::anyhow!(
                    "public key {k:?}: {e} (put the public half printed by `venue ws-keygen`, \
                     never a private key)"
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(WsParticipant {
        id: ParticipantId(p.id),
        name: p.name.clone(),
        keys,
        cancel_on_disconnect: match w.cancel_on_disconnect.as_str() {
            "none" => CancelOnDisconnect::None,
            "day" => CancelOnDisconnect::Day,
            "all" => CancelOnDisconnect::All,
            other => bail!(
                "[participant.websocket] cancel_on_disconnect {other:?}: expected none, day or all"
            ),
        },
        max_connections: w.max_connections.max(1),
        rate_per_second: w.rate_per_second,
        rate_burst: w.rate_burst,
    })
}

fn parse_hh_mm(text: &str) -> Result<u64> {
    let (h, m) = text.split_once(':').context("expected HH:MM")?;
    let h: u64 = h.parse().context("expected HH:MM")?;
    let m: u64 = m.parse().context("expected HH:MM")?;
    if h > 23 || m > 59 {
        bail!("expected HH:MM with HH 00-23 and MM 00-59");
    }
    Ok((h * 3_600 + m * 60) * 1_000_000_000)
}

fn parse_weekly_reset(text: &str) -> Result<Option<WeeklyReset>> {
    if text == "none" {
        return Ok(None);
    }
    let bad =
        || format!("weekly_reset {text:?}: expected \"sun 17:00 America/New_York\" or \"none\"");
    let mut parts = text.split_whitespace();
    let (Some(day), Some(time), Some(zone), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!(bad());
    };
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| d.eq_ignore_ascii_case(day))
        .with_context(bad)? as u8;
    let ns = parse_hh_mm(time).with_context(bad)?;
    let minutes = ns / 60_000_000_000;
    let r = WeeklyReset {
        weekday,
        hour: (minutes / 60) as u8,
        minute: (minutes % 60) as u8,
        time_zone: zone.to_owned(),
    };
    gateway::fix::schedule::validate(&r).with_context(bad)?;
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../examples/venue.toml");

    fn check_text(text: &str) -> Result<VenueConfig> {
        parse(text, Path::new("venue.toml"))
    }

    fn error_of(from: &str, to: &str) -> String {
        assert!(EXAMPLE.contains(from), "{from}");
        let text = EXAMPLE.replacen(from, to, 1);
        format!("{:#}", check_text(&text).expect_err("must be refused"))
    }

    #[test]
    fn the_example_is_a_complete_working_venue() {
        let c = check_text(EXAMPLE).unwrap();
        assert_eq!(c.engine.instruments.len(), 3);
        assert_eq!(c.fix_sessions.len(), 4);
        let bond = &c.engine.instruments[0];
        assert_eq!(bond.reference_price_ticks, Some(12_800));
        assert_eq!(bond.collar, Some(Collar::Ticks(64)));
        // 100,000,000 / (0.0078125 × 1) tick-lots.
        assert_eq!(bond.notional_max_tick_lots, Some(12_800_000_000));
        let fx = &c.engine.instruments[1];
        assert_eq!((fx.qty_min_lots, fx.qty_max_lots), (1, 50_000));
        assert_eq!(fx.collar, Some(Collar::Bps(100)));
        assert!(c.fix_sessions[3].password_hash.is_some());
        assert!((c.quota_warning_threshold - 0.7).abs() < 1e-12);
        assert_eq!(
            c.fix_sessions[2].cancel_on_disconnect,
            CancelOnDisconnect::Day
        );
    }

    #[test]
    fn the_log_section_is_optional_and_checked() {
        assert_eq!(check_text(EXAMPLE).unwrap().log, LogSettings::default());
        let json = EXAMPLE.replacen("format = \"text\"", "format = \"json\"", 1);
        let json = json.replacen("filter = \"info\"", "filter = \"warn,gateway=debug\"", 1);
        let c = check_text(&json).unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.log.filter, "warn,gateway=debug");
        let start = EXAMPLE.find("[log]").unwrap();
        let end = EXAMPLE.find("[journal]").unwrap();
        let without = format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
        assert_eq!(check_text(&without).unwrap().log, LogSettings::default());
        let e = error_of("filter = \"info\"", "level = \"info\"");
        assert!(e.contains("unknown field `level`"), "{e}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_line_and_column() {
        let e = error_of("idle = \"backoff\"", "idel = \"backoff\"");
        assert!(
            e.contains("unknown field `idel`") && e.contains("line"),
            "{e}"
        );
        let e = error_of("tick_size = \"0.0078125\"", "tick_size = 0.0078125");
        assert!(
            e.contains("expected a string") && e.contains("column"),
            "{e}"
        );
    }

    #[test]
    fn semantic_errors_say_what_to_change() {
        let cases = [
            (
                "phase = \"open\"",
                "hours = { open = \"22:00\", close = \"07:00\" }",
                "hours must run pre_open <= open < close",
            ),
            (
                "phase = \"open\"",
                "hours = { open = \"7am\", close = \"21:00\" }",
                "hours open \"7am\"",
            ),
            (
                "phase = \"open\"",
                "phase = \"lunch\"",
                "expected open, pre_open, halted or closed",
            ),
            (
                "volatility = { percent = \"1\", window_s = 60, pause_s = 300 }",
                "volatility = { percent = \"1\", window_s = 0, pause_s = 300 }",
                "at least one second",
            ),
            (
                "credit_limits = { \"UST-10Y\" = \"500000000\", \"EUR/USD\" = \"250000000\" }",
                "credit_limits = { \"UST-10Y\" = \"0.001\" }",
                "not a whole number of tick × lot",
            ),
            (
                "credit_limits = { \"UST-10Y\" = \"500000000\", \"EUR/USD\" = \"250000000\" }",
                "instruments = [\"UST-10Y\", \"GILT\"]",
                "instruments names \"GILT\", which is no [[instrument]] symbol",
            ),
            (
                "token_hash = \"$argon2id",
                "token_hash = \"hunter2\" # \"$argon2id",
                "[admin] token_hash is not an Argon2 hash",
            ),
            (
                "collar = { ticks = 64 }",
                "collar = { ticks = 0 }",
                "narrower than one tick",
            ),
            (
                "collar = { percent = \"1\" }",
                "collar = { percent = \"0.0001\" }",
                "at most two decimals",
            ),
            (
                "reference_price = \"100\"",
                "reference_price = \"100.001\"",
                "not a whole multiple of 0.0078125",
            ),
            (
                "sender_comp_id = \"CLIENT2\"",
                "sender_comp_id = \"CLIENT1\"",
                "cannot share CompIDs",
            ),
            (
                "password_hash = \"$argon2",
                "password_hash = \"plain\" #",
                "not an Argon2 hash",
            ),
            (
                "sender_comp_id = \"CLIENT3\"\nallow_without_password = true",
                "sender_comp_id = \"CLIENT3\"",
                "no password_hash",
            ),
            (
                "durability = \"group\"",
                "durability = \"fast\"",
                "expected \"process\", \"group\" or \"sync\"",
            ),
            (
                "weekly_reset = \"sun 17:00 America/New_York\"",
                "weekly_reset = \"sun 17:00 Mars/Olympus\"",
                "weekly_reset",
            ),
            ("id = 2\nsymbol", "id = 1\nsymbol", "used twice"),
            (
                "min_qty = \"1000\"",
                "min_qty = \"1500\"",
                "not a whole multiple of 1000",
            ),
            (
                "cancel_on_disconnect = \"day\"",
                "cancel_on_disconnect = \"sometimes\"",
                "expected none, day or all",
            ),
            (
                "format = \"text\"",
                "format = \"xml\"",
                "[log] format: log format \"xml\": expected \"text\" or \"json\"",
            ),
            (
                "filter = \"info\"",
                "filter = \"venue=loud\"",
                "[log] filter: log filter \"venue=loud\"",
            ),
            (
                "quota_warning_threshold = 0.7",
                "quota_warning_threshold = 0",
                "expected a fraction above 0 and at most 1",
            ),
            (
                "quota_warning_threshold = 0.7",
                "quota_warning_threshold = 1.5",
                "expected a fraction above 0 and at most 1",
            ),
            (
                "quota_warning_threshold = 0.7",
                "quota_warning_threshold = nan",
                "expected a fraction above 0 and at most 1",
            ),
            (
                "quota_warning_threshold = 0.7",
                "quota_warning_threshold = \"70%\"",
                "line",
            ),
            (
                "quota_warning_threshold = 0.7",
                "quota_warning = 0.7",
                "unknown field `quota_warning`",
            ),
        ];
        for (from, to, want) in cases {
            let e = error_of(from, to);
            assert!(e.contains(want), "{from} -> {to}: {e}");
        }
        // A participant with no way to log on.
        let text = EXAMPLE.replace(
            "[participant.fix]\nsender_comp_id = \"CLIENT2\"",
            "[participant.nofix]\nsender_comp_id = \"CLIENT2\"",
        );
        assert!(check_text(&text).is_err());
    }

    #[test]
    fn ring_sizes_out_of_range_are_refused() {
        for (from, to) in [
            ("inbound_ring = 65536", "inbound_ring = 0"),
            ("inbound_ring = 65536", "inbound_ring = 100000000000"),
            ("outbound_ring = 16384", "outbound_ring = 0"),
        ] {
            let text = EXAMPLE.replacen(from, to, 1);
            assert_ne!(text, EXAMPLE);
            let err = format!("{:#}", check_text(&text).expect_err("must be refused"));
            assert!(err.contains("a ring holds 1 to"), "{to}: {err}");
        }
    }

    #[test]
    fn websocket_keys_and_settings_are_checked() {
        let c = check_text(EXAMPLE).unwrap();
        assert_eq!(c.ws.participants.len(), 4);
        assert_eq!(c.ws.listen.port(), 9879);
        assert_eq!(
            c.ws.participants[2].cancel_on_disconnect,
            CancelOnDisconnect::All
        );
        let key = "b97d229895fa7c8745c867f9446ac91fcc4961878b2c3bba1807e6e370ea1381";
        let cases = [
            (key, "not-hex", "venue ws-keygen"),
            (key, "abcd", "32 bytes"),
            (
                "# tls_cert = \"cert.pem\"",
                "tls_cert = \"cert.pem\"",
                "both tls_cert and tls_key",
            ),
            (
                "max_book_depth = 100",
                "max_book_depth = 0",
                "max_book_depth must be positive",
            ),
            (
                "listen = \"127.0.0.1:9879\"",
                "listen = \"here\"",
                "[websocket] listen",
            ),
            (
                "max_subscriptions = 64",
                "max_subscriptions = \"many\"",
                "line",
            ),
        ];
        for (from, to, want) in cases {
            let e = error_of(from, to);
            assert!(e.contains(want), "{from} -> {to}: {e}");
        }
        // A participant may trade over WebSocket only.
        let start = EXAMPLE
            .find("[participant.fix]\nsender_comp_id = \"CLIENT2\"")
            .unwrap();
        let end = EXAMPLE[start..].find("[participant.websocket]").unwrap() + start;
        let ws_only = format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
        let c = check_text(&ws_only).unwrap();
        assert_eq!((c.fix_sessions.len(), c.ws.participants.len()), (3, 4));
    }
}
