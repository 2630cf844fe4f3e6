//! The operator's HTTP API (axum, on its own thread, 127.0.0.1:9880 by
//! default).
//!
//! Every action is an [`AdminAction`] input of the matching loop, journaled
//! like an order: the handler sends it with a fresh origin and answers when
//! the engine's [`AdminReport`] for that origin comes back on the admin
//! output ring (or when the loop refuses it). So the audit trail and a
//! replay include every halt, kill switch and limit change, at its sequence
//! number.
//!
//! Actions need `Authorization: Bearer TOKEN`, checked against the Argon2
//! hash in `[admin] token_hash`; without a hash they are refused. `/health`,
//! `/ready` and `/metrics` answer without a token (for probes and
//! Prometheus on the same host).
//!
//! The API's view of phases, kill switches and credit limits is kept from
//! the same ring: the engine's state at start, then every
//! [`Event::InstrumentStatus`] (operator halts and volatility
//! interruptions alike) and every accepted report.
#![allow(
    clippy::result_large_err,
    reason = "helpers answer failures as ready responses; no admin request path is hot"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use engine::sequencer::{InputSender, Origin, Output, OutputReceiver, Refusal};
use engine::{
    AdminAction, AdminReport, Decimal, Engine, Event, Input, InstrumentId, ParticipantId, Phase,
    Side,
};
use gateway::fix::app::InstrumentInfo;
use gateway::fix::metrics::SessionMetrics;
use gateway::ws::config::Rates;
use gateway::ws::hub::WsMetrics;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// How long an action waits for the loop's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the API serves besides the actions.
pub struct AdminDeps {
    /// The instruments, for symbols and decimal conversion.
    pub instruments: Vec<InstrumentInfo>,
    /// Participants: id and name.
    pub participants: Vec<(ParticipantId, String)>,
    /// Argon2 hash of the bearer token; `None` refuses every action.
    pub token_hash: Option<String>,
    /// FIX sessions' figures, by session name.
    pub fix_sessions: Vec<(String, Arc<SessionMetrics>)>,
    /// The WebSocket gateway's figures.
    pub ws_metrics: Arc<WsMetrics>,
    /// The WebSocket gateway's order entry rates.
    pub ws_rates: Arc<Rates>,
    /// Set once the venue has recovered and every listener is up.
    pub ready: Arc<AtomicBool>,
    /// Set when the venue is stopping.
    pub stop: Arc<AtomicBool>,
    /// The journal's failure, if it failed (the loop refuses all input).
    pub journal_failed: Arc<Mutex<Option<String>>>,
    /// Prometheus text for `/metrics`.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

impl std::fmt::Debug for AdminDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminDeps").finish_non_exhaustive()
    }
}

/// The controls as the API last saw them.
#[derive(Debug, Default)]
struct View {
    phases: BTreeMap<InstrumentId, (Phase, u64)>,
    killed: BTreeSet<ParticipantId>,
    credit: BTreeMap<(ParticipantId, InstrumentId), u64>,
    rates: BTreeMap<ParticipantId, (u32, u32)>,
}

