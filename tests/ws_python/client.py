#!/usr/bin/python3
"""An independent client of the venue's WebSocket API (docs/websocket-api.md).

Written from the document alone, in Python with the `websockets` library
and PyNaCl for Ed25519 (Debian: python3-websockets, python3-nacl); it shares
no code with the venue. tests/ws_python.rs runs it against a venue started
in-process:

    /usr/bin/python3 tests/ws_python/client.py ws://127.0.0.1:9879/ \
        examples/keys/participant-1.key 1

It reads `hello`, logs in with an Ed25519 signature, subscribes to the
UST-10Y book (depth 5), places a GTC limit buy at the decimal price 100.5,
checks the `exec` acknowledgement and the book update (levels, numbering and
the CRC-32 checksum recomputed here), sends one malformed request and checks
the error, cancels the order and checks the cancel and the book again, and
checks a heartbeat's stream numbers. On success it prints one line of JSON
and exits 0; on any mismatch it says what differed on stderr and exits 1.
Every wait has a timeout. With WS_CLIENT_TRACE=1 in the environment it
also shows every frame it sends and receives on stderr.
"""

import asyncio
import json
import os
import re
import struct
import sys
import time
import zlib
from decimal import Decimal

import nacl.signing
import websockets

SYMBOL = "UST-10Y"
CHANNEL = "book." + SYMBOL
DEPTH = 5
PRICE = "100.5"
QTY = "5"
WAIT_S = 10.0
TRACE = os.environ.get("WS_CLIENT_TRACE") == "1"


class Mismatch(Exception):
    """Something the venue sent is not what the document says."""


