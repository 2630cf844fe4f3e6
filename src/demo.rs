//! The built-in demonstration venue, used by `venue run` and `venue
//! selfcheck` until configuration files arrive (`venue.toml`, a later issue):
//! one instrument (a 10-year US Treasury note quoted in 1/128ths, 100
//! ticks either side of the reference price as collar) and four participants
//! with cancel-resting self-trade prevention.

use engine::{
    Collar, EngineConfig, InstrumentId, InstrumentSpec, ParticipantId, ParticipantSpec, StpMode,
};

/// The demo venue's engine configuration.
#[must_use]
pub fn engine_config() -> EngineConfig {
    let mut bond = InstrumentSpec::new(InstrumentId(1), "UST-10Y");
    bond.tick_size = "0.0078125".parse().expect("a valid decimal literal");
    bond.collar = Some(Collar::Ticks(64));
    bond.reference_price_ticks = Some(12_800);
    EngineConfig {
        instruments: vec![bond],
        participants: (1..=4)
            .map(|i| ParticipantSpec {
                id: ParticipantId(i),
                stp: StpMode::CancelResting,
            })
            .collect(),
        ..EngineConfig::default()
    }
}

/// The demo venue's FIX sessions: `CLIENT1` … `CLIENT4` log on to `VENUE`
/// as participants 1 to 4, without a password (demonstration only: a real
/// venue sets `password_hash`).
#[must_use]
pub fn fix_sessions() -> Vec<gateway::fix::config::SessionConfig> {
    (1..=4)
        .map(|i| {
            let mut s = gateway::fix::config::SessionConfig::new(
                "VENUE",
                &format!("CLIENT{i}"),
                ParticipantId(i),
            );
            // Generous, so that load tests measure the venue, not the limit.
            s.rate = gateway::fix::config::RateLimit {
                per_second: 200_000,
                burst: 20_000,
                queue_max: 100_000,
            };
            s
        })
        .collect()
}

/// The demo venue's instruments as the FIX gateway sees them.
#[must_use]
pub fn fix_instruments() -> Vec<gateway::fix::app::InstrumentInfo> {
    engine_config()
        .instruments
        .iter()
        .map(|spec| {
            gateway::fix::app::InstrumentInfo::from_spec(
                spec,
                Some("US Treasury 10-year note".to_owned()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_configuration_is_valid() {
        assert_eq!(super::engine_config().validate(), Ok(()));
    }
}