impl View {
    /// The controls in `engine` now (at start, before the loop runs).
    fn of(engine: &Engine) -> View {
        let mut v = View::default();
        let config = engine.config();
        for i in &config.instruments {
            if let Some(p) = engine.phase(i.id) {
                v.phases.insert(i.id, p);
            }
            for p in &config.participants {
                if let Some((_, Some(limit))) = engine.credit(p.id, i.id) {
                    v.credit.insert((p.id, i.id), limit);
                }
            }
        }
        for p in &config.participants {
            if engine.kill_switch_engaged(p.id) {
                v.killed.insert(p.id);
            }
            if let Some(r) = engine.rate_limit(p.id) {
                v.rates.insert(p.id, r);
            }
        }
        v
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::InstrumentStatus(s) => {
                self.phases.insert(s.instrument, (s.phase, s.resume_at_ns));
            }
            Event::AdminReport(r) if r.reject.is_none() => match r.action {
                AdminAction::KillSwitch {
                    participant,
                    engaged,
                } => {
                    if engaged {
                        self.killed.insert(participant);
                    } else {
                        self.killed.remove(&participant);
                    }
                }
                AdminAction::SetCreditLimit {
                    participant,
                    instrument,
                    max_open_notional_tick_lots,
                } => match max_open_notional_tick_lots {
                    Some(l) => {
                        self.credit.insert((participant, instrument), l);
                    }
                    None => {
                        self.credit.remove(&(participant, instrument));
                    }
                },
                AdminAction::SetRateLimit {
                    participant,
                    per_second,
                    burst,
                } => {
                    self.rates.insert(participant, (per_second, burst));
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// The loop's answer to one action.
#[derive(Debug)]
enum Answer {
    Report { seq: u64, report: AdminReport },
    Refused(Refusal),
}

struct Shared {
    deps: AdminDeps,
    sender: InputSender,
    next_origin: AtomicU64,
    pending: Mutex<BTreeMap<Origin, oneshot::Sender<Answer>>>,
    view: Mutex<View>,
}

/// A running admin API.
#[derive(Debug)]
pub struct AdminServer {
    /// Where it listens.
    pub addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Waits for the thread (it ends after `stop` is set).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The outputs the admin API takes: operator reports, phase changes, and
/// refusals of operator inputs.
#[must_use]
pub fn is_admin_output(out: &Output) -> bool {
    match out {
        Output::Event { event, .. } => {
            matches!(event, Event::AdminReport(_) | Event::InstrumentStatus(_))
        }
        Output::Refused { input, .. } => matches!(input, Input::Admin(_)),
    }
}

/// Binds `listen` and serves the API on a thread named `venue-admin`.
/// `engine` gives the controls at start.
///
/// # Errors
/// The address cannot be bound, or the thread cannot start.
pub fn start(
    listen: SocketAddr,
    deps: AdminDeps,
    engine: &Engine,
    sender: InputSender,
    outputs: OutputReceiver,
) -> Result<AdminServer> {
    let std_listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen for the admin API on {listen}"))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let stop = Arc::clone(&deps.stop);
    let shared = Arc::new(Shared {
        deps,
        sender,
        next_origin: AtomicU64::new(1),
        pending: Mutex::new(BTreeMap::new()),
        view: Mutex::new(View::of(engine)),
    });
    let thread = std::thread::Builder::new()
        .name("venue-admin".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "the admin API cannot start its runtime");
                    return;
                }
            };
            runtime.block_on(serve(std_listener, shared, outputs, stop));
        })
        .context("cannot spawn the admin API thread")?;
    Ok(AdminServer {
        addr,
        thread: Some(thread),
    })
}

async fn serve(
    std_listener: std::net::TcpListener,
    shared: Arc<Shared>,
    outputs: OutputReceiver,
    stop: Arc<AtomicBool>,
) {
    let listener = match tokio::net::TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the admin API cannot listen");
            return;
        }
    };
    let pump = tokio::spawn(pump(Arc::clone(&shared), outputs, Arc::clone(&stop)));
    let app = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/instruments", get(instruments))
        .route("/instruments/{symbol}/halt", post(halt))
        .route("/instruments/{symbol}/resume", post(resume))
        .route("/instruments/{symbol}/phase", put(set_phase))
        .route("/participants", get(participants))
        .route("/participants/{id}/kill", post(kill))
        .route("/participants/{id}/reset", post(reset))
        .route(
            "/participants/{id}/credit-limits/{symbol}",
            put(set_credit_limit),
        )
        .route("/participants/{id}/rate-limit", put(set_rate_limit))
        .route("/mass-cancel", post(mass_cancel))
        .route("/snapshot", post(snapshot))
        .route("/sessions", get(sessions))
        .fallback(not_found)
        .with_state(Arc::clone(&shared));
    let shutdown = async move {
        while !stop.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "the admin API failed");
    }
    pump.abort();
}

/// Takes the admin ring's outputs: keeps the view and answers waiting actions.
async fn pump(shared: Arc<Shared>, outputs: OutputReceiver, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Acquire) {
        while let Some(out) = outputs.try_recv() {
            let (origin, answer) = match out {
                Output::Event {
                    seq, origin, event, ..
                } => {
                    lock(&shared.view).apply(&event);
                    match event {
                        Event::AdminReport(report) => (origin, Answer::Report { seq, report }),
                        _ => continue,
                    }
                }
                Output::Refused {
                    origin, refusal, ..
                } => (origin, Answer::Refused(refusal)),
            };
            if let Some(tx) = lock(&shared.pending).remove(&origin) {
                let _ = tx.send(answer);
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ----- answers ---------------------------------------------------------------

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "message": message.into() })),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see the README's operations section",
    )
}