def expect(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: got {got!r}, expected {want!r}")


def checksum(bids, asks):
    """The document's book checksum: CRC-32 (zlib) over 17 bytes a level."""
    data = b"".join(b"B" + struct.pack("<qQ", p, q) for p, q in bids)
    data += b"".join(b"A" + struct.pack("<qQ", p, q) for p, q in asks)
    return zlib.crc32(data)


class Book:
    """A level-2 copy of one book channel, kept from its messages."""

    def __init__(self, depth):
        self.depth = depth
        self.bids = {}  # price_ticks -> (qty_lots, orders)
        self.asks = {}
        self.seq = None

    def apply(self, msg):
        expect("book channel", msg.get("channel"), CHANNEL)
        if msg["snapshot"]:
            self.bids.clear()
            self.asks.clear()
        else:
            expect("book update prev_seq (no gap)", msg.get("prev_seq"), self.seq)
        for side, levels in ((self.bids, msg["bids"]), (self.asks, msg["asks"])):
            for level in levels:
                if len(level) != 3:
                    raise Mismatch(f"a book level is [price, qty, orders], got {level!r}")
                price, qty, orders = level
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = (qty, orders)
        self.seq = msg["seq"]
        mine = checksum(self.top_bids(), self.top_asks())
        expect(f"checksum of the book after seq {self.seq}", msg.get("checksum"), mine)
        return mine

    def top_bids(self):
        return [(p, self.bids[p][0]) for p in sorted(self.bids, reverse=True)[: self.depth]]

    def top_asks(self):
        return [(p, self.asks[p][0]) for p in sorted(self.asks)[: self.depth]]


class Conn:
    """One connection: messages wait here until something asks for them."""

    def __init__(self, ws):
        self.ws = ws
        self.pending = []

    async def send(self, obj):
        text = json.dumps(obj)
        if TRACE:
            print(f"> {text}", file=sys.stderr)
        await self.ws.send(text)

    async def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError
        frame = await asyncio.wait_for(self.ws.recv(), left)
        if TRACE:
            print(f"< {frame}", file=sys.stderr)
        if not isinstance(frame, str):
            raise Mismatch(f"the venue sent a binary frame: {frame!r}")
        msg = json.loads(frame)
        if not isinstance(msg, dict) or "type" not in msg:
            raise Mismatch(f"not a message object: {frame}")
        return msg

    async def next(self, what, pred, timeout=WAIT_S):
        """The first message (buffered or new) for which `pred` holds."""
        for i, msg in enumerate(self.pending):
            if pred(msg):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = await self._read(deadline)
            except asyncio.TimeoutError:
                raise Mismatch(
                    f"no {what} within {timeout} s; other messages: {self.pending!r}"
                ) from None
            if pred(msg):
                return msg
            # Heartbeats nobody waited for are dropped; anything else waits.
            if msg["type"] != "heartbeat":
                self.pending.append(msg)

    async def next_type(self, ty, timeout=WAIT_S):
        return await self.next(repr(ty), lambda m: m["type"] == ty, timeout)


def read_seed(path):
    with open(path, encoding="ascii") as f:
        text = f.read().strip()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise Mismatch(f"{path}: not a 32-byte hex seed")
    return bytes.fromhex(text)


async def run(url, key_path, participant):
    key = nacl.signing.SigningKey(read_seed(key_path))
    summary = {"ok": True, "participant": participant}
    # The library's defaults otherwise (it offers permessage-deflate, which
    # the venue may decline), as an ordinary client would connect.
    async with websockets.connect(url, open_timeout=WAIT_S, close_timeout=5) as ws:
        c = Conn(ws)
        if TRACE:
            print(f"# extensions: {ws.extensions!r}", file=sys.stderr)

        # The server speaks first.
        hello = await c.next_type("hello")
        challenge = hello.get("challenge")
        if not isinstance(challenge, str) or not re.fullmatch(r"[0-9a-f]{64}", challenge):
            raise Mismatch(f"hello's challenge is not 32 bytes of lowercase hex: {hello}")
        summary["venue"] = hello.get("venue")

        # Instruments: the tick size, to convert the decimal price ourselves.
        await c.send({"op": "instruments", "req_id": "i-1"})
        inst = await c.next_type("instruments")
        expect("instruments req_id", inst.get("req_id"), "i-1")
        ust = [i for i in inst["instruments"] if i["symbol"] == SYMBOL]
        if len(ust) != 1:
            raise Mismatch(f"{SYMBOL} not listed once in {inst}")
        ticks = Decimal(PRICE) / Decimal(ust[0]["tick_size"])
        lots = Decimal(QTY) / Decimal(ust[0]["lot_size"])
        if ticks != ticks.to_integral_value() or lots != lots.to_integral_value():
            raise Mismatch(f"{PRICE} x {QTY} is not whole ticks and lots of {ust[0]}")
        price_ticks, qty_lots = int(ticks), int(lots)
        expect("100.5 in ticks of 1/128", price_ticks, 12864)

        # Log in: Ed25519 over venue-ws-login:{participant}:{timestamp_ms}:{challenge}.
        ts = int(time.time() * 1000)
        payload = f"venue-ws-login:{participant}:{ts}:{challenge}".encode()
        signature = key.sign(payload).signature.hex()
        expect("signature length (hex digits)", len(signature), 128)
        await c.send(
            {
                "op": "login",
                "participant": participant,
                "timestamp_ms": ts,
                "signature": signature,
                "req_id": 1,
            }
        )
        li = await c.next("logged_in or error", lambda m: m["type"] in ("logged_in", "error"))
        if li["type"] != "logged_in":
            raise Mismatch(f"login refused: {li}")
        expect("logged_in participant", li.get("participant"), participant)
        expect("logged_in req_id", li.get("req_id"), 1)
        pseq = li.get("pseq")
        expect("logged_in pseq on a fresh venue", pseq, 0)

        # Market data: the snapshot of an empty book.
        await c.send({"op": "subscribe", "channel": CHANNEL, "depth": DEPTH, "req_id": "s-1"})
        sub = await c.next_type("subscribed")
        expect("subscribed", (sub.get("channel"), sub.get("depth"), sub.get("req_id")),
               (CHANNEL, DEPTH, "s-1"))
        book = Book(DEPTH)
        snap = await c.next_type("book")
        expect("first book message is a snapshot", snap.get("snapshot"), True)
        book.apply(snap)
        expect("empty book's levels", (snap["bids"], snap["asks"]), ([], []))
        expect("empty book's checksum", snap["checksum"], 0)
        checksums = [snap["checksum"]]

        # A GTC limit buy at a decimal price.
        await c.send(
            {
                "op": "new_order",
                "cl_ord_id": "py-1",
                "symbol": SYMBOL,
                "side": "buy",
                "ord_type": "limit",
                "tif": "gtc",
                "price": PRICE,
                "qty": QTY,
            }
        )
        ack = await c.next_type("exec")
        want = {
            "exec_type": "new",
            "ord_status": "new",
            "cl_ord_id": "py-1",
            "symbol": SYMBOL,
            "side": "buy",
            "ord_type": "limit",
            "tif": "gtc",
            "price_ticks": price_ticks,
            "qty_lots": qty_lots,
            "leaves_qty_lots": qty_lots,
            "cum_qty_lots": 0,
            "cum_notional": "0",
            "pseq": 1,
            "prev_pseq": 0,
            "reason": None,
        }
        for k, v in want.items():
            expect(f"ack {k} ({ack})", ack.get(k), v)
        order_id = ack.get("order_id")
        if not isinstance(order_id, int) or order_id <= 0:
            raise Mismatch(f"ack order_id: {ack}")
        pseq = ack["pseq"]

        # The book shows the level, and its checksum is ours.
        up = await c.next_type("book")
        expect("update is not a snapshot", up.get("snapshot"), False)
        checksums.append(book.apply(up))
        expect("bids after the order", book.bids, {price_ticks: (qty_lots, 1)})
        expect("asks after the order", book.asks, {})
        expect("the update's levels", (up["bids"], up["asks"]), ([[price_ticks, qty_lots, 1]], []))
        if up["checksum"] == 0:
            raise Mismatch("a non-empty book has checksum 0")
        if up.get("engine_seq", -1) < ack["engine_seq"]:
            raise Mismatch(f"the book update {up} is older than the input {ack}")

        # A malformed request: new_order without "side".
        await c.send(
            {
                "op": "new_order",
                "cl_ord_id": "py-bad",
                "symbol": SYMBOL,
                "price": PRICE,
                "qty": QTY,
                "req_id": "bad-1",
            }
        )
        err = await c.next_type("error")
        expect("error code", err.get("code"), "missing_field")
        expect("error req_id", err.get("req_id"), "bad-1")
        if not err.get("message"):
            raise Mismatch(f"error without a message: {err}")

        # Cancel; the refused request took no private sequence number.
        await c.send({"op": "cancel", "cl_ord_id": "py-1c", "orig_cl_ord_id": "py-1"})
        can = await c.next_type("exec")
        want = {
            "exec_type": "canceled",
            "ord_status": "canceled",
            "order_id": order_id,
            "cl_ord_id": "py-1c",
            "orig_cl_ord_id": "py-1",
            "leaves_qty_lots": 0,
            "cum_qty_lots": 0,
            "pseq": pseq + 1,
            "prev_pseq": pseq,
        }
        for k, v in want.items():
            expect(f"cancel {k} ({can})", can.get(k), v)
        reason = can.get("reason")
        if not isinstance(reason, dict) or reason.get("code") != "client_request":
            raise Mismatch(f"cancel reason: {can}")
        pseq = can["pseq"]

        gone = await c.next_type("book")
        expect("the removal's levels", (gone["bids"], gone["asks"]), ([[price_ticks, 0, 0]], []))
        checksums.append(book.apply(gone))
        expect("book after the cancel", (book.bids, book.asks), ({}, {}))
        expect("empty book's checksum after the cancel", gone["checksum"], 0)

        # A heartbeat (every heartbeat_ms) carries the streams' last numbers.
        period_s = hello.get("heartbeat_ms", 1000) / 1000
        hb = await c.next(
            "a heartbeat after the cancel",
            lambda m: m["type"] == "heartbeat"
            and m.get("channels", {}).get(CHANNEL) == book.seq,
            timeout=3 * period_s + 1,
        )
        expect("heartbeat pseq", hb.get("pseq"), pseq)

        if c.pending:
            raise Mismatch(f"unexpected messages: {c.pending!r}")

        summary.update(
            {
                "order_id": order_id,
                "price_ticks": price_ticks,
                "qty_lots": qty_lots,
                "pseq": pseq,
                "book_seq": book.seq,
                "checksums": checksums,
                "error_code": err["code"],
            }
        )
    return summary


def main(argv):
    if len(argv) != 4:
        print(f"usage: {argv[0]} WS_URL KEY_FILE PARTICIPANT_ID", file=sys.stderr)
        return 2
    url, key_path, participant = argv[1], argv[2], int(argv[3])
    try:
        # The whole run is bounded too, whatever happens inside.
        summary = asyncio.run(asyncio.wait_for(run(url, key_path, participant), 60))
    except Mismatch as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        return 1
    except asyncio.TimeoutError:
        print("FAILED: the client did not finish within 60 s", file=sys.stderr)
        return 1
    except Exception as e:  # connection refused, closed by the server, bad JSON...
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
