//! What the terminal knows of its orders, kept from the execution reports
//! it receives, and the readable lines it prints for each message from the
//! venue.
//!
//! Every figure is the venue's own decimal text (OrderQty, LeavesQty,
//! CumQty, AvgPx as the venue wrote them): the terminal does no arithmetic
//! on prices or quantities, so it can never disagree with the venue about
//! one. A handful of orders per terminal: lookups are linear scans.

use gateway::fix::tags;

use super::fix::FixMsg;

/// One order as last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Order {
    /// The order's ClOrdID now (a cancel or replace gives it the request's).
    pub(crate) cl_ord_id: String,
    /// ClOrdIDs it had before, oldest first.
    pub(crate) earlier_cl_ord_ids: Vec<String>,
    /// OrderID(37), once the venue has accepted it.
    pub(crate) order_id: Option<String>,
    pub(crate) symbol: String,
    /// Side(54).
    pub(crate) side: String,
    /// OrdType(40).
    pub(crate) ord_type: String,
    /// TimeInForce(59).
    pub(crate) tif: String,
    pub(crate) price: Option<String>,
    pub(crate) qty: String,
    /// OrdStatus(39); `None` while the new order is unanswered.
    pub(crate) status: Option<String>,
    pub(crate) leaves: String,
    pub(crate) cum: String,
    pub(crate) avg_px: String,
}

impl Order {
    /// Whether the order can still trade (or may, if unanswered).
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self.status.as_deref(),
            None | Some("0" | "1" | "A" | "6" | "E")
        )
    }

    /// The value this order has for an ExecutionReport field, to fill in
    /// what a report leaves out (a gateway reject carries no price).
    fn field(&self, tag: u32) -> Option<&str> {
        let v = match tag {
            tags::SYMBOL => &self.symbol,
            tags::SIDE => &self.side,
            tags::ORD_TYPE => &self.ord_type,
            tags::TIME_IN_FORCE => &self.tif,
            tags::ORDER_QTY => &self.qty,
            tags::PRICE => return self.price.as_deref(),
            _ => return None,
        };
        Some(v.as_str()).filter(|v| !v.is_empty())
    }

    /// Whether `id` names this order: its OrderID, or a ClOrdID it has had.
    pub(crate) fn is_named(&self, id: &str) -> bool {
        self.order_id.as_deref() == Some(id)
            || self.cl_ord_id == id
            || self.earlier_cl_ord_ids.iter().any(|c| c == id)
    }
}

/// This terminal's orders, in the order it first heard of them.
#[derive(Debug, Default)]
pub(crate) struct Orders {
    list: Vec<Order>,
}