/// Checks the bearer token.
async fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let Some(hash) = shared.deps.token_hash.clone() else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "operator actions are disabled: set [admin] token_hash (venue hash-password)",
        ));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return Err(unauthorized("missing Authorization: Bearer TOKEN"));
    };
    let ok = tokio::task::spawn_blocking(move || {
        gateway::fix::auth::verify_password(token.as_bytes(), &hash)
    })
    .await
    .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(unauthorized("the token does not match [admin] token_hash"))
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// Sends an action through the loop and answers with its report.
async fn act(shared: &Shared, action: AdminAction, describe: Value) -> Response {
    let origin = shared.next_origin.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    lock(&shared.pending).insert(origin, tx);
    if shared
        .sender
        .send_from(Input::Admin(action), origin, 10_000)
        .is_err()
    {
        lock(&shared.pending).remove(&origin);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "venue_busy",
            Refusal::Busy.to_string(),
        );
    }
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, rx).await;
    lock(&shared.pending).remove(&origin);
    match answer {
        Ok(Ok(Answer::Report { seq, report })) => match report.reject {
            None => {
                let mut body = describe;
                body["seq"] = json!(seq);
                body["cancelled"] = json!(report.cancelled_count);
                (StatusCode::OK, Json(body)).into_response()
            }
            Some(r) => error(
                StatusCode::CONFLICT,
                gateway::ws::convert::reject_code(r),
                format!("{} (journaled at sequence {seq})", r.text()),
            ),
        },
        Ok(Ok(Answer::Refused(refusal))) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            match refusal {
                Refusal::Busy => "venue_busy",
                Refusal::JournalFailed { .. } => "journal_failed",
            },
            refusal.to_string(),
        ),
        Ok(Err(_)) | Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "no_answer",
            format!(
                "the matching loop did not answer within {} s; the action may still apply: \
                 check GET /instruments or /participants",
                ANSWER_TIMEOUT.as_secs()
            ),
        ),
    }
}

fn instrument(shared: &Shared, symbol: &str) -> Result<InstrumentInfo, Response> {
    shared
        .deps
        .instruments
        .iter()
        .find(|i| i.symbol == symbol)
        .cloned()
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "unknown_instrument",
                format!("no instrument has the symbol {symbol:?}"),
            )
        })
}

fn participant(shared: &Shared, id: &str) -> Result<ParticipantId, Response> {
    let found = id.parse::<u32>().ok().and_then(|n| {
        shared
            .deps
            .participants
            .iter()
            .find(|(p, _)| p.0 == n)
            .map(|(p, _)| *p)
    });
    found.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "unknown_participant",
            format!("no participant has the id {id:?}"),
        )
    })
}

/// One tick × one lot, the unit of notionals in tick-lots.
fn tick_lot(i: &InstrumentInfo) -> Option<Decimal> {
    Some(Decimal {
        mantissa: i.tick_size.mantissa.checked_mul(i.lot_size.mantissa)?,
        scale: i.tick_size.scale + i.lot_size.scale,
    })
}

fn notional_text(i: &InstrumentInfo, tick_lots: u64) -> String {
    let mut out = Vec::new();
    match (tick_lot(i), i64::try_from(tick_lots)) {
        (Some(unit), Ok(n)) => gateway::fix::decimal::write_ticks(&mut out, n, unit),
        _ => out.extend_from_slice(format!("{tick_lots} tick-lots").as_bytes()),
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ----- handlers --------------------------------------------------------------

type Shr = State<Arc<Shared>>;

/// A handler's answer: a refusal found before the action is an `Err`.
type Answered = Result<Response, Response>;

/// An operator whose bearer token matched: taking one checks the token.
struct Operator;

impl FromRequestParts<Arc<Shared>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Operator, Response> {
        authorize(shared, &parts.headers).await.map(|()| Operator)
    }
}

/// A JSON body; a malformed one is a 400 in the API's error shape.
struct Body<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Body<T>, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                e.body_text(),
            )),
        }
    }
}

