//! Scenario files: who connects, how fast, and what they send.
//!
//! A scenario is TOML. It names the venue's own configuration file
//! (`venue_config`, relative to the scenario), from which loadgen takes the
//! instruments (symbols, tick and lot sizes, reference prices, allowed order
//! types) and the FIX sessions (CompIDs, participants); the scenario adds
//! what only a load test knows. Every key is documented in
//! `loadgen/scenarios/README.md`; unknown keys are errors with line and
//! column, as in the venue's own configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A name for reports (default: the file's stem).
    pub name: Option<String>,
    /// The venue's configuration file, relative to the scenario file.
    pub venue_config: PathBuf,
    /// Seed of the order flow: the same seed gives the same requests.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where the venue is.
    #[serde(default)]
    pub target: TargetSection,
    /// How fast and how long.
    pub load: LoadSection,
    /// What kinds of request, in percent.
    pub mix: MixSection,
    /// How prices are drawn.
    #[serde(default)]
    pub prices: PricesSection,
    /// The sessions loadgen logs on as.
    #[serde(rename = "session")]
    pub sessions: Vec<SessionEntry>,
    /// The instruments traded.
    #[serde(rename = "instrument")]
    pub instruments: Vec<InstrumentEntry>,
}

fn default_seed() -> u64 {
    1
}

/// `[target]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// The venue's FIX acceptor (default: the venue configuration's
    /// `[fix] listen`).
    pub fix: Option<SocketAddr>,
    /// Seconds to wait for a logon answer.
    pub logon_timeout_s: Option<u64>,
    /// Seconds to wait, after the last request, for the answers still due.
    pub drain_timeout_s: Option<u64>,
    /// Cancel every open order of loadgen's sessions at the end (FIX
    /// OrderMassCancelRequest), so that every order ends (default true).
    pub cancel_at_end: Option<bool>,
}

/// How requests arrive in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced.
    Constant,
    /// A Poisson process: exponential gaps with the same mean.
    Poisson,
}

/// `[load]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    /// Requests per second at full rate, over all sessions.
    pub rate: f64,
    /// Constant or Poisson arrivals.
    #[serde(default = "default_arrival")]
    pub arrival: Arrival,
    /// Seconds over which the rate climbs linearly from 0 to `rate`.
    #[serde(default)]
    pub ramp_up_s: f64,
    /// Seconds from the start whose requests are left out of the results.
    #[serde(default)]
    pub warmup_s: f64,
    /// Seconds of sending in all, warm-up included.
    pub duration_s: f64,
}

fn default_arrival() -> Arrival {
    Arrival::Poisson
}

/// `[mix]`: percentages of each kind of request; they must add up to 100.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixSection {
    /// New limit orders (Day, or GTC where Day is not allowed): dealers'
    /// quotes, a share of them marketable (`[prices] marketable_percent`).
    #[serde(default)]
    pub limit: f64,
    /// Market orders (takers; IOC by nature).
    #[serde(default)]
    pub market: f64,
    /// Marketable IOC limit orders (takers).
    #[serde(default)]
    pub ioc: f64,
    /// Marketable FOK limit orders (takers).
    #[serde(default)]
    pub fok: f64,
    /// Cancels of a live order.
    #[serde(default)]
    pub cancel: f64,
    /// Cancel/replaces of a live order (new price and quantity).
    #[serde(default)]
    pub replace: f64,
    /// Status requests for a live order.
    #[serde(default)]
    pub status: f64,
}

/// `[prices]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesSection {
    /// Share of limit orders priced to cross the other side, in percent.
    #[serde(default = "default_marketable")]
    pub marketable_percent: f64,
    /// Passive orders rest 1 to this many ticks away from the mid; takers
    /// cross up to this many ticks beyond it.
    #[serde(default = "default_depth")]
    pub depth_ticks: i64,
    /// Every `mid_step_ms` the mid moves by up to this many ticks.
    #[serde(default = "default_step")]
    pub mid_step_ticks: i64,
    /// How often the mid moves, in milliseconds of schedule time.
    #[serde(default = "default_step_ms")]
    pub mid_step_ms: u64,
    /// The mid stays within this many ticks of the reference price (keep it
    /// inside the instrument's price collar and volatility band).
    #[serde(default = "default_drift")]
    pub max_drift_ticks: i64,
}

