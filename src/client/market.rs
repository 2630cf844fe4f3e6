//! Market data for `book` and `watch`. The FIX gateway sends no market data
//! (no MarketDataRequest), so the terminal reads the venue's public
//! WebSocket channels (`book.SYMBOL`, `trades.SYMBOL`), which need no login,
//! through the venue's client library ([`gateway::ws::client::Client`]: a
//! local book checked by sequence numbers and checksums, resubscribed by
//! itself after a gap).
//!
//! The connection is opened on first use, on a thread of its own running a
//! current-thread tokio runtime; the terminal's main thread sends it
//! [`Request`]s and waits for the answers on std channels. Watched symbols
//! print a `TOP` line when the best bid or ask changes and a `TRADE` line per
//! trade. Prices arrive in ticks and quantities in lots; they are printed as
//! exact decimals with the tick and lot sizes from the `instruments` answer.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use engine::Decimal;
use gateway::fix::decimal::{parse_decimal, write_ticks};
use gateway::ws::client::{Client, ClientEvent, book_channel};
use gateway::ws::local_book::{Level, LocalBook};
use tokio::sync::mpsc;

use super::say;

/// Levels a side that `book` shows.
const BOOK_DEPTH: u32 = 5;

/// An answer: lines to print, or why there are none.
type Reply<T> = std_mpsc::Sender<Result<T, String>>;

/// What the terminal asks of the market data thread.
#[derive(Debug)]
enum Request {
    /// The book now, as lines.
    Book {
        symbol: String,
        reply: Reply<Vec<String>>,
    },
    /// Start printing top-of-book changes and trades.
    Watch { symbol: String, reply: Reply<()> },
    /// Stop that.
    Unwatch {
        symbol: String,
        reply: Reply<String>,
    },
    /// Close the connection and end the thread.
    Stop { done: std_mpsc::Sender<()> },
}

/// A connection to the WebSocket API's public channels.
#[derive(Debug)]
pub(crate) struct MarketData {
    requests: mpsc::UnboundedSender<Request>,
    timeout: Duration,
}

