//! The terminal's command language: one line, one command. Parsing is a
//! pure function of the line, so every usage message is unit-tested; a line
//! that does not parse is a [`Usage`] error naming what to type instead,
//! never a panic.
//!
//! Prices and quantities stay decimal text, checked for syntax here (so a
//! typo is caught before anything is sent) and sent as typed: the venue
//! turns them into ticks and lots and refuses a value off the grid.

use gateway::fix::decimal::{DecimalError, parse_decimal};

/// One usage line per command, for `help` and for mistakes.
pub(crate) const USAGE_BUY: &str = "buy QTY SYMBOL PRICE|market [day|gtc|ioc|fok]";
pub(crate) const USAGE_SELL: &str = "sell QTY SYMBOL PRICE|market [day|gtc|ioc|fok]";
pub(crate) const USAGE_CANCEL: &str = "cancel ID | cancel all [SYMBOL]";
pub(crate) const USAGE_REPLACE: &str = "replace ID QTY [PRICE]";
pub(crate) const USAGE_STATUS: &str = "status ID";
pub(crate) const USAGE_ORDERS: &str = "orders [all]";
pub(crate) const USAGE_BOOK: &str = "book SYMBOL";
pub(crate) const USAGE_WATCH: &str = "watch SYMBOL";
pub(crate) const USAGE_UNWATCH: &str = "unwatch SYMBOL";

/// What `help` prints.
pub(crate) const HELP: &str = "\
Commands (one a line; words are not case-sensitive, # starts a comment):
  buy QTY SYMBOL PRICE [TIF]     limit order, e.g. buy 5 UST-10Y 99.515625 gtc
  sell QTY SYMBOL PRICE [TIF]    TIF: day (the default), gtc, ioc, fok
  buy QTY SYMBOL market [TIF]    market order (the rest is cancelled)
  cancel ID                      ID: the order's number (OrderID) or a ClOrdID
  cancel all [SYMBOL]            every live order of this participant
  replace ID QTY [PRICE]         new total quantity, and price (default: the same)
  orders [all]                   this terminal's live orders (all: finished too)
  status ID                      ask the venue for an order's state
  symbols                        the venue's instruments
  book SYMBOL                    the top of the book now (WebSocket market data)
  watch SYMBOL                   print top-of-book changes and trades as they happen
  unwatch SYMBOL                 stop watching
  help                           this text
  quit                           log out and exit (also: exit, logout, end of input)
QTY and PRICE are decimals as the instrument is quoted (a price off the tick,
or a quantity off the lot size, is refused by the venue). SYMBOL may be typed
without punctuation or case (ust10y for UST-10Y). Not offered here: stop
orders, GTD, icebergs, minimum quantity, post-only.";

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Buy,
    Sell,
}

impl Side {
    /// Side(54).
    pub(crate) fn fix(self) -> u8 {
        match self {
            Side::Buy => b'1',
            Side::Sell => b'2',
        }
    }
}

/// TimeInForce(59) a person may type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tif {
    Day,
    Gtc,
    Ioc,
    Fok,
}

impl Tif {
    /// TimeInForce(59).
    pub(crate) fn fix(self) -> u8 {
        match self {
            Tif::Day => b'0',
            Tif::Gtc => b'1',
            Tif::Ioc => b'3',
            Tif::Fok => b'4',
        }
    }

    fn parse(word: &str) -> Option<Tif> {
        Some(match word.to_ascii_lowercase().as_str() {
            "day" => Tif::Day,
            "gtc" => Tif::Gtc,
            "ioc" => Tif::Ioc,
            "fok" => Tif::Fok,
            _ => return None,
        })
    }
}

/// A new order as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewOrder {
    pub(crate) side: Side,
    /// Decimal text, not negative.
    pub(crate) qty: String,
    /// As typed; matched against the venue's symbols before sending.
    pub(crate) symbol: String,
    /// Decimal text; `None` for a market order.
    pub(crate) price: Option<String>,
    /// `None`: not typed (Day is sent).
    pub(crate) tif: Option<Tif>,
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// An empty line or a comment.
    Nothing,
    New(NewOrder),
    Cancel {
        id: String,
    },
    CancelAll {
        symbol: Option<String>,
    },
    Replace {
        id: String,
        qty: String,
        price: Option<String>,
    },
    Orders {
        all: bool,
    },
    Status {
        id: String,
    },
    Symbols,
    Book {
        symbol: String,
    },
    Watch {
        symbol: String,
    },
    Unwatch {
        symbol: String,
    },
    Help,
    Quit,
}

/// A line that is not a command: what to tell the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(problem: &str, usage: &str) -> Usage {
    if problem.is_empty() {
        Usage(format!("usage: {usage}"))
    } else {
        Usage(format!("{problem}; usage: {usage}"))
    }
}