impl Orders {
    /// A new order just sent and not yet answered.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site, each a NewOrderSingle field"
    )]
    pub(crate) fn sent(
        &mut self,
        cl_ord_id: &str,
        symbol: &str,
        side: u8,
        ord_type: u8,
        tif: u8,
        price: Option<&str>,
        qty: &str,
    ) {
        self.list.push(Order {
            cl_ord_id: cl_ord_id.to_owned(),
            earlier_cl_ord_ids: Vec::new(),
            order_id: None,
            symbol: symbol.to_owned(),
            side: char::from(side).to_string(),
            ord_type: char::from(ord_type).to_string(),
            tif: char::from(tif).to_string(),
            price: price.map(str::to_owned),
            qty: qty.to_owned(),
            status: None,
            leaves: qty.to_owned(),
            cum: "0".to_owned(),
            avg_px: "0".to_owned(),
        });
    }

    /// The order `id` names (an OrderID is tried first, since ClOrdIDs of
    /// other tools may be numbers too).
    pub(crate) fn find(&self, id: &str) -> Option<&Order> {
        self.list
            .iter()
            .find(|o| o.order_id.as_deref() == Some(id))
            .or_else(|| self.list.iter().find(|o| o.is_named(id)))
    }

    /// Every order, oldest first.
    pub(crate) fn all(&self) -> &[Order] {
        &self.list
    }

    /// Where the order an ExecutionReport is about sits, if known.
    fn index_for(&self, x: &FixMsg) -> Option<usize> {
        let order_id = x
            .get(tags::ORDER_ID)
            .filter(|id| *id != "NONE" && !id.is_empty());
        order_id
            .and_then(|id| {
                self.list
                    .iter()
                    .position(|o| o.order_id.as_deref() == Some(id))
            })
            .or_else(|| {
                // Before the OrderID is known: the new order's ClOrdID, or,
                // for a cancel or replace, the id it had.
                [x.get(tags::CL_ORD_ID), x.get(tags::ORIG_CL_ORD_ID)]
                    .into_iter()
                    .flatten()
                    .find_map(|c| {
                        self.list
                            .iter()
                            .position(|o| o.order_id.is_none() && o.cl_ord_id == c)
                    })
            })
    }

    /// The order an ExecutionReport is about, as known before it.
    pub(crate) fn known(&self, x: &FixMsg) -> Option<&Order> {
        self.index_for(x).map(|i| &self.list[i])
    }

    /// Takes in an ExecutionReport.
    pub(crate) fn apply(&mut self, x: &FixMsg) {
        let order_id = x
            .get(tags::ORDER_ID)
            .filter(|id| *id != "NONE" && !id.is_empty());
        let cl = x.get(tags::CL_ORD_ID);
        let index = self.index_for(x);
        let index = match index {
            Some(i) => i,
            // A report of an order this terminal did not enter (a status
            // answer, an order from before it started): known from now on.
            // A report with no OrderID and no order to match (a status of
            // an unknown order) is only printed.
            None if order_id.is_some() => {
                self.list.push(Order {
                    cl_ord_id: cl.unwrap_or_default().to_owned(),
                    earlier_cl_ord_ids: Vec::new(),
                    order_id: None,
                    symbol: String::new(),
                    side: String::new(),
                    ord_type: String::new(),
                    tif: String::new(),
                    price: None,
                    qty: String::new(),
                    status: None,
                    leaves: String::new(),
                    cum: String::new(),
                    avg_px: String::new(),
                });
                self.list.len() - 1
            }
            None => return,
        };
        let o = &mut self.list[index];
        if let Some(id) = order_id {
            o.order_id = Some(id.to_owned());
        }
        if let Some(c) = cl
            && c != o.cl_ord_id
        {
            let old = std::mem::replace(&mut o.cl_ord_id, c.to_owned());
            if !old.is_empty() {
                o.earlier_cl_ord_ids.push(old);
            }
        }
        let set = |field: &mut String, tag: u32| {
            if let Some(v) = x.get(tag) {
                v.clone_into(field);
            }
        };
        set(&mut o.symbol, tags::SYMBOL);
        set(&mut o.side, tags::SIDE);
        set(&mut o.ord_type, tags::ORD_TYPE);
        set(&mut o.tif, tags::TIME_IN_FORCE);
        set(&mut o.qty, tags::ORDER_QTY);
        set(&mut o.leaves, tags::LEAVES_QTY);
        set(&mut o.cum, tags::CUM_QTY);
        set(&mut o.avg_px, tags::AVG_PX);
        if let Some(p) = x.get(tags::PRICE) {
            o.price = Some(p.to_owned());
        }
        if let Some(s) = x.get(tags::ORD_STATUS) {
            o.status = Some(s.to_owned());
        }
    }
}

/// Side(54) in words.
pub(crate) fn side_name(side: &str) -> &str {
    match side {
        "1" => "buy",
        "2" => "sell",
        other => other,
    }
}

/// TimeInForce(59) as traders write it.
pub(crate) fn tif_name(tif: &str) -> &str {
    match tif {
        "0" => "DAY",
        "1" => "GTC",
        "3" => "IOC",
        "4" => "FOK",
        "6" => "GTD",
        other => other,
    }
}

/// OrdStatus(39) in words; `None` is a new order not yet answered.
pub(crate) fn status_name(status: Option<&str>) -> &str {
    match status {
        None => "pending new",
        Some("0") => "new",
        Some("1") => "partially filled",
        Some("2") => "filled",
        Some("3") => "done for day",
        Some("4") => "canceled",
        Some("6") => "pending cancel",
        Some("8") => "rejected",
        Some("A") => "pending new",
        Some("C") => "expired",
        Some("E") => "pending replace",
        Some(other) => other,
    }
}