async fn health(State(shared): Shr) -> Response {
    if let Some(reason) = lock(&shared.deps.journal_failed).clone() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "journal_failed",
            format!("the journal failed ({reason}); restart the venue"),
        );
    }
    (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
}

async fn ready(State(shared): Shr) -> Response {
    if !shared.deps.ready.load(Ordering::Acquire) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "still recovering or starting listeners",
        );
    }
    if shared.deps.stop.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "stopping", "shutting down");
    }
    if lock(&shared.deps.journal_failed).is_some() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "journal_failed",
            "the journal failed; no input is accepted",
        );
    }
    (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response()
}

async fn metrics(State(shared): Shr) -> Response {
    let text = (shared.deps.metrics)();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

async fn instruments(_: Operator, State(shared): Shr) -> Response {
    let view = lock(&shared.view);
    let list: Vec<Value> = shared
        .deps
        .instruments
        .iter()
        .map(|i| {
            let (phase, resume_at_ns) = view.phases.get(&i.id).copied().unwrap_or((Phase::Open, 0));
            json!({
                "symbol": i.symbol,
                "id": i.id.0,
                "phase": phase.name(),
                "resume_at_ns": (resume_at_ns != 0).then_some(resume_at_ns),
            })
        })
        .collect();
    Json(json!({ "instruments": list })).into_response()
}

async fn phase_action(shared: &Shared, symbol: &str, phase: Phase) -> Answered {
    let i = instrument(shared, symbol)?;
    Ok(act(
        shared,
        AdminAction::SetPhase {
            instrument: i.id,
            phase,
        },
        json!({ "symbol": i.symbol, "phase": phase.name() }),
    )
    .await)
}

async fn halt(_: Operator, State(shared): Shr, Path(symbol): Path<String>) -> Answered {
    phase_action(&shared, &symbol, Phase::Halted).await
}

async fn resume(_: Operator, State(shared): Shr, Path(symbol): Path<String>) -> Answered {
    phase_action(&shared, &symbol, Phase::Open).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseBody {
    phase: String,
}

async fn set_phase(
    _: Operator,
    State(shared): Shr,
    Path(symbol): Path<String>,
    Body(body): Body<PhaseBody>,
) -> Answered {
    let phase = Phase::from_name(&body.phase).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_phase",
            format!(
                "phase {:?}: expected open, pre_open, halted or closed",
                body.phase
            ),
        )
    })?;
    phase_action(&shared, &symbol, phase).await
}

async fn participants(_: Operator, State(shared): Shr) -> Response {
    let view = lock(&shared.view);
    let list: Vec<Value> = shared
        .deps
        .participants
        .iter()
        .map(|(id, name)| {
            let limits: BTreeMap<String, String> = shared
                .deps
                .instruments
                .iter()
                .filter_map(|i| {
                    let l = view.credit.get(&(*id, i.id))?;
                    Some((i.symbol.clone(), notional_text(i, *l)))
                })
                .collect();
            json!({
                "id": id.0,
                "name": name,
                "kill_switch": view.killed.contains(id),
                "credit_limits": limits,
                "rate_limit": view.rates.get(id).map(|(r, b)| json!({"per_second": r, "burst": b})),
            })
        })
        .collect();
    Json(json!({ "participants": list })).into_response()
}

async fn kill_action(shared: &Shared, id: &str, engaged: bool) -> Answered {
    let p = participant(shared, id)?;
    Ok(act(
        shared,
        AdminAction::KillSwitch {
            participant: p,
            engaged,
        },
        json!({ "participant": p.0, "kill_switch": engaged }),
    )
    .await)
}

async fn kill(_: Operator, State(shared): Shr, Path(id): Path<String>) -> Answered {
    kill_action(&shared, &id, true).await
}