fn default_marketable() -> f64 {
    20.0
}
fn default_depth() -> i64 {
    10
}
fn default_step() -> i64 {
    1
}
fn default_step_ms() -> u64 {
    100
}
fn default_drift() -> i64 {
    20
}

impl Default for PricesSection {
    fn default() -> Self {
        PricesSection {
            marketable_percent: default_marketable(),
            depth_ticks: default_depth(),
            mid_step_ticks: default_step(),
            mid_step_ms: default_step_ms(),
            max_drift_ticks: default_drift(),
        }
    }
}

/// What a session does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Quotes two-sided limit orders, and cancels, replaces and asks about
    /// them.
    Dealer,
    /// Takes liquidity: market, IOC and FOK orders.
    Taker,
}

/// `[[session]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEntry {
    /// SenderCompID, as in the venue's configuration.
    pub sender_comp_id: String,
    /// Dealer or taker.
    pub role: Role,
    /// Username(553), where the venue's session has one.
    pub username: Option<String>,
    /// The name of an environment variable holding Password(554) (never
    /// the password itself in the file).
    pub password_env: Option<String>,
}

/// `[[instrument]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentEntry {
    /// Symbol, as in the venue's configuration.
    pub symbol: String,
    /// Order quantities are drawn uniformly in this range of lots.
    #[serde(default = "default_qty")]
    pub qty_lots: [u64; 2],
    /// Relative weight among instruments (default 1).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_qty() -> [u64; 2] {
    [1, 10]
}
fn default_weight() -> u32 {
    1
}

/// A request kind of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A new limit order.
    Limit,
    /// A new market order.
    Market,
    /// A new IOC limit order.
    Ioc,
    /// A new FOK limit order.
    Fok,
    /// A cancel.
    Cancel,
    /// A cancel/replace.
    Replace,
    /// A status request.
    Status,
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name for reports.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The venue's configuration, resolved.
    pub venue_config_path: PathBuf,
    /// The file's content.
    pub file: ScenarioFile,
    /// Cumulative mix thresholds in per-million: a draw below
    /// `mix[i].1` and at or above the previous picks `mix[i].0`.
    pub mix: Vec<(Kind, u32)>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    ///
    /// # Errors
    /// The file cannot be read, does not parse (with line and column), or
    /// is inconsistent (what to change is said).
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the scenario {}", path.display()))?;
        Scenario::parse(&text, path)
    }

    /// Parses and checks scenario text; `path` names it in errors and
    /// anchors `venue_config`.
    ///
    /// # Errors
    /// As [`Scenario::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Scenario> {
        let file: ScenarioFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        check(file, path).with_context(|| format!("{}", path.display()))
    }
}