/// `buy 5 UST-10Y @ 99.5 GTC`, `sell 3 EUR/USD at market IOC`.
fn order_text(
    side: &str,
    qty: &str,
    symbol: &str,
    ord_type: &str,
    price: Option<&str>,
    tif: &str,
) -> String {
    let at = match (ord_type, price) {
        ("1", _) | (_, None) => "at market".to_owned(),
        ("3", Some(p)) => format!("stop {p}"),
        ("4", Some(p)) => format!("@ {p} (stop limit)"),
        (_, Some(p)) => format!("@ {p}"),
    };
    format!("{} {qty} {symbol} {at} {}", side_name(side), tif_name(tif))
}

/// `order 17, ClOrdID k9-1`, or only the ClOrdID before there is an order.
fn ids(x: &FixMsg) -> String {
    let cl = x.get(tags::CL_ORD_ID).unwrap_or("?");
    match x.get(tags::ORDER_ID) {
        Some(id) if id != "NONE" && !id.is_empty() => format!("order {id}, ClOrdID {cl}"),
        _ => format!("ClOrdID {cl}"),
    }
}

fn line(label: &str, rest: &str) -> String {
    format!("{label:<9} {rest}")
}

/// An ExecutionReport in one line; `known` (the order as the terminal
/// knew it before this report) fills in what the report leaves out.
pub(crate) fn describe_exec(x: &FixMsg, known: Option<&Order>) -> String {
    let field = |tag| {
        x.get(tag)
            .filter(|v| *v != "[N/A]")
            .or_else(|| known.and_then(|o| o.field(tag)))
    };
    let g = |tag| x.get(tag).unwrap_or("?");
    let symbol = field(tags::SYMBOL).unwrap_or("?");
    let side = field(tags::SIDE).unwrap_or("?");
    let order = order_text(
        side,
        field(tags::ORDER_QTY).unwrap_or("?"),
        symbol,
        field(tags::ORD_TYPE).unwrap_or("2"),
        field(tags::PRICE),
        field(tags::TIME_IN_FORCE).unwrap_or("0"),
    );
    let text = x.get(tags::TEXT);
    let because = text.map_or_else(String::new, |t| format!(": {t}"));
    let exec = x.get(tags::EXEC_ID).unwrap_or("?");
    let ids = ids(x);
    let (leaves, cum, avg) = (g(tags::LEAVES_QTY), g(tags::CUM_QTY), g(tags::AVG_PX));
    match x.get(tags::EXEC_TYPE).unwrap_or("?") {
        "0" => line("NEW", &format!("{order} ({ids})")),
        "F" => {
            let fill = format!(
                "{} {} {symbol} @ {}",
                side_name(side),
                g(tags::LAST_QTY),
                g(tags::LAST_PX)
            );
            if x.get(tags::ORD_STATUS) == Some("2") {
                let total = if x.get(tags::LAST_QTY) == x.get(tags::CUM_QTY) {
                    String::new()
                } else {
                    format!("; order filled: {cum} at an average {avg}")
                };
                line("FILLED", &format!("{fill}{total} ({ids}, exec {exec})"))
            } else {
                line(
                    "PARTIAL",
                    &format!("{fill}; leaves {leaves}, cum {cum}, avg {avg} ({ids}, exec {exec})"),
                )
            }
        }
        "4" => line(
            "CANCELED",
            &format!("{order}{because}; filled {cum} ({ids})"),
        ),
        "5" => line(
            "REPLACED",
            &format!(
                "now {order}; leaves {leaves}, cum {cum} ({ids}, was {})",
                x.get(tags::ORIG_CL_ORD_ID).unwrap_or("?")
            ),
        ),
        "8" => line("REJECTED", &format!("{order}{because} ({ids})")),
        "C" => line(
            "EXPIRED",
            &format!("{order}{because}; filled {cum} ({ids})"),
        ),
        "D" => line(
            "RESTATED",
            &format!("{order}; leaves {leaves}{because} ({ids})"),
        ),
        "L" => line("TRIGGERED", &format!("{order} ({ids})")),
        "I" => {
            let status = status_name(x.get(tags::ORD_STATUS));
            if x.get(tags::ORD_STATUS) == Some("8") && x.get(tags::ORDER_ID) == Some("NONE") {
                line(
                    "STATUS",
                    &format!("{}{because}", x.get(tags::CL_ORD_ID).unwrap_or("?")),
                )
            } else {
                line(
                    "STATUS",
                    &format!(
                        "{status}: {order}; leaves {leaves}, cum {cum}, avg {avg}{because} ({ids})"
                    ),
                )
            }
        }
        other => line(
            "EXEC",
            &format!("ExecType {other}: {order}{because} ({ids}, exec {exec})"),
        ),
    }
}