impl MarketData {
    /// Connects to `url` and learns the instruments' tick and lot sizes.
    ///
    /// # Errors
    /// The connection failed or the venue did not answer in `timeout`.
    pub(crate) fn connect(url: &str, timeout: Duration) -> Result<MarketData, String> {
        let (requests, inbox) = mpsc::unbounded_channel();
        let (ready_tx, ready) = std_mpsc::channel();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("client-market-data".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(run(url, inbox, ready_tx, timeout)),
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start a tokio runtime: {e}")));
                    }
                }
            })
            .map_err(|e| format!("cannot start the market data thread: {e}"))?;
        match ready.recv_timeout(timeout + Duration::from_secs(1)) {
            Ok(Ok(())) => Ok(MarketData { requests, timeout }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the market data thread did not start".to_owned()),
        }
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, String> {
        let (tx, rx) = std_mpsc::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| "the market data connection is closed".to_owned())?;
        match rx.recv_timeout(self.timeout) {
            Ok(answer) => answer,
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "no market data within {} ms",
                self.timeout.as_millis()
            )),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                Err("the market data connection is closed".to_owned())
            }
        }
    }

    /// The book of `symbol` now, as lines to print.
    pub(crate) fn book(&self, symbol: &str) -> Result<Vec<String>, String> {
        let symbol = symbol.to_owned();
        self.ask(|reply| Request::Book { symbol, reply })
    }

    /// Starts watching `symbol` (the thread says so itself).
    pub(crate) fn watch(&self, symbol: &str) -> Result<(), String> {
        let symbol = symbol.to_owned();
        self.ask(|reply| Request::Watch { symbol, reply })
    }

    /// Stops watching `symbol`.
    pub(crate) fn unwatch(&self, symbol: &str) -> Result<String, String> {
        let symbol = symbol.to_owned();
        self.ask(|reply| Request::Unwatch { symbol, reply })
    }

    /// Whether the connection is still up.
    pub(crate) fn is_open(&self) -> bool {
        !self.requests.is_closed()
    }

    /// Closes the connection (waiting up to a second for it).
    pub(crate) fn stop(self) {
        let (done, wait) = std_mpsc::channel();
        if self.requests.send(Request::Stop { done }).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// An instrument's units, for printing.
#[derive(Clone, Copy, Debug)]
struct Units {
    tick: Decimal,
    lot: Decimal,
}

fn decimal(s: &str) -> Option<Decimal> {
    match parse_decimal(s.as_bytes()) {
        Ok((false, d)) => Some(d),
        _ => None,
    }
}

/// `ticks * unit` as exact decimal text.
fn units_text(n: i64, unit: Decimal) -> String {
    let mut out = Vec::new();
    write_ticks(&mut out, n, unit);
    String::from_utf8_lossy(&out).into_owned()
}

fn qty_text(lots: u64, units: Units) -> String {
    match i64::try_from(lots) {
        Ok(n) => units_text(n, units.lot),
        Err(_) => format!("{lots} lots"),
    }
}

fn level_text(level: Option<Level>, units: Units) -> String {
    match level {
        Some(l) => format!(
            "{} @ {}",
            qty_text(l.qty_lots, units),
            units_text(l.price_ticks, units.tick)
        ),
        None => "none".to_owned(),
    }
}

/// The `book` answer.
fn render_book(symbol: &str, book: &LocalBook, units: Units) -> Vec<String> {
    let mut lines = vec![format!(
        "BOOK      {symbol} (best {BOOK_DEPTH} levels a side; engine seq {})",
        book.engine_seq().unwrap_or(0)
    )];
    let row = |side: &str, l: &Level| {
        format!(
            "  {side} {:>14} @ {:<14} ({} order{})",
            qty_text(l.qty_lots, units),
            units_text(l.price_ticks, units.tick),
            l.orders,
            if l.orders == 1 { "" } else { "s" }
        )
    };
    if book.asks().is_empty() {
        lines.push("  (no asks)".to_owned());
    }
    // Asks above bids, best of each nearest the middle.
    lines.extend(book.asks().iter().rev().map(|l| row("ask", l)));
    lines.extend(book.bids().iter().map(|l| row("bid", l)));
    if book.bids().is_empty() {
        lines.push("  (no bids)".to_owned());
    }
    lines
}

/// The market data thread's state.
struct Md {
    client: Client,
    units: HashMap<String, Units>,
    watching: HashSet<String>,
    /// `book` requests waiting for a channel's snapshot.
    waiting: HashMap<String, Vec<Reply<Vec<String>>>>,
    /// The last best bid and ask printed per watched symbol.
    tops: HashMap<String, (Option<Level>, Option<Level>)>,
}

impl Md {
    fn units(&self, symbol: &str) -> Units {
        let one = Decimal {
            mantissa: 1,
            scale: 0,
        };
        self.units.get(symbol).copied().unwrap_or(Units {
            tick: one,
            lot: one,
        })
    }

    async fn request(&mut self, request: Request) -> Result<bool, String> {
        match request {
            Request::Stop { done } => {
                let _ = tokio::time::timeout(Duration::from_millis(500), self.client.close()).await;
                let _ = done.send(());
                return Ok(false);
            }
            Request::Book { symbol, reply } => {
                let channel = book_channel(&symbol);
                if let Some(book) = self.client.book(&channel)
                    && book.is_synced()
                {
                    let _ = reply.send(Ok(render_book(&symbol, book, self.units(&symbol))));
                } else {
                    let first = !self.waiting.contains_key(&channel);
                    self.waiting.entry(channel).or_default().push(reply);
                    if first && !self.watching.contains(&symbol) {
                        self.client
                            .subscribe_book(&symbol, BOOK_DEPTH)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            Request::Watch { symbol, reply } => {
                if self.watching.contains(&symbol) {
                    say(&format!("already watching {symbol}"));
                    let _ = reply.send(Ok(()));
                } else {
                    // Said before subscribing, so that it comes before the
                    // first TOP line.
                    say(&format!(
                        "watching {symbol}: TOP lines when the best bid or ask changes, TRADE lines for trades; `unwatch {symbol}` stops"
                    ));
                    if !self.waiting.contains_key(&book_channel(&symbol)) {
                        self.client
                            .subscribe_book(&symbol, BOOK_DEPTH)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    self.client
                        .subscribe_trades(&symbol)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.watching.insert(symbol);
                    let _ = reply.send(Ok(()));
                }
            }
            Request::Unwatch { symbol, reply } => {
                if self.watching.remove(&symbol) {
                    self.tops.remove(&symbol);
                    let channel = book_channel(&symbol);
                    if !self.waiting.contains_key(&channel) {
                        self.client
                            .unsubscribe(&channel)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    self.client
                        .unsubscribe(&gateway::ws::client::trades_channel(&symbol))
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = reply.send(Ok(format!("stopped watching {symbol}")));
                } else {
                    let _ = reply.send(Err(format!("not watching {symbol}")));
                }
            }
        }
        Ok(true)
    }

    async fn event(&mut self, event: ClientEvent) -> Result<bool, String> {
        match event {
            ClientEvent::Book { channel, .. } => {
                let symbol = channel.strip_prefix("book.").unwrap_or(&channel).to_owned();
                let units = self.units(&symbol);
                let Some(book) = self.client.book(&channel) else {
                    return Ok(true);
                };
                if let Some(waiters) = self.waiting.remove(&channel) {
                    let lines = render_book(&symbol, book, units);
                    for w in waiters {
                        let _ = w.send(Ok(lines.clone()));
                    }
                }
                if self.watching.contains(&symbol) {
                    let top = (book.best_bid(), book.best_ask());
                    if self.tops.get(&symbol) != Some(&top) {
                        say(&format!(
                            "TOP       {symbol} bid {} | ask {}",
                            level_text(top.0, units),
                            level_text(top.1, units)
                        ));
                        self.tops.insert(symbol, top);
                    }
                } else {
                    self.client
                        .unsubscribe(&channel)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            ClientEvent::Trade(t) => {
                let symbol = t.channel.strip_prefix("trades.").unwrap_or(&t.channel);
                if self.watching.contains(symbol) {
                    let units = self.units(symbol);
                    say(&format!(
                        "TRADE     {symbol} {} @ {} ({} aggressor, trade {})",
                        qty_text(t.qty_lots, units),
                        units_text(t.price_ticks, units.tick),
                        t.aggressor,
                        t.trade_id
                    ));
                }
            }
            ClientEvent::TradeGap {
                channel,
                after_seq,
                through_seq,
            } => say(&format!(
                "market data: trades {}..={through_seq} of {channel} were lost",
                after_seq.saturating_add(1)
            )),
            ClientEvent::BookResync { channel, reason } => {
                say(&format!(
                    "market data: {channel} resynchronising ({reason})"
                ));
            }
            ClientEvent::Error { code, message, .. } => {
                // The only requests here are subscriptions: a refused one
                // answers everyone waiting.
                let text = format!("market data refused: {code}: {message}");
                for (_, waiters) in self.waiting.drain() {
                    for w in waiters {
                        let _ = w.send(Err(text.clone()));
                    }
                }
                say(&text);
            }
            ClientEvent::Closed { code, reason } => {
                say(&format!(
                    "market data connection closed by the venue ({}{reason})",
                    code.map_or_else(String::new, |c| format!("code {c}: "))
                ));
                return Ok(false);
            }
            _ => {}
        }
        Ok(true)
    }
}

async fn run(
    url: String,
    mut inbox: mpsc::UnboundedReceiver<Request>,
    ready: std_mpsc::Sender<Result<(), String>>,
    timeout: Duration,
) {
    let connected = tokio::time::timeout(timeout, Client::connect(&url)).await;
    let mut client = match connected {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            let _ = ready.send(Err(format!(
                "cannot connect to the venue's WebSocket API at {url}: {e}"
            )));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err(format!(
                "no answer from the venue's WebSocket API at {url} within {} ms",
                timeout.as_millis()
            )));
            return;
        }
    };
    let instruments = async {
        client.instruments().await?;
        loop {
            match client.next_event().await? {
                Some(ClientEvent::Instruments { instruments, .. }) => {
                    return Ok::<_, gateway::ws::client::ClientError>(Some(instruments));
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
    };
    let instruments = match tokio::time::timeout(timeout, instruments).await {
        Ok(Ok(Some(list))) => list,
        Ok(Ok(None)) => {
            let _ = ready.send(Err(format!("{url} closed the connection")));
            return;
        }
        Ok(Err(e)) => {
            let _ = ready.send(Err(format!("{url}: {e}")));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err(format!(
                "{url} did not list its instruments within {} ms",
                timeout.as_millis()
            )));
            return;
        }
    };
    let units = instruments
        .iter()
        .filter_map(|i| {
            Some((
                i.symbol.clone(),
                Units {
                    tick: decimal(&i.tick_size)?,
                    lot: decimal(&i.lot_size)?,
                },
            ))
        })
        .collect();
    let mut md = Md {
        client,
        units,
        watching: HashSet::new(),
        waiting: HashMap::new(),
        tops: HashMap::new(),
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    loop {
        let go_on = tokio::select! {
            request = inbox.recv() => match request {
                Some(r) => md.request(r).await,
                None => Ok(false),
            },
            event = md.client.next_event() => match event {
                Ok(Some(e)) => md.event(e).await,
                Ok(None) => Ok(false),
                Err(e) if !e.is_fatal() => Ok(true),
                Err(e) => Err(e.to_string()),
            },
        };
        match go_on {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                say(&format!("market data connection lost: {e}"));
                break;
            }
        }
    }
    // Answer whoever still waits, so that nobody waits for the timeout.
    for (_, waiters) in md.waiting.drain() {
        for w in waiters {
            let _ = w.send(Err("the market data connection closed".to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_lots_print_as_exact_decimals() {
        let units = Units {
            tick: decimal("0.0078125").expect("decimal"),
            lot: decimal("1000").expect("decimal"),
        };
        assert_eq!(units_text(12738, units.tick), "99.515625");
        assert_eq!(units_text(-3, units.tick), "-0.0234375");
        assert_eq!(qty_text(5, units), "5000");
        assert_eq!(
            level_text(
                Some(Level {
                    price_ticks: 12736,
                    qty_lots: 2,
                    orders: 1
                }),
                units
            ),
            "2000 @ 99.5"
        );
        assert_eq!(level_text(None, units), "none");
        assert_eq!(qty_text(u64::MAX, units), format!("{} lots", u64::MAX));
    }
}