fn check(file: ScenarioFile, path: &Path) -> Result<Scenario> {
    let load = &file.load;
    if !(load.rate.is_finite() && load.rate > 0.0) {
        bail!("[load] rate must be a positive number of requests per second");
    }
    if !(load.duration_s.is_finite() && load.duration_s > 0.0) {
        bail!("[load] duration_s must be positive");
    }
    for (what, v) in [("ramp_up_s", load.ramp_up_s), ("warmup_s", load.warmup_s)] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("[load] {what} must be zero or positive");
        }
    }
    if load.warmup_s >= load.duration_s {
        bail!(
            "[load] warmup_s ({}) must be shorter than duration_s ({}): nothing would be measured",
            load.warmup_s,
            load.duration_s
        );
    }
    let m = &file.mix;
    let parts = [
        (Kind::Limit, m.limit, "limit"),
        (Kind::Market, m.market, "market"),
        (Kind::Ioc, m.ioc, "ioc"),
        (Kind::Fok, m.fok, "fok"),
        (Kind::Cancel, m.cancel, "cancel"),
        (Kind::Replace, m.replace, "replace"),
        (Kind::Status, m.status, "status"),
    ];
    let mut sum = 0.0;
    for (_, v, name) in parts {
        if !(v.is_finite() && v >= 0.0) {
            bail!("[mix] {name} must be a percentage, zero or positive");
        }
        sum += v;
    }
    if (sum - 100.0).abs() > 1e-6 {
        bail!("[mix] percentages add up to {sum}, not 100");
    }
    if m.limit + m.market + m.ioc + m.fok <= 0.0 {
        bail!("[mix] has no new orders (limit, market, ioc or fok): nothing to cancel or replace");
    }
    let mut mix = Vec::new();
    let mut acc = 0.0;
    for (kind, v, _) in parts {
        if v > 0.0 {
            acc += v;
            mix.push((kind, (acc / 100.0 * 1e6).round() as u32));
        }
    }
    if let Some(last) = mix.last_mut() {
        last.1 = 1_000_000;
    }
    let p = &file.prices;
    if !(0.0..=100.0).contains(&p.marketable_percent) {
        bail!("[prices] marketable_percent must be between 0 and 100");
    }
    if p.depth_ticks < 1 || p.mid_step_ticks < 0 || p.max_drift_ticks < 0 || p.mid_step_ms == 0 {
        bail!(
            "[prices] depth_ticks must be at least 1, mid_step_ms positive, and mid_step_ticks and max_drift_ticks zero or positive"
        );
    }
    if file.sessions.is_empty() {
        bail!("a scenario needs at least one [[session]]");
    }
    for (i, s) in file.sessions.iter().enumerate() {
        if file.sessions[..i]
            .iter()
            .any(|o| o.sender_comp_id == s.sender_comp_id)
        {
            bail!(
                "session {} is listed twice; each [[session]] logs on once",
                s.sender_comp_id
            );
        }
    }
    if file.instruments.is_empty() {
        bail!("a scenario needs at least one [[instrument]]");
    }
    for i in &file.instruments {
        let [lo, hi] = i.qty_lots;
        if lo == 0 || hi < lo {
            bail!(
                "instrument {}: qty_lots = [{lo}, {hi}] must be a range of at least one lot, low first",
                i.symbol
            );
        }
        if i.weight == 0 {
            bail!("instrument {}: weight must be at least 1", i.symbol);
        }
    }
    let name = file.name.clone().unwrap_or_else(|| {
        path.file_stem().map_or_else(
            || "scenario".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    });
    let venue_config_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&file.venue_config);
    Ok(Scenario {
        name,
        path: path.to_owned(),
        venue_config_path,
        file,
        mix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
venue_config = "../examples/venue.toml"
[load]
rate = 1000
duration_s = 5
warmup_s = 1
[mix]
limit = 60
ioc = 20
cancel = 20
[[session]]
sender_comp_id = "CLIENT1"
role = "dealer"
[[instrument]]
symbol = "UST-10Y"
"#;

    #[test]
    fn a_good_scenario_parses_with_defaults() {
        let s = Scenario::parse(GOOD, Path::new("dir/smoke.toml")).expect("parses");
        assert_eq!(s.name, "smoke");
        assert_eq!(s.venue_config_path, Path::new("dir/../examples/venue.toml"));
        assert_eq!(s.file.load.arrival, Arrival::Poisson);
        assert_eq!(s.file.seed, 1);
        assert_eq!(s.file.instruments[0].qty_lots, [1, 10]);
        assert_eq!(
            s.mix,
            vec![
                (Kind::Limit, 600_000),
                (Kind::Ioc, 800_000),
                (Kind::Cancel, 1_000_000)
            ]
        );
    }

    fn error(text: &str) -> String {
        format!(
            "{:#}",
            Scenario::parse(text, Path::new("s.toml")).expect_err("refused")
        )
    }

    #[test]
    fn mistakes_are_named() {
        let e = error(&GOOD.replace("rate = 1000", "rate = 1000\nrat = 3"));
        assert!(
            e.contains("unknown field `rat`") && e.contains("line"),
            "{e}"
        );
        let e = error(&GOOD.replace("cancel = 20", "cancel = 25"));
        assert!(e.contains("add up to 105"), "{e}");
        let e = error(&GOOD.replace("warmup_s = 1", "warmup_s = 5"));
        assert!(e.contains("nothing would be measured"), "{e}");
        let e = error(&GOOD.replace("role = \"dealer\"", "role = \"maker\""));
        assert!(e.contains("unknown variant `maker`"), "{e}");
        let e = error(&format!(
            "{GOOD}[[session]]\nsender_comp_id = \"CLIENT1\"\nrole = \"taker\"\n"
        ));
        assert!(e.contains("listed twice"), "{e}");
        let e = error(&GOOD.replace(
            "symbol = \"UST-10Y\"",
            "symbol = \"UST-10Y\"\nqty_lots = [5, 2]",
        ));
        assert!(e.contains("low first"), "{e}");
        let e = error(&GOOD.replace("rate = 1000", "rate = \"fast\""));
        assert!(e.contains("invalid type"), "{e}");
    }
}