async fn reset(_: Operator, State(shared): Shr, Path(id): Path<String>) -> Answered {
    kill_action(&shared, &id, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditBody {
    /// Decimal text (price × quantity), or null for no limit.
    max_open_notional: Option<String>,
}

async fn set_credit_limit(
    _: Operator,
    State(shared): Shr,
    Path((id, symbol)): Path<(String, String)>,
    Body(body): Body<CreditBody>,
) -> Answered {
    let p = participant(&shared, &id)?;
    let i = instrument(&shared, &symbol)?;
    let limit = match &body.max_open_notional {
        None => None,
        Some(text) => Some(
            crate::config::notional_tick_lots(text, i.tick_size, i.lot_size, "max_open_notional")
                .map_err(|e| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_notional",
                    format!("{e:#}"),
                )
            })?,
        ),
    };
    Ok(act(
        &shared,
        AdminAction::SetCreditLimit {
            participant: p,
            instrument: i.id,
            max_open_notional_tick_lots: limit,
        },
        json!({
            "participant": p.0,
            "symbol": i.symbol,
            "max_open_notional": limit.map(|l| notional_text(&i, l)),
        }),
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    per_second: u32,
    burst: u32,
}

async fn set_rate_limit(
    _: Operator,
    State(shared): Shr,
    Path(id): Path<String>,
    Body(body): Body<RateBody>,
) -> Answered {
    let p = participant(&shared, &id)?;
    if body.per_second == 0 || body.burst == 0 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_rate",
            "per_second and burst must be at least 1 (to stop a participant, use its kill switch)",
        ));
    }
    Ok(act(
        &shared,
        AdminAction::SetRateLimit {
            participant: p,
            per_second: body.per_second,
            burst: body.burst,
        },
        json!({ "participant": p.0, "per_second": body.per_second, "burst": body.burst }),
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MassCancelBody {
    participant: Option<u32>,
    symbol: Option<String>,
    side: Option<String>,
}

async fn mass_cancel(
    _: Operator,
    State(shared): Shr,
    Body(body): Body<MassCancelBody>,
) -> Answered {
    let participant_id = body
        .participant
        .map(|n| participant(&shared, &n.to_string()))
        .transpose()?;
    let inst = body
        .symbol
        .as_deref()
        .map(|s| instrument(&shared, s))
        .transpose()?;
    let side = match body.side.as_deref() {
        None => None,
        Some("buy") => Some(Side::Buy),
        Some("sell") => Some(Side::Sell),
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_side",
                format!("side {other:?}: expected buy or sell"),
            ));
        }
    };
    Ok(act(
        &shared,
        AdminAction::MassCancel {
            participant: participant_id,
            instrument: inst.as_ref().map(|i| i.id),
            side,
        },
        json!({
            "participant": participant_id.map(|p| p.0),
            "symbol": inst.map(|i| i.symbol),
            "side": body.side,
        }),
    )
    .await)
}

async fn snapshot(_: Operator, State(shared): Shr) -> Response {
    act(
        &shared,
        AdminAction::SnapshotNow,
        json!({ "snapshot": "requested" }),
    )
    .await
}

async fn sessions(_: Operator, State(shared): Shr) -> Response {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let fix: Vec<Value> = shared
        .deps
        .fix_sessions
        .iter()
        .map(|(name, m)| {
            json!({
                "session": name,
                "logged_on": m.logged_on.load(Ordering::Relaxed),
                "next_in_seq": load(&m.next_in_seq),
                "next_out_seq": load(&m.next_out_seq),
                "quota_used": m.quota_used(),
                "throttled": load(&m.throttled),
                "rate_limit": {
                    "per_second": m.rate_per_second.load(Ordering::Relaxed),
                    "burst": m.rate_burst.load(Ordering::Relaxed),
                },
            })
        })
        .collect();
    let ws = &shared.deps.ws_metrics;
    let rates: BTreeMap<String, Value> = shared
        .deps
        .participants
        .iter()
        .filter_map(|(p, _)| {
            let (r, b) = shared.deps.ws_rates.get(*p)?;
            Some((p.0.to_string(), json!({"per_second": r, "burst": b})))
        })
        .collect();
    let ws = json!({
        "connections": ws.connections.load(Ordering::Relaxed),
        "logged_in": ws.logged_in.load(Ordering::Relaxed),
        "rate_limits": rates,
    });
    Json(json!({ "fix": fix, "websocket": ws })).into_response()
}
