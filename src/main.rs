//! The `venue` command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod client;
mod journal_cmd;
mod run;
mod selfcheck;

#[derive(Debug, Parser)]
#[command(
    name = "venue",
    version,
    about = "An in-process matching and OTC venue engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the venue until Ctrl-C or SIGTERM.
    Run {
        /// Venue configuration file.
        #[arg(long, default_value = "examples/venue.toml")]
        config: std::path::PathBuf,
        /// Data directory: the journal, snapshots and FIX session stores live here.
        #[arg(long, default_value = "data")]
        data: std::path::PathBuf,
        /// Where the FIX acceptor listens (overrides `[fix] listen`).
        #[arg(long)]
        fix_listen: Option<std::net::SocketAddr>,
        /// Where the WebSocket API listens (overrides `[websocket] listen`).
        #[arg(long)]
        ws_listen: Option<std::net::SocketAddr>,
        /// Where the admin API listens (overrides `[admin] listen`).
        #[arg(long)]
        admin_listen: Option<std::net::SocketAddr>,
        /// Journal durability (overrides `[journal] durability`): `process`
        /// (appended = safe from a process crash; reports leave at once),
        /// `group` (synced every --flush-interval-us; reports wait for the
        /// sync) or `sync` (every input synced before the next).
        #[arg(long)]
        durability: Option<run::DurabilityArg>,
        /// Group commit interval in microseconds (overrides `[journal] flush_interval_us`).
        #[arg(long)]
        flush_interval_us: Option<u64>,
        /// Log line format on standard error (overrides `[log] format`).
        /// `RUST_LOG` overrides `[log] filter`.
        #[arg(long, value_enum)]
        log_format: Option<venue::logging::LogFormat>,
    },
    /// Check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the engine on this machine: determinism, snapshots, input codec.
    Selfcheck,
    /// Hash a FIX logon password (read from the first line of stdin) for a
    /// session's `password_hash`: an Argon2id PHC string.
    HashPassword,
    /// Make an Ed25519 key pair for WebSocket logins: the public key goes in
    /// the participant's `[participant.websocket] public_keys`, the private
    /// key (written to FILE, mode 0600) stays with the client.
    WsKeygen {
        /// Where to write the private key (hex).
        file: std::path::PathBuf,
    },
    /// Investigate a journal: verify it, decode inputs, show the book at
    /// any moment and an order's whole life, replay to a point, export order
    /// records.
    #[command(subcommand)]
    Journal(journal_cmd::JournalCommand),
    /// A trading terminal: log on over FIX as a participant and type orders
    /// (`buy 5 UST-10Y 99.515625 gtc`), cancels and replaces; every report
    /// from the venue is printed as it arrives. Reads commands from stdin,
    /// so a script can be piped in; `help` lists them.
    Client(client::ClientArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parse and check FILE: unknown keys, wrong types and semantic errors
    /// are reported with what to change.
    Check {
        /// The configuration file.
        file: std::path::PathBuf,
    },
}

fn config_check(file: &std::path::Path) -> Result<()> {
    let c = venue::config::load(file)?;
    println!(
        "{}: ok ({}: {} instruments, {} participants, {} FIX sessions, FIX on {})",
        file.display(),
        c.name,
        c.engine.instruments.len(),
        c.engine.participants.len(),
        c.fix_sessions.len(),
        c.fix_listen
    );
    println!(
        "  WebSocket on {}{}: {} participants with keys",
        c.ws.listen,
        if c.ws.tls.is_some() { " (TLS)" } else { "" },
        c.ws.participants.len()
    );
    Ok(())
}

fn hash_password() -> Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("empty password: type it on the first line of stdin");
    }
    let hash = gateway::fix::auth::hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    println!("{hash}");
    Ok(())
}

fn ws_keygen(file: &std::path::Path) -> Result<()> {
    use std::io::Write;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(file)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", file.display()))?;
    writeln!(f, "{}", hex::encode(seed))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    println!("private key written to {} (keep it secret)", file.display());
    println!(
        "public key (for public_keys): {}",
        hex::encode(key.verifying_key().as_bytes())
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Run {
            config,
            data,
            fix_listen,
            ws_listen,
            admin_listen,
            durability,
            flush_interval_us,
            log_format,
        } => run::run(
            &config,
            &data,
            &run::Overrides {
                fix_listen,
                ws_listen,
                admin_listen,
                durability,
                flush_interval_us,
                log_format,
            },
        ),
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
        Command::Selfcheck => selfcheck::run(),
        Command::HashPassword => hash_password(),
        Command::WsKeygen { file } => ws_keygen(&file),
        Command::Journal(cmd) => journal_cmd::run(cmd),
        Command::Client(args) => client::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line an operator can act on: the context chain, outermost
            // first, and no backtrace.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