/// An OrderCancelReject in one line.
pub(crate) fn describe_cancel_reject(x: &FixMsg) -> String {
    let what = if x.get(tags::CXL_REJ_RESPONSE_TO) == Some("2") {
        "REPLACE REJECTED"
    } else {
        "CANCEL REJECTED"
    };
    let named = |tag| x.get(tag).filter(|id| *id != "NONE" && !id.is_empty());
    let order = named(tags::ORDER_ID)
        .or_else(|| named(tags::ORIG_CL_ORD_ID))
        .map_or_else(String::new, |id| format!(" for order {id}"));
    format!(
        "{what}{order}: {} (request {}; order status {})",
        x.get(tags::TEXT).unwrap_or("no reason given"),
        x.get(tags::CL_ORD_ID).unwrap_or("?"),
        status_name(x.get(tags::ORD_STATUS))
    )
}

/// A session-level Reject (35=3) of one of our messages.
pub(crate) fn describe_session_reject(x: &FixMsg) -> String {
    let tag = x
        .get(tags::REF_TAG_ID)
        .map_or_else(String::new, |t| format!(", tag {t}"));
    format!(
        "REJECTED  by the FIX session: our message {} (35={}){tag}: {}",
        x.get(tags::REF_SEQ_NUM).unwrap_or("?"),
        x.get(tags::REF_MSG_TYPE).unwrap_or("?"),
        x.get(tags::TEXT).unwrap_or("no reason given")
    )
}

/// A BusinessMessageReject (35=j) of one of our messages.
pub(crate) fn describe_business_reject(x: &FixMsg) -> String {
    format!(
        "REJECTED  by the venue: our message {} (35={}): {}",
        x.get(tags::REF_SEQ_NUM).unwrap_or("?"),
        x.get(tags::REF_MSG_TYPE).unwrap_or("?"),
        x.get(tags::TEXT).unwrap_or("no reason given")
    )
}

/// An OrderMassCancelReport (35=r).
pub(crate) fn describe_mass_cancel(x: &FixMsg) -> String {
    let scope = x
        .get(tags::SYMBOL)
        .map_or_else(|| "all instruments".to_owned(), str::to_owned);
    if x.get(tags::MASS_CANCEL_RESPONSE) == Some("0") {
        format!(
            "MASS CANCEL REJECTED ({scope}): {} (request {})",
            x.get(tags::TEXT).unwrap_or("no reason given"),
            x.get(tags::CL_ORD_ID).unwrap_or("?")
        )
    } else {
        let n = x.get(tags::TOTAL_AFFECTED_ORDERS).unwrap_or("?");
        format!(
            "MASS CANCEL ({scope}): {n} order{} cancelled (request {})",
            if n == "1" { "" } else { "s" },
            x.get(tags::CL_ORD_ID).unwrap_or("?")
        )
    }
}

