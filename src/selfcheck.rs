//! Placeholder replaced by the engine self-check.
use anyhow::Result;
pub(crate) fn run(_config: &std::path::Path) -> Result<()> {
    println!("venue {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