/// Checks a quantity's decimal text: FIX `float` syntax, not negative.
fn quantity(word: &str, usage_line: &str) -> Result<String, Usage> {
    match parse_decimal(word.as_bytes()) {
        Ok((false, _)) => Ok(word.to_owned()),
        Ok((true, _)) => Err(usage(&format!("quantity {word} is negative"), usage_line)),
        Err(DecimalError::Range) => Err(usage(
            &format!("quantity {word} is too large or has too many decimals"),
            usage_line,
        )),
        Err(DecimalError::Format) => Err(usage(
            &format!("quantity `{word}` is not a decimal number"),
            usage_line,
        )),
    }
}

/// Checks a price's decimal text (it may be negative: swaps quoted in
/// rate go below zero).
fn price(word: &str, usage_line: &str) -> Result<String, Usage> {
    match parse_decimal(word.as_bytes()) {
        Ok(_) => Ok(word.to_owned()),
        Err(DecimalError::Range) => Err(usage(
            &format!("price {word} is too large or has too many decimals"),
            usage_line,
        )),
        Err(DecimalError::Format) => Err(usage(
            &format!("price `{word}` is not a decimal number"),
            usage_line,
        )),
    }
}

/// Parses one line of input.
///
/// # Errors
/// A [`Usage`] naming what is wrong and the command's usage line.
pub(crate) fn parse(line: &str) -> Result<Command, Usage> {
    let line = line.split('#').next().unwrap_or("");
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&first, args)) = words.split_first() else {
        return Ok(Command::Nothing);
    };
    let verb = first.to_ascii_lowercase();
    match verb.as_str() {
        "buy" | "sell" => {
            let (side, usage_line) = if verb == "buy" {
                (Side::Buy, USAGE_BUY)
            } else {
                (Side::Sell, USAGE_SELL)
            };
            let (qty, symbol, px, tif) = match args {
                [q, s, p] => (q, s, p, None),
                [q, s, p, t] => (q, s, p, Some(t)),
                _ => return Err(usage("", usage_line)),
            };
            let qty = quantity(qty, usage_line)?;
            let price = if px.eq_ignore_ascii_case("market") || px.eq_ignore_ascii_case("mkt") {
                None
            } else {
                Some(price(px, usage_line)?)
            };
            let tif = match tif {
                None => None,
                Some(t) => Some(Tif::parse(t).ok_or_else(|| {
                    usage(
                        &format!("time in force `{t}` is not day, gtc, ioc or fok"),
                        usage_line,
                    )
                })?),
            };
            Ok(Command::New(NewOrder {
                side,
                qty,
                symbol: (*symbol).to_owned(),
                price,
                tif,
            }))
        }
        "cancel" => match args {
            [all] if all.eq_ignore_ascii_case("all") => Ok(Command::CancelAll { symbol: None }),
            [all, symbol] if all.eq_ignore_ascii_case("all") => Ok(Command::CancelAll {
                symbol: Some((*symbol).to_owned()),
            }),
            [id] => Ok(Command::Cancel {
                id: (*id).to_owned(),
            }),
            _ => Err(usage("", USAGE_CANCEL)),
        },
        "replace" | "amend" => {
            let (id, qty, px) = match args {
                [id, q] => (id, q, None),
                [id, q, p] => (id, q, Some(p)),
                _ => return Err(usage("", USAGE_REPLACE)),
            };
            Ok(Command::Replace {
                id: (*id).to_owned(),
                qty: quantity(qty, USAGE_REPLACE)?,
                price: px.map(|p| price(p, USAGE_REPLACE)).transpose()?,
            })
        }
        "orders" => match args {
            [] => Ok(Command::Orders { all: false }),
            [all] if all.eq_ignore_ascii_case("all") => Ok(Command::Orders { all: true }),
            _ => Err(usage("", USAGE_ORDERS)),
        },
        "status" => match args {
            [id] => Ok(Command::Status {
                id: (*id).to_owned(),
            }),
            _ => Err(usage("", USAGE_STATUS)),
        },
        "symbols" | "instruments" if args.is_empty() => Ok(Command::Symbols),
        "book" | "watch" | "unwatch" => {
            let usage_line = match verb.as_str() {
                "book" => USAGE_BOOK,
                "watch" => USAGE_WATCH,
                _ => USAGE_UNWATCH,
            };
            let [symbol] = args else {
                return Err(usage("", usage_line));
            };
            let symbol = (*symbol).to_owned();
            Ok(match verb.as_str() {
                "book" => Command::Book { symbol },
                "watch" => Command::Watch { symbol },
                _ => Command::Unwatch { symbol },
            })
        }
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" | "logout" | "q" if args.is_empty() => Ok(Command::Quit),
        _ => Err(Usage(format!(
            "unknown command `{}`; type `help` for the list",
            words.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(side: Side, qty: &str, symbol: &str, price: Option<&str>, tif: Option<Tif>) -> Command {
        Command::New(NewOrder {
            side,
            qty: qty.to_owned(),
            symbol: symbol.to_owned(),
            price: price.map(str::to_owned),
            tif,
        })
    }

    #[test]
    fn orders_as_a_trader_types_them() {
        assert_eq!(
            parse("buy 5 UST10Y 99.515625 gtc"),
            Ok(new(
                Side::Buy,
                "5",
                "UST10Y",
                Some("99.515625"),
                Some(Tif::Gtc)
            ))
        );
        assert_eq!(
            parse("  SELL 3 EURUSD 1.08515 IOC  "),
            Ok(new(
                Side::Sell,
                "3",
                "EURUSD",
                Some("1.08515"),
                Some(Tif::Ioc)
            ))
        );
        assert_eq!(
            parse("buy 5 UST-10Y market"),
            Ok(new(Side::Buy, "5", "UST-10Y", None, None))
        );
        assert_eq!(
            parse("sell 1000000 USD-IRS-5Y -0.125 fok # a negative rate"),
            Ok(new(
                Side::Sell,
                "1000000",
                "USD-IRS-5Y",
                Some("-0.125"),
                Some(Tif::Fok)
            ))
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse("cancel 17"), Ok(Command::Cancel { id: "17".into() }));
        assert_eq!(parse("cancel ALL"), Ok(Command::CancelAll { symbol: None }));
        assert_eq!(
            parse("cancel all UST-10Y"),
            Ok(Command::CancelAll {
                symbol: Some("UST-10Y".into())
            })
        );
        assert_eq!(
            parse("replace k1-2 3 99.8125"),
            Ok(Command::Replace {
                id: "k1-2".into(),
                qty: "3".into(),
                price: Some("99.8125".into())
            })
        );
        assert_eq!(
            parse("replace 17 3"),
            Ok(Command::Replace {
                id: "17".into(),
                qty: "3".into(),
                price: None
            })
        );
        assert_eq!(parse("orders"), Ok(Command::Orders { all: false }));
        assert_eq!(parse("orders all"), Ok(Command::Orders { all: true }));
        assert_eq!(parse("status 9"), Ok(Command::Status { id: "9".into() }));
        assert_eq!(parse("symbols"), Ok(Command::Symbols));
        assert_eq!(
            parse("book ust10y"),
            Ok(Command::Book {
                symbol: "ust10y".into()
            })
        );
        assert_eq!(
            parse("watch EUR/USD"),
            Ok(Command::Watch {
                symbol: "EUR/USD".into()
            })
        );
        assert_eq!(
            parse("unwatch EUR/USD"),
            Ok(Command::Unwatch {
                symbol: "EUR/USD".into()
            })
        );
        assert_eq!(parse("help"), Ok(Command::Help));
        for quit in ["quit", "exit", "logout", "Q"] {
            assert_eq!(parse(quit), Ok(Command::Quit), "{quit}");
        }
        assert_eq!(parse(""), Ok(Command::Nothing));
        assert_eq!(parse("   # just a comment"), Ok(Command::Nothing));
    }

    #[test]
    fn mistakes_get_a_usage_line() {
        let err = |line: &str| parse(line).expect_err(line).0;
        assert_eq!(err("buy"), format!("usage: {USAGE_BUY}"));
        assert_eq!(err("sell 1 X"), format!("usage: {USAGE_SELL}"));
        assert_eq!(
            err("buy five UST-10Y 99.5"),
            format!("quantity `five` is not a decimal number; usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy -5 UST-10Y 99.5"),
            format!("quantity -5 is negative; usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy 5 UST-10Y 99,5"),
            format!("price `99,5` is not a decimal number; usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy 5 UST-10Y 1e5"),
            format!("price `1e5` is not a decimal number; usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy 5 UST-10Y 99.5 gtd"),
            format!("time in force `gtd` is not day, gtc, ioc or fok; usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy 5 UST-10Y 99.5 gtc extra"),
            format!("usage: {USAGE_BUY}")
        );
        assert_eq!(
            err("buy 99999999999999999999999 UST-10Y 1"),
            format!(
                "quantity 99999999999999999999999 is too large or has too many decimals; usage: {USAGE_BUY}"
            )
        );
        assert_eq!(err("cancel"), format!("usage: {USAGE_CANCEL}"));
        assert_eq!(err("cancel 1 2 3"), format!("usage: {USAGE_CANCEL}"));
        assert_eq!(err("replace 17"), format!("usage: {USAGE_REPLACE}"));
        assert_eq!(
            err("replace 17 x"),
            format!("quantity `x` is not a decimal number; usage: {USAGE_REPLACE}")
        );
        assert_eq!(err("orders open"), format!("usage: {USAGE_ORDERS}"));
        assert_eq!(err("status"), format!("usage: {USAGE_STATUS}"));
        assert_eq!(err("book"), format!("usage: {USAGE_BOOK}"));
        assert_eq!(err("watch a b"), format!("usage: {USAGE_WATCH}"));
        assert_eq!(
            err("fly me to the moon"),
            "unknown command `fly me to the moon`; type `help` for the list"
        );
        assert_eq!(
            err("quit now"),
            "unknown command `quit now`; type `help` for the list"
        );
    }

    #[test]
    fn odd_bytes_never_panic() {
        for line in [
            "\u{0}",
            "buy \u{feff} \u{1F600} 1",
            "buy 1 X 99.5.5",
            "buy 1 X .",
            "buy 1 X -",
            "buy 99999999999999999999999999 X 1",
            "replace \t\t 1",
        ] {
            let _ = parse(line);
        }
    }
}