/// The `orders` table: live orders, or every order with `all`.
pub(crate) fn render(orders: &[Order], all: bool) -> Vec<String> {
    let shown: Vec<&Order> = orders.iter().filter(|o| all || o.is_live()).collect();
    if shown.is_empty() {
        return vec![if all {
            "no orders yet".to_owned()
        } else {
            "no live orders".to_owned()
        }];
    }
    let header = [
        "ORDER", "CLORDID", "SIDE", "QTY", "SYMBOL", "PRICE", "TIF", "STATUS", "LEAVES", "CUM",
        "AVG PX",
    ];
    let rows: Vec<[String; 11]> = shown
        .iter()
        .map(|o| {
            [
                o.order_id.clone().unwrap_or_else(|| "-".to_owned()),
                o.cl_ord_id.clone(),
                side_name(&o.side).to_owned(),
                o.qty.clone(),
                o.symbol.clone(),
                match (o.ord_type.as_str(), &o.price) {
                    ("1", _) | (_, None) => "market".to_owned(),
                    (_, Some(p)) => p.clone(),
                },
                tif_name(&o.tif).to_owned(),
                status_name(o.status.as_deref()).to_owned(),
                o.leaves.clone(),
                o.cum.clone(),
                o.avg_px.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt_row = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![fmt_row(&mut header.iter().copied())];
    for row in &rows {
        lines.push(fmt_row(&mut row.iter().map(String::as_str)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(fields: &[(u32, &str)]) -> FixMsg {
        FixMsg::of("8", fields)
    }

    fn new_ack() -> FixMsg {
        exec(&[
            (37, "17"),
            (11, "k-1"),
            (17, "5-0"),
            (150, "0"),
            (39, "0"),
            (55, "UST-10Y"),
            (54, "1"),
            (38, "5"),
            (40, "2"),
            (44, "99.515625"),
            (59, "1"),
            (151, "5"),
            (14, "0"),
            (6, "0"),
        ])
    }

    #[test]
    fn a_new_order_is_tracked_from_send_to_fill_and_cancel() {
        let mut orders = Orders::default();
        orders.sent("k-1", "UST-10Y", b'1', b'2', b'1', Some("99.515625"), "5");
        assert_eq!(orders.all()[0].status, None);
        assert!(orders.all()[0].is_live());
        let ack = new_ack();
        assert_eq!(
            describe_exec(&ack, orders.find("k-1")),
            "NEW       buy 5 UST-10Y @ 99.515625 GTC (order 17, ClOrdID k-1)"
        );
        orders.apply(&ack);
        assert_eq!(orders.find("17").map(|o| o.cl_ord_id.as_str()), Some("k-1"));
        assert_eq!(
            orders.find("k-1").and_then(|o| o.order_id.as_deref()),
            Some("17")
        );

        let partial = exec(&[
            (37, "17"),
            (11, "k-1"),
            (17, "6-1"),
            (150, "F"),
            (39, "1"),
            (55, "UST-10Y"),
            (54, "1"),
            (38, "5"),
            (40, "2"),
            (44, "99.515625"),
            (59, "1"),
            (32, "3"),
            (31, "99.515625"),
            (151, "2"),
            (14, "3"),
            (6, "99.515625"),
        ]);
        assert_eq!(
            describe_exec(&partial, None),
            "PARTIAL   buy 3 UST-10Y @ 99.515625; leaves 2, cum 3, avg 99.515625 (order 17, ClOrdID k-1, exec 6-1)"
        );
        orders.apply(&partial);
        let o = orders.find("17").expect("known");
        assert_eq!(
            (
                o.status.as_deref(),
                o.leaves.as_str(),
                o.cum.as_str(),
                o.avg_px.as_str()
            ),
            (Some("1"), "2", "3", "99.515625")
        );
        let lines = render(orders.all(), false);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("ORDER  CLORDID  SIDE  QTY  SYMBOL"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("17") && lines[1].contains("partially filled"),
            "{lines:?}"
        );

        let canceled = exec(&[
            (37, "17"),
            (11, "k-2"),
            (41, "k-1"),
            (17, "7-0"),
            (150, "4"),
            (39, "4"),
            (55, "UST-10Y"),
            (54, "1"),
            (38, "5"),
            (40, "2"),
            (44, "99.515625"),
            (59, "1"),
            (151, "0"),
            (14, "3"),
            (6, "99.515625"),
            (58, "cancelled on request"),
        ]);
        assert_eq!(
            describe_exec(&canceled, None),
            "CANCELED  buy 5 UST-10Y @ 99.515625 GTC: cancelled on request; filled 3 (order 17, ClOrdID k-2)"
        );
        orders.apply(&canceled);
        let o = orders
            .find("k-1")
            .expect("still found by its first ClOrdID");
        assert_eq!(o.cl_ord_id, "k-2");
        assert!(!o.is_live());
        assert_eq!(render(orders.all(), false), ["no live orders"]);
        assert_eq!(render(orders.all(), true).len(), 2);
    }

    #[test]
    fn a_full_fill_says_filled() {
        let fill = exec(&[
            (37, "18"),
            (11, "k-3"),
            (17, "9-2"),
            (150, "F"),
            (39, "2"),
            (55, "EUR/USD"),
            (54, "2"),
            (38, "3000"),
            (40, "2"),
            (44, "1.08515"),
            (59, "3"),
            (32, "3000"),
            (31, "1.0852"),
            (151, "0"),
            (14, "3000"),
            (6, "1.0852"),
        ]);
        assert_eq!(
            describe_exec(&fill, None),
            "FILLED    sell 3000 EUR/USD @ 1.0852 (order 18, ClOrdID k-3, exec 9-2)"
        );
    }

    #[test]
    fn a_rejected_new_order_has_no_order_id() {
        let mut orders = Orders::default();
        orders.sent("k-4", "UST-10Y", b'1', b'2', b'0', Some("99.5001"), "1");
        let reject = exec(&[
            (37, "NONE"),
            (11, "k-4"),
            (17, "GW-1"),
            (150, "8"),
            (39, "8"),
            (103, "99"),
            (55, "UST-10Y"),
            (54, "1"),
            (151, "0"),
            (14, "0"),
            (6, "0"),
            (
                58,
                "price 99.5001 is not a multiple of the tick size 0.0078125 of UST-10Y",
            ),
        ]);
        assert_eq!(
            describe_exec(&reject, orders.find("k-4")),
            "REJECTED  buy 1 UST-10Y @ 99.5001 DAY: price 99.5001 is not a multiple of the tick size 0.0078125 of UST-10Y (ClOrdID k-4)"
        );
        orders.apply(&reject);
        let o = orders.find("k-4").expect("known");
        assert_eq!(o.status.as_deref(), Some("8"));
        assert!(!o.is_live());
    }

    #[test]
    fn a_status_of_an_order_not_seen_before_adds_it() {
        let mut orders = Orders::default();
        let mut status = new_ack();
        for (t, v) in &mut status.fields {
            if *t == 150 {
                *v = "I".to_owned();
            }
        }
        assert_eq!(
            describe_exec(&status, None),
            "STATUS    new: buy 5 UST-10Y @ 99.515625 GTC; leaves 5, cum 0, avg 0 (order 17, ClOrdID k-1)"
        );
        orders.apply(&status);
        assert_eq!(
            orders.find("17").map(|o| o.symbol.as_str()),
            Some("UST-10Y")
        );
        let unknown = exec(&[
            (37, "NONE"),
            (11, "nope"),
            (150, "I"),
            (39, "8"),
            (55, "[N/A]"),
            (58, "unknown order"),
        ]);
        assert_eq!(
            describe_exec(&unknown, None),
            "STATUS    nope: unknown order"
        );
        orders.apply(&unknown);
        assert_eq!(orders.all().len(), 1);
    }

    #[test]
    fn rejects_and_reports_read_well() {
        let cxl = FixMsg::of(
            "9",
            &[
                (37, "17"),
                (11, "k-9"),
                (41, "k-1"),
                (39, "2"),
                (434, "1"),
                (102, "0"),
                (58, "order is no longer live"),
            ],
        );
        assert_eq!(
            describe_cancel_reject(&cxl),
            "CANCEL REJECTED for order 17: order is no longer live (request k-9; order status filled)"
        );
        let unknown = FixMsg::of(
            "9",
            &[
                (37, "NONE"),
                (11, "k-8"),
                (41, "NONE"),
                (39, "8"),
                (434, "2"),
                (58, "unknown order"),
            ],
        );
        assert_eq!(
            describe_cancel_reject(&unknown),
            "REPLACE REJECTED: unknown order (request k-8; order status rejected)"
        );
        let rj = FixMsg::of(
            "3",
            &[
                (45, "4"),
                (371, "44"),
                (372, "D"),
                (58, "Incorrect data format"),
            ],
        );
        assert_eq!(
            describe_session_reject(&rj),
            "REJECTED  by the FIX session: our message 4 (35=D), tag 44: Incorrect data format"
        );
        let bj = FixMsg::of("j", &[(45, "5"), (372, "H"), (58, "x")]);
        assert_eq!(
            describe_business_reject(&bj),
            "REJECTED  by the venue: our message 5 (35=H): x"
        );
        let mc = FixMsg::of("r", &[(11, "k-5"), (531, "7"), (533, "2")]);
        assert_eq!(
            describe_mass_cancel(&mc),
            "MASS CANCEL (all instruments): 2 orders cancelled (request k-5)"
        );
    }
}
