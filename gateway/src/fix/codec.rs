//! The FIX 4.4 wire codec: framing a TCP byte stream into messages, parsing
//! a message into a field index, typed field access, and encoding.
//!
//! # Framing
//! [`frame`] looks at the start of a read buffer and says whether a whole
//! message is there ([`Framing::Complete`]), more bytes are needed, the
//! message is too large, or the bytes are garbled and how many to discard to
//! reach the next `<SOH>8=FIX` (so the session can ignore a garbled message
//! without advancing its sequence numbers, as FIX requires). A message is
//! `8=...<SOH>9=len<SOH>` then `len` bytes of body (from `35=` through the
//! `<SOH>` before `10=`), then `10=ddd<SOH>`, where `ddd` is the sum of all
//! bytes before `10=` modulo 256, exactly three digits. `frame` never
//! allocates, looks at each byte at most a constant number of times, and
//! never reads past `max_len` bytes of a message.
//!
//! # Parsing
//! [`parse`] splits a framed message into (tag, value range) pairs in a
//! caller-owned [`FieldBuf`], so that steady-state parsing allocates nothing.
//! Structural damage (no `=`, a field without its `<SOH>`, the first three
//! tags not 8, 9, 35, `10` not last) is a [`ParseError`]: the message is
//! garbled and must be ignored. Damage to one field (an empty value, a tag
//! that is not a positive number, a data length that does not fit) is not:
//! the message still parses, so the session can read `MsgSeqNum` and answer
//! with a session-level Reject, and the first such defect is reported by
//! [`super::dict::validate`]. Length-prefixed data fields (`EncodedText` after
//! `EncodedTextLen`, ...) are read by their declared length and may contain
//! `<SOH>`.
//!
//! Field lookup ([`Message::get`]) is a linear scan: a new order has about
//! twenty fields, and a scan of twenty 12-byte entries is a few cache lines.
//!
//! # Encoding
//! [`Encoder`] writes fields into a reusable buffer that starts with room
//! for the header; [`Encoder::finish`] writes `8=` and `9=` right-aligned in
//! that room, so the body is never moved, and appends the checksum.

use std::fmt;

use engine::Decimal;

use super::decimal::{self, DecimalError, RatioOverflow};
use super::dict::{SessionReject, SessionRejectReason};
use super::tags;
use super::time;

/// The FIX field delimiter.
pub const SOH: u8 = 0x01;

/// The longest `BeginString` value accepted by [`frame`] (`FIXT.1.1` is 8).
const BEGIN_STRING_LEN_MAX: usize = 16;
/// The most digits accepted in `BodyLength`.
const BODY_LENGTH_DIGITS_MAX: usize = 9;
/// `10=ddd<SOH>`.
const TRAILER_LEN: usize = 7;

/// What [`frame`] found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The buffer holds the beginning of a message; read more.
    Incomplete,
    /// The first `len` bytes are one whole message with a valid body length
    /// and checksum.
    Complete {
        /// Length of the message, `8=` through the final `<SOH>`.
        len: usize,
    },
    /// The first bytes are not a valid message: discard `skip` bytes (at
    /// least one) and frame again.
    Garbled {
        /// How many bytes to discard: up to the next `<SOH>8=FIX`, or all
        /// but a tail that could begin one.
        skip: usize,
        /// What was wrong.
        reason: Garbled,
    },
    /// The message declares a length above the limit; the stream cannot be
    /// trusted (the usual answer is a Logout and a disconnect).
    TooLarge {
        /// The whole message length implied by `BodyLength`.
        declared: usize,
    },
}

/// Why bytes could not be framed as a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbled {
    /// The buffer does not start with `8=FIX`, or `BeginString` has no
    /// `<SOH>` within 16 bytes.
    BadBeginString,
    /// `BodyLength` is missing its digits, not a number, or does not end
    /// where `10=` begins.
    BadBodyLength,
    /// The checksum does not match the bytes.
    ChecksumMismatch,
    /// The checksum is not exactly three digits followed by `<SOH>`.
    ChecksumFormat,
    /// A `10=ddd` field appears before the end of the message.
    ChecksumNotLast,
    /// `BeginString`, `BodyLength` and `MsgType` are not the first three
    /// fields, in that order.
    FirstTagsOutOfOrder,
}

impl fmt::Display for Garbled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Garbled::BadBeginString => "message does not start with 8=FIX...<SOH>",
            Garbled::BadBodyLength => "BodyLength(9) does not match the message",
            Garbled::ChecksumMismatch => "CheckSum(10) does not match the message",
            Garbled::ChecksumFormat => "CheckSum(10) is not three digits",
            Garbled::ChecksumNotLast => "CheckSum(10) is not the last field",
            Garbled::FirstTagsOutOfOrder => {
                "BeginString(8), BodyLength(9), MsgType(35) are not the first three fields"
            }
        })
    }
}

impl std::error::Error for Garbled {}

const START: &[u8] = b"\x018=FIX";

/// How many bytes to discard from a garbled buffer: up to the `8` of the
/// next `<SOH>8=FIX` after the first byte, or, if there is none, everything
/// except a tail that could be the beginning of one. Always at least one.
fn resync(buf: &[u8]) -> usize {
    let mut i = 0;
    while i < buf.len() {
        match buf[i..].iter().position(|&b| b == SOH) {
            None => break,
            Some(p) => i += p,
        }
        let rest = &buf[i..];
        if rest.len() >= START.len() {
            if rest.starts_with(START) {
                return (i + 1).max(1);
            }
        } else if START.starts_with(rest) {
            // A possible start cut off by the end of the buffer: keep it.
            return i.max(1);
        }
        i += 1;
    }
    buf.len().max(1)
}

fn garbled(buf: &[u8], reason: Garbled) -> Framing {
    Framing::Garbled {
        skip: resync(buf),
        reason,
    }
}

/// Finds the first complete message at the start of `buf` (a TCP read
/// buffer); `max_len` bounds the length of one message.
///
/// Never panics and never allocates. An empty buffer is
/// [`Framing::Incomplete`].
#[must_use]
pub fn frame(buf: &[u8], max_len: usize) -> Framing {
    const BEGIN: &[u8] = b"8=FIX";
    if buf.len() < BEGIN.len() {
        return if BEGIN.starts_with(buf) {
            Framing::Incomplete
        } else {
            garbled(buf, Garbled::BadBeginString)
        };
    }
    if !buf.starts_with(BEGIN) {
        return garbled(buf, Garbled::BadBeginString);
    }
    // BeginString value ends at the first SOH.
    let search = &buf[..buf.len().min(2 + BEGIN_STRING_LEN_MAX + 1)];
    let Some(begin_end) = search.iter().position(|&b| b == SOH) else {
        return if buf.len() > 2 + BEGIN_STRING_LEN_MAX {
            garbled(buf, Garbled::BadBeginString)
        } else {
            Framing::Incomplete
        };
    };
    // BodyLength: "9=" digits SOH.
    let p = begin_end + 1;
    let rest = &buf[p..];
    if rest.len() < 2 {
        return if b"9=".starts_with(rest) {
            Framing::Incomplete
        } else {
            garbled(buf, Garbled::FirstTagsOutOfOrder)
        };
    }
    if !rest.starts_with(b"9=") {
        return garbled(buf, Garbled::FirstTagsOutOfOrder);
    }
    let digits_start = p + 2;
    let mut body_len: usize = 0;
    let mut i = digits_start;
    loop {
        let Some(&b) = buf.get(i) else {
            return Framing::Incomplete;
        };
        if b == SOH {
            break;
        }
        if !b.is_ascii_digit() || i - digits_start == BODY_LENGTH_DIGITS_MAX {
            return garbled(buf, Garbled::BadBodyLength);
        }
        body_len = body_len * 10 + usize::from(b - b'0');
        i += 1;
    }
    if i == digits_start {
        return garbled(buf, Garbled::BadBodyLength);
    }
    let body_start = i + 1;
    let total = body_start + body_len + TRAILER_LEN;
    if total > max_len {
        return Framing::TooLarge { declared: total };
    }
    // MsgType must open the body; check as soon as the bytes are here.
    let head = &buf[body_start.min(buf.len())..buf.len().min(body_start + 3)];
    if !b"35=".starts_with(head) {
        return garbled(buf, Garbled::FirstTagsOutOfOrder);
    }
    if buf.len() < total {
        return Framing::Incomplete;
    }
    let body_end = body_start + body_len;
    let trailer = &buf[body_end..total];
    if body_len < 5 || buf[body_end - 1] != SOH || !trailer.starts_with(b"10=") {
        return garbled(buf, misplaced_checksum(buf, body_start, body_end));
    }
    let sum_text = &trailer[3..6];
    if trailer[6] != SOH || !sum_text.iter().all(u8::is_ascii_digit) {
        return garbled(buf, Garbled::ChecksumFormat);
    }
    let declared = sum_text
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    if declared != u32::from(checksum(&buf[..body_end])) {
        return garbled(buf, Garbled::ChecksumMismatch);
    }
    Framing::Complete { len: total }
}

/// Why `10=` is not where `BodyLength` says: a `<SOH>10=ddd<SOH>` inside the
/// body followed by more fields (not a new message) means the checksum is
/// not last; anything else means `BodyLength` is wrong.
fn misplaced_checksum(buf: &[u8], body_start: usize, body_end: usize) -> Garbled {
    let body = &buf[body_start.saturating_sub(1)..body_end.min(buf.len())];
    let mut i = 0;
    while let Some(p) = body[i..].windows(4).position(|w| w == b"\x0110=") {
        let at = i + p;
        let field = &body[at + 1..];
        let well_formed = field.len() >= TRAILER_LEN
            && field[3..6].iter().all(u8::is_ascii_digit)
            && field[6] == SOH;
        if well_formed {
            let after = &field[TRAILER_LEN..];
            if !after.is_empty() && !after.starts_with(b"8=FIX") {
                return Garbled::ChecksumNotLast;
            }
        }
        i = at + 1;
    }
    Garbled::BadBodyLength
}

/// The FIX checksum of `bytes`: their sum modulo 256.
#[must_use]
pub fn checksum(bytes: &[u8]) -> u8 {
    // A wrapping u32 sum vectorizes, and wrapping is harmless: 2^32 is a
    // multiple of 256.
    let sum = bytes
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_add(u32::from(b)));
    (sum % 256) as u8
}

/// One field of a parsed message: its tag and where its value lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    tag: u32,
    start: u32,
    end: u32,
}

/// A reusable index of one message's fields, owned by the caller so that
/// parsing allocates nothing once it has grown to the largest message seen.
#[derive(Debug, Default)]
pub struct FieldBuf {
    fields: Vec<Field>,
}

impl FieldBuf {
    /// An empty index.
    #[must_use]
    pub fn new() -> FieldBuf {
        FieldBuf::default()
    }

    /// An empty index with room for `fields` fields.
    #[must_use]
    pub fn with_capacity(fields: usize) -> FieldBuf {
        FieldBuf {
            fields: Vec::with_capacity(fields),
        }
    }
}

/// Why a framed message could not be parsed: it is garbled and, like a
/// message that fails framing, must be ignored without a Reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A field has no `=` before its `<SOH>`.
    #[error("a field has no '=' at byte {offset}")]
    MissingEquals {
        /// Offset of the field's first byte.
        offset: usize,
    },
    /// The message does not end with a `<SOH>`.
    #[error("the last field is not terminated by <SOH>")]
    Unterminated,
    /// The first three fields are not 8, 9, 35.
    #[error("BeginString(8), BodyLength(9), MsgType(35) are not the first three fields")]
    FirstTagsOutOfOrder,
    /// `10` is not the last field, or appears twice.
    #[error("CheckSum(10) is not the last field")]
    ChecksumNotLast,
    /// The message is longer than 4 GiB.
    #[error("message too long to index")]
    TooLong,
}

/// The data field that a length field announces (`EncodedTextLen` →
/// `EncodedText`, ...): FIX 4.4's `LENGTH`/`DATA` pairs.
#[must_use]
pub fn data_tag_for_length(length_tag: u32) -> Option<u32> {
    Some(match length_tag {
        90 => 91,
        93 => 89,
        95 => 96,
        212 => 213,
        348 => 349,
        350 => 351,
        352 => 353,
        354 => 355,
        356 => 357,
        358 => 359,
        360 => 361,
        362 => 363,
        364 => 365,
        445 => 446,
        618 => 619,
        621 => 622,
        _ => return None,
    })
}

/// The tag number in `text`: ASCII digits, no sign, no leading zero, not
/// zero, below 2^32.
fn parse_tag(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || text[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok()
}

fn defect(slot: &mut Option<SessionReject>, ref_tag: Option<u32>, reason: SessionRejectReason) {
    if slot.is_none() {
        *slot = Some(SessionReject::new(ref_tag, reason));
    }
}

/// Parses a message that [`frame`] accepted into `fields`.
///
/// # Errors
/// A [`ParseError`] when the message is structurally garbled; see the module
/// documentation for what is a defect instead.
pub fn parse<'a>(msg: &'a [u8], fields: &'a mut FieldBuf) -> Result<Message<'a>, ParseError> {
    if u32::try_from(msg.len()).is_err() {
        return Err(ParseError::TooLong);
    }
    let out = &mut fields.fields;
    out.clear();
    let mut found_defect = None;
    // A data field announced by the previous field: (tag, length).
    let mut pending_data: Option<(u32, usize)> = None;
    let mut pos = 0;
    while pos < msg.len() {
        let Some(eq_off) = msg[pos..].iter().position(|&b| b == b'=' || b == SOH) else {
            return Err(ParseError::Unterminated);
        };
        let eq = pos + eq_off;
        if msg[eq] != b'=' {
            return Err(ParseError::MissingEquals { offset: pos });
        }
        let tag = parse_tag(&msg[pos..eq]);
        let value_start = eq + 1;
        let data = pending_data.take();
        let value_end = match data {
            Some((data_tag, len)) if tag == Some(data_tag) => {
                let end = value_start.saturating_add(len);
                if msg.get(end) == Some(&SOH) {
                    Some(end)
                } else {
                    defect(
                        &mut found_defect,
                        Some(data_tag),
                        SessionRejectReason::IncorrectDataFormat,
                    );
                    None
                }
            }
            _ => None,
        };
        let value_end = match value_end {
            Some(end) => end,
            None => match msg[value_start..].iter().position(|&b| b == SOH) {
                Some(p) => value_start + p,
                None => return Err(ParseError::Unterminated),
            },
        };
        match tag {
            None => defect(
                &mut found_defect,
                None,
                SessionRejectReason::InvalidTagNumber,
            ),
            Some(tag) => {
                if value_end == value_start {
                    defect(
                        &mut found_defect,
                        Some(tag),
                        SessionRejectReason::TagWithoutValue,
                    );
                }
                if let Some(data_tag) = data_tag_for_length(tag) {
                    let len = parse_tag(&msg[value_start..value_end])
                        .map(|v| v as usize)
                        .or_else(|| (&msg[value_start..value_end] == b"0").then_some(0));
                    pending_data = len.map(|len| (data_tag, len));
                }
                out.push(Field {
                    tag,
                    start: value_start as u32,
                    end: value_end as u32,
                });
            }
        }
        pos = value_end + 1;
    }
    let first_three = out.len() >= 4
        && out[0].tag == tags::BEGIN_STRING
        && out[1].tag == tags::BODY_LENGTH
        && out[2].tag == tags::MSG_TYPE;
    if !first_three {
        return Err(ParseError::FirstTagsOutOfOrder);
    }
    let (last, rest) = out.split_last().expect("at least four fields");
    if last.tag != tags::CHECK_SUM || rest.iter().any(|f| f.tag == tags::CHECK_SUM) {
        return Err(ParseError::ChecksumNotLast);
    }
    Ok(Message {
        raw: msg,
        fields: &fields.fields,
        defect: found_defect,
    })
}

/// Why a field's value could not be read as the requested type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tag {tag}: {kind}")]
pub struct FieldError {
    /// The field's tag.
    pub tag: u32,
    /// What was wrong.
    pub kind: FieldErrorKind,
}

/// What was wrong with a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldErrorKind {
    /// Not of the type's form (letters in an integer, a two-letter char).
    #[error("incorrect data format")]
    Format,
    /// Of the right form but outside what the type can hold (an integer
    /// above 2^64, 30 February, a boolean other than Y or N).
    #[error("value out of range")]
    Range,
}

impl FieldError {
    /// The session-level Reject that answers this error.
    #[must_use]
    pub fn reject(&self) -> SessionReject {
        let reason = match self.kind {
            FieldErrorKind::Format => SessionRejectReason::IncorrectDataFormat,
            FieldErrorKind::Range => SessionRejectReason::ValueOutOfRange,
        };
        SessionReject::new(Some(self.tag), reason)
    }
}

/// A parsed message: a view over its bytes and the [`FieldBuf`] that
/// indexes them.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    raw: &'a [u8],
    fields: &'a [Field],
    defect: Option<SessionReject>,
}

fn parse_u64_digits(b: &[u8]) -> Option<Result<u64, FieldErrorKind>> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
        {
            Some(n) => v = n,
            None => return Some(Err(FieldErrorKind::Range)),
        }
    }
    Some(Ok(v))
}

impl<'a> Message<'a> {
    fn value(&self, f: &Field) -> &'a [u8] {
        &self.raw[f.start as usize..f.end as usize]
    }

    /// The whole message as received.
    #[must_use]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// `BeginString` (8).
    #[must_use]
    pub fn begin_string(&self) -> &'a [u8] {
        self.value(&self.fields[0])
    }

    /// `MsgType` (35).
    #[must_use]
    pub fn msg_type(&self) -> &'a [u8] {
        self.value(&self.fields[2])
    }

    /// The value of the first field with `tag`.
    #[must_use]
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|f| f.tag == tag)
            .map(|f| self.value(f))
    }

    /// Every field in wire order, including 8, 9, 35 and 10. Fields whose
    /// tag is not a positive number are not listed (they are a defect).
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (u32, &'a [u8])> + '_ {
        self.fields.iter().map(|f| (f.tag, self.value(f)))
    }

    /// How many fields [`Message::fields`] lists.
    #[must_use]
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The first field-level defect found while parsing (an empty value, a
    /// tag that is not a positive number, a wrong data length), which
    /// [`super::dict::validate`] reports before anything else.
    #[must_use]
    pub fn defect(&self) -> Option<SessionReject> {
        self.defect
    }

    /// `MsgSeqNum` (34), if present and a number.
    #[must_use]
    pub fn seq_num(&self) -> Option<u64> {
        self.get_u64(tags::MSG_SEQ_NUM).ok().flatten()
    }

    /// An unsigned integer field (`SeqNum`, `Length`, `NumInGroup`, a
    /// non-negative `int`).
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] unless ASCII digits only,
    /// [`FieldErrorKind::Range`] above `u64::MAX`.
    pub fn get_u64(&self, tag: u32) -> Result<Option<u64>, FieldError> {
        let Some(v) = self.get(tag) else {
            return Ok(None);
        };
        match parse_u64_digits(v) {
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(kind)) => Err(FieldError { tag, kind }),
            None => Err(FieldError {
                tag,
                kind: FieldErrorKind::Format,
            }),
        }
    }

    /// A signed integer field (`int`): an optional `-` and digits.
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] for anything else,
    /// [`FieldErrorKind::Range`] outside `i64`.
    pub fn get_i64(&self, tag: u32) -> Result<Option<i64>, FieldError> {
        let Some(v) = self.get(tag) else {
            return Ok(None);
        };
        let (neg, digits) = match v.strip_prefix(b"-") {
            Some(d) => (true, d),
            None => (false, v),
        };
        let err = |kind| FieldError { tag, kind };
        let magnitude = match parse_u64_digits(digits) {
            Some(Ok(n)) => n,
            Some(Err(kind)) => return Err(err(kind)),
            None => return Err(err(FieldErrorKind::Format)),
        };
        let n = if neg {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        n.map(Some).ok_or(err(FieldErrorKind::Range))
    }

    /// A `char` field: exactly one byte.
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] for any other length.
    pub fn get_char(&self, tag: u32) -> Result<Option<u8>, FieldError> {
        match self.get(tag) {
            None => Ok(None),
            Some(&[c]) => Ok(Some(c)),
            Some(_) => Err(FieldError {
                tag,
                kind: FieldErrorKind::Format,
            }),
        }
    }

    /// A `Boolean` field: `Y` or `N`.
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] unless one byte, [`FieldErrorKind::Range`]
    /// for a byte other than `Y` or `N`.
    pub fn get_bool(&self, tag: u32) -> Result<Option<bool>, FieldError> {
        match self.get_char(tag)? {
            None => Ok(None),
            Some(b'Y') => Ok(Some(true)),
            Some(b'N') => Ok(Some(false)),
            Some(_) => Err(FieldError {
                tag,
                kind: FieldErrorKind::Range,
            }),
        }
    }

    /// A text field as `&str`: printable ASCII and spaces only (what the
    /// venue stores in identifiers and echoes back).
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] for any other byte.
    pub fn get_str(&self, tag: u32) -> Result<Option<&'a str>, FieldError> {
        let Some(v) = self.get(tag) else {
            return Ok(None);
        };
        if !v.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
            return Err(FieldError {
                tag,
                kind: FieldErrorKind::Format,
            });
        }
        // Printable ASCII is valid UTF-8.
        std::str::from_utf8(v).map(Some).map_err(|_| FieldError {
            tag,
            kind: FieldErrorKind::Format,
        })
    }

    /// A `UTCTimestamp` field in nanoseconds since the Unix epoch (0, 3, 6
    /// or 9 fractional digits).
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] for a malformed text,
    /// [`FieldErrorKind::Range`] for an instant that does not exist or lies
    /// outside 1970..=2499.
    pub fn get_utc_timestamp_ns(&self, tag: u32) -> Result<Option<u64>, FieldError> {
        let Some(v) = self.get(tag) else {
            return Ok(None);
        };
        time::parse_utc_timestamp_ns(v)
            .map(Some)
            .map_err(|e| FieldError {
                tag,
                kind: match e {
                    time::TimeError::Format => FieldErrorKind::Format,
                    time::TimeError::Range => FieldErrorKind::Range,
                },
            })
    }

    /// A `float`/`Qty`/`Price` field as a sign (`true`: negative and not
    /// zero) and an exact magnitude; see [`decimal::parse_decimal`].
    ///
    /// # Errors
    /// [`FieldErrorKind::Format`] for anything but FIX `float` syntax,
    /// [`FieldErrorKind::Range`] for more than 18 significant decimals or a
    /// mantissa above `u64::MAX`.
    pub fn get_decimal(&self, tag: u32) -> Result<Option<(bool, Decimal)>, FieldError> {
        let Some(v) = self.get(tag) else {
            return Ok(None);
        };
        decimal::parse_decimal(v).map(Some).map_err(|e| FieldError {
            tag,
            kind: match e {
                DecimalError::Format => FieldErrorKind::Format,
                DecimalError::Range => FieldErrorKind::Range,
            },
        })
    }
}

/// Builds messages in a reusable buffer.
///
/// ```
/// use gateway::fix::codec::{Encoder, frame, Framing};
/// use gateway::fix::tags;
/// let mut enc = Encoder::new();
/// enc.start(b"FIX.4.4", b"0");
/// enc.str(tags::SENDER_COMP_ID, b"VENUE");
/// enc.str(tags::TARGET_COMP_ID, b"CLIENT");
/// enc.u64(tags::MSG_SEQ_NUM, 7);
/// enc.timestamp_us(tags::SENDING_TIME, 1_700_000_000_000_000_000);
/// let msg = enc.finish();
/// assert_eq!(frame(msg, 4096), Framing::Complete { len: msg.len() });
/// ```
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    begin_string: Vec<u8>,
    /// Bytes reserved before the body for `8=...<SOH>9=...<SOH>`.
    header_room: usize,
    /// Where the finished message starts inside `buf`.
    start: usize,
    finished: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

/// `9=` and up to ten digits and `<SOH>`, beyond `8=`, the BeginString and
/// its `<SOH>`.
const HEADER_FIXED_ROOM: usize = 2 + 1 + 2 + 10 + 1;

fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Encoder {
    /// An encoder with a 1 KiB buffer.
    #[must_use]
    pub fn new() -> Encoder {
        Encoder {
            buf: Vec::with_capacity(1024),
            begin_string: Vec::with_capacity(16),
            header_room: 0,
            start: 0,
            finished: true,
        }
    }

    /// Begins a message: everything written before is discarded. `MsgType`
    /// is written at once; `BeginString` and `BodyLength` at
    /// [`Encoder::finish`].
    pub fn start(&mut self, begin_string: &[u8], msg_type: &[u8]) {
        debug_assert!(!begin_string.contains(&SOH));
        self.begin_string.clear();
        self.begin_string.extend_from_slice(begin_string);
        self.header_room = begin_string.len() + HEADER_FIXED_ROOM;
        self.buf.clear();
        self.buf.resize(self.header_room, 0);
        self.finished = false;
        self.str(tags::MSG_TYPE, msg_type);
    }

    fn tag(&mut self, tag: u32) {
        debug_assert!(!self.finished, "field written outside start..finish");
        debug_assert!(tag > 0);
        write_u64(&mut self.buf, u64::from(tag));
        self.buf.push(b'=');
    }

    /// A field with the value's bytes as they are; `v` must not contain
    /// `<SOH>` (use [`Encoder::data`] for binary data).
    pub fn str(&mut self, tag: u32, v: &[u8]) {
        debug_assert!(!v.contains(&SOH), "tag {tag}: value contains SOH");
        self.tag(tag);
        self.buf.extend_from_slice(v);
        self.buf.push(SOH);
    }

    /// An unsigned integer field.
    pub fn u64(&mut self, tag: u32, v: u64) {
        self.tag(tag);
        write_u64(&mut self.buf, v);
        self.buf.push(SOH);
    }

    /// A signed integer field.
    pub fn i64(&mut self, tag: u32, v: i64) {
        self.tag(tag);
        if v < 0 {
            self.buf.push(b'-');
        }
        write_u64(&mut self.buf, v.unsigned_abs());
        self.buf.push(SOH);
    }

    /// A `char` field.
    pub fn char(&mut self, tag: u32, v: u8) {
        debug_assert!(v != SOH);
        self.tag(tag);
        self.buf.push(v);
        self.buf.push(SOH);
    }

    /// A `Boolean` field: `Y` or `N`.
    pub fn bool(&mut self, tag: u32, v: bool) {
        self.char(tag, if v { b'Y' } else { b'N' });
    }

    /// A `UTCTimestamp` with microseconds: `YYYYMMDD-HH:MM:SS.ffffff`.
    pub fn timestamp_us(&mut self, tag: u32, ns_since_epoch: u64) {
        self.timestamp(tag, ns_since_epoch, 6);
    }

    /// A `UTCTimestamp` with milliseconds, the precision FIX 4.4 itself
    /// defines, for counterparties that accept no more.
    pub fn timestamp_ms(&mut self, tag: u32, ns_since_epoch: u64) {
        self.timestamp(tag, ns_since_epoch, 3);
    }

    fn timestamp(&mut self, tag: u32, ns_since_epoch: u64, frac_digits: u32) {
        let mut text = [0u8; 30];
        let n = time::write_utc_timestamp(&mut text, ns_since_epoch, frac_digits);
        self.tag(tag);
        self.buf.extend_from_slice(&text[..n]);
        self.buf.push(SOH);
    }

    /// A price (or any `float`) field: the exact decimal text of
    /// `ticks * tick_size`, `-` for negatives, no trailing zeros.
    pub fn ticks(&mut self, tag: u32, ticks: i64, tick_size: Decimal) {
        self.tag(tag);
        decimal::write_ticks(&mut self.buf, ticks, tick_size);
        self.buf.push(SOH);
    }

    /// A decimal value with its sign, exactly (for echoing a client's value).
    pub fn decimal(&mut self, tag: u32, negative: bool, value: Decimal) {
        self.tag(tag);
        decimal::write_decimal(&mut self.buf, negative, value);
        self.buf.push(SOH);
    }

    /// `num / den * unit` rounded half-to-even to `decimals` places (for
    /// `AvgPx`: cumulative notional in tick-lots over cumulative lots, in
    /// ticks of `unit`). `den == 0` writes `0`.
    ///
    /// # Errors
    /// [`RatioOverflow`] if the value is too large to write (see
    /// [`decimal::write_ratio`]); the field is then not written.
    pub fn ratio(
        &mut self,
        tag: u32,
        num: i128,
        den: u64,
        unit: Decimal,
        decimals: u8,
    ) -> Result<(), RatioOverflow> {
        let mark = self.buf.len();
        self.tag(tag);
        match decimal::write_ratio(&mut self.buf, num, den, unit, decimals) {
            Ok(()) => {
                self.buf.push(SOH);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(mark);
                Err(e)
            }
        }
    }

    /// A length-prefixed data pair: `length_tag` with the byte count, then
    /// `data_tag` with the bytes, which may contain `<SOH>`.
    pub fn data(&mut self, length_tag: u32, data_tag: u32, v: &[u8]) {
        self.u64(length_tag, v.len() as u64);
        self.tag(data_tag);
        self.buf.extend_from_slice(v);
        self.buf.push(SOH);
    }

    /// Fills in `BeginString`, the exact `BodyLength` and the `CheckSum`, and
    /// returns the whole message. The body is not moved: the header is
    /// written right-aligned into the room [`Encoder::start`] reserved.
    ///
    /// # Panics
    /// If called without [`Encoder::start`] (a caller's bug).
    pub fn finish(&mut self) -> &[u8] {
        assert!(!self.finished, "finish without start");
        self.finished = true;
        let body_len = (self.buf.len() - self.header_room) as u64;
        // Build "8=<begin><SOH>9=<len><SOH>" right-aligned.
        let mut len_digits = [0u8; 20];
        let mut i = len_digits.len();
        let mut v = body_len;
        loop {
            i -= 1;
            len_digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let len_text = &len_digits[i..];
        let header_len = 2 + self.begin_string.len() + 1 + 2 + len_text.len() + 1;
        assert!(header_len <= self.header_room, "body longer than 10 digits");
        let start = self.header_room - header_len;
        let mut w = start;
        for part in [
            b"8=".as_slice(),
            &self.begin_string,
            &[SOH],
            b"9=",
            len_text,
            &[SOH],
        ] {
            self.buf[w..w + part.len()].copy_from_slice(part);
            w += part.len();
        }
        debug_assert_eq!(w, self.header_room);
        let sum = checksum(&self.buf[start..]);
        self.buf.extend_from_slice(b"10=");
        self.buf.push(b'0' + sum / 100);
        self.buf.push(b'0' + sum / 10 % 10);
        self.buf.push(b'0' + sum % 10);
        self.buf.push(SOH);
        self.start = start;
        &self.buf[start..]
    }

    /// The last finished message (empty before the first).
    #[must_use]
    pub fn message(&self) -> &[u8] {
        if self.finished {
            &self.buf[self.start..]
        } else {
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::testing::{soh, wire, wire_with};

    const MAX: usize = 4096;

    fn heartbeat() -> Vec<u8> {
        wire("35=0|49=A|56=B|34=1|52=20240101-00:00:00|")
    }

    fn garbled_reason(buf: &[u8]) -> (usize, Garbled) {
        match frame(buf, MAX) {
            Framing::Garbled { skip, reason } => (skip, reason),
            other => panic!(
                "expected garbled, got {other:?} for {:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    #[test]
    fn frames_a_whole_message_and_stops_at_its_end() {
        let m = heartbeat();
        assert_eq!(frame(&m, MAX), Framing::Complete { len: m.len() });
        let mut two = m.clone();
        two.extend_from_slice(&wire("35=1|49=A|56=B|34=2|52=20240101-00:00:00|112=x|"));
        assert_eq!(frame(&two, MAX), Framing::Complete { len: m.len() });
        assert_eq!(
            frame(&two[m.len()..], MAX),
            Framing::Complete {
                len: two.len() - m.len()
            }
        );
    }

    #[test]
    fn every_proper_prefix_is_incomplete() {
        let m = heartbeat();
        for n in 0..m.len() {
            assert_eq!(frame(&m[..n], MAX), Framing::Incomplete, "prefix {n}");
        }
    }

    #[test]
    fn bad_begin_string_skips_to_the_next_message() {
        let m = heartbeat();
        let mut buf = soh("garbage|");
        buf.extend_from_slice(&m);
        assert_eq!(garbled_reason(&buf), (8, Garbled::BadBeginString));
        assert_eq!(frame(&buf[8..], MAX), Framing::Complete { len: m.len() });
        // Not FIX at all, and no start anywhere: discard everything.
        assert_eq!(
            garbled_reason(b"GET / HTTP/1.1\r\n"),
            (16, Garbled::BadBeginString)
        );
        // A start cut off at the end of the buffer is kept.
        let buf = soh("xx|8=FI");
        assert_eq!(garbled_reason(&buf), (2, Garbled::BadBeginString));
        assert_eq!(garbled_reason(&buf[2..]), (1, Garbled::BadBeginString));
        assert_eq!(frame(&buf[3..], MAX), Framing::Incomplete);
        // A BeginString that never ends.
        assert_eq!(
            garbled_reason(b"8=FIX.4.4.4.4.4.4.4.4.4.4").1,
            Garbled::BadBeginString
        );
        // "8=FIX" inside a field value is not a start: only <SOH>8=FIX is
        // (the final SOH is kept: it could begin one).
        let buf = soh("x|58=FIX is great|");
        assert_eq!(
            garbled_reason(&buf),
            (buf.len() - 1, Garbled::BadBeginString)
        );
    }

    #[test]
    fn wrong_body_length_is_garbled() {
        let good = heartbeat();
        let text = String::from_utf8(good.clone()).unwrap();
        let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
        // One too many: the expected "10=" position holds "0=", so garbled
        // once enough bytes have arrived.
        let mut longer = text
            .replacen(&format!("9={len}"), &format!("9={}", len + 1), 1)
            .into_bytes();
        assert_eq!(frame(&longer, MAX), Framing::Incomplete);
        let next = heartbeat();
        longer.extend_from_slice(&next);
        let (skip, reason) = garbled_reason(&longer);
        assert_eq!(reason, Garbled::BadBodyLength);
        assert_eq!(
            frame(&longer[skip..], MAX),
            Framing::Complete { len: next.len() }
        );
        // One too few.
        let shorter = text.replacen(&format!("9={len}"), &format!("9={}", len - 1), 1);
        assert_eq!(garbled_reason(shorter.as_bytes()).1, Garbled::BadBodyLength);
        // Not digits, empty, too many digits.
        for bad in [
            "8=FIX.4.4|9=x|35=0|10=000|",
            "8=FIX.4.4|9=|35=0|10=000|",
            "8=FIX.4.4|9=1234567890|",
        ] {
            assert_eq!(garbled_reason(&soh(bad)).1, Garbled::BadBodyLength, "{bad}");
        }
        // Too short to hold a MsgType.
        assert_eq!(
            garbled_reason(&soh("8=FIX.4.4|9=4|35=0|10=000|")).1,
            Garbled::BadBodyLength
        );
    }

    #[test]
    fn checksum_errors_are_garbled() {
        let good = heartbeat();
        let n = good.len();
        let mut bad = good.clone();
        bad[n - 2] = if bad[n - 2] == b'9' {
            b'0'
        } else {
            bad[n - 2] + 1
        };
        assert_eq!(garbled_reason(&bad).1, Garbled::ChecksumMismatch);
        // A flipped body byte.
        let mut bad = good.clone();
        bad[20] ^= 0x20;
        assert_eq!(garbled_reason(&bad).1, Garbled::ChecksumMismatch);
        // Not three digits.
        let mut bad = good.clone();
        bad[n - 4] = b'a';
        assert_eq!(garbled_reason(&bad).1, Garbled::ChecksumFormat);
        let mut bad = good[..n - 2].to_vec(); // "10=dd" then next message's byte
        bad.extend_from_slice(&soh("|"));
        bad.extend_from_slice(b"8");
        assert_eq!(garbled_reason(&bad).1, Garbled::ChecksumFormat);
    }

    #[test]
    fn checksum_before_the_end_is_not_last() {
        // BodyLength covers a "10=" field followed by more body fields.
        let body = soh("35=0|49=A|10=123|56=B|");
        let mut m = soh(&format!("8=FIX.4.4|9={}|", body.len()));
        m.extend_from_slice(&body);
        m.extend_from_slice(&soh("34=1|xx"));
        assert_eq!(garbled_reason(&m).1, Garbled::ChecksumNotLast);
    }

    #[test]
    fn first_three_tags_must_be_8_9_35() {
        let m = soh("8=FIX.4.4|35=0|9=5|");
        assert_eq!(garbled_reason(&m).1, Garbled::FirstTagsOutOfOrder);
        let m = wire("34=1|35=0|49=A|56=B|52=20240101-00:00:00|");
        assert_eq!(garbled_reason(&m).1, Garbled::FirstTagsOutOfOrder);
        // Detected before the whole body has arrived.
        assert_eq!(
            garbled_reason(&soh("8=FIX.4.4|9=500|34=")).1,
            Garbled::FirstTagsOutOfOrder
        );
    }

    #[test]
    fn declared_length_above_the_limit_is_too_large() {
        let m = soh("8=FIX.4.4|9=100000|35=D|");
        // "8=FIX.4.4|9=100000|" is 19 bytes, the trailer 7.
        assert_eq!(
            frame(&m, MAX),
            Framing::TooLarge {
                declared: 19 + 100_000 + 7
            }
        );
        let hb = heartbeat();
        assert_eq!(frame(&hb, hb.len()), Framing::Complete { len: hb.len() });
        assert_eq!(
            frame(&hb, hb.len() - 1),
            Framing::TooLarge { declared: hb.len() }
        );
    }

    #[test]
    fn fixt_begin_string_frames() {
        let m = wire_with("FIXT.1.1", "35=0|49=A|56=B|34=1|52=20240101-00:00:00|");
        assert_eq!(frame(&m, MAX), Framing::Complete { len: m.len() });
    }

    #[test]
    fn parses_fields_in_wire_order() {
        let m = wire(
            "35=D|49=CLIENT|56=VENUE|34=12|52=20240101-00:00:00|11=abc|55=EURUSD|54=1|38=100|",
        );
        let mut fb = FieldBuf::with_capacity(32);
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.begin_string(), b"FIX.4.4");
        assert_eq!(msg.msg_type(), b"D");
        assert_eq!(msg.seq_num(), Some(12));
        assert_eq!(msg.get(tags::CL_ORD_ID), Some(&b"abc"[..]));
        assert_eq!(msg.get(tags::PRICE), None);
        let tags: Vec<u32> = msg.fields().map(|(t, _)| t).collect();
        assert_eq!(tags, [8, 9, 35, 49, 56, 34, 52, 11, 55, 54, 38, 10]);
        assert_eq!(msg.raw(), &m[..]);
        assert_eq!(msg.defect(), None);
    }

    #[test]
    fn first_occurrence_wins() {
        let m = wire("35=0|49=A|56=B|34=1|52=20240101-00:00:00|58=one|58=two|");
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.get(58), Some(&b"one"[..]));
        assert_eq!(msg.fields().filter(|&(t, _)| t == 58).count(), 2);
    }

    #[test]
    fn field_defects_do_not_stop_the_parse() {
        let mut fb = FieldBuf::new();
        let m = wire("35=D|49=A|56=B|34=9|52=20240101-00:00:00|55=|");
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.seq_num(), Some(9));
        assert_eq!(
            msg.defect(),
            Some(SessionReject::new(
                Some(55),
                SessionRejectReason::TagWithoutValue
            ))
        );
        for bad_tag in ["x5", "0", "-1", "055", "4294967296", "1.5"] {
            let m = wire(&format!(
                "35=D|49=A|56=B|34=9|52=20240101-00:00:00|{bad_tag}=1|"
            ));
            let msg = parse(&m, &mut fb).unwrap();
            assert_eq!(
                msg.defect(),
                Some(SessionReject::new(
                    None,
                    SessionRejectReason::InvalidTagNumber
                )),
                "{bad_tag}"
            );
            assert_eq!(msg.seq_num(), Some(9));
        }
    }

    #[test]
    fn structural_damage_is_a_parse_error() {
        let mut fb = FieldBuf::new();
        assert_eq!(
            parse(&soh("8=FIX.4.4|9=5|35=0|49|10=000|"), &mut fb).err(),
            Some(ParseError::MissingEquals { offset: 19 })
        );
        assert_eq!(
            parse(&soh("8=FIX.4.4|9=5|35=0|10=000"), &mut fb).err(),
            Some(ParseError::Unterminated)
        );
        assert_eq!(
            parse(&soh("8=FIX.4.4|35=0|9=5|10=000|"), &mut fb).err(),
            Some(ParseError::FirstTagsOutOfOrder)
        );
        assert_eq!(
            parse(&soh("8=FIX.4.4|9=5|35=0|10=000|58=x|"), &mut fb).err(),
            Some(ParseError::ChecksumNotLast)
        );
        assert_eq!(
            parse(&soh("8=FIX.4.4|9=5|35=0|10=000|10=000|"), &mut fb).err(),
            Some(ParseError::ChecksumNotLast)
        );
        assert_eq!(
            parse(b"", &mut fb).err(),
            Some(ParseError::FirstTagsOutOfOrder)
        );
    }

    #[test]
    fn data_fields_may_contain_soh() {
        let m = wire("35=0|49=A|56=B|34=1|52=20240101-00:00:00|354=5|355=a|b=c|58=t|");
        assert_eq!(frame(&m, MAX), Framing::Complete { len: m.len() });
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.get(355), Some(&soh("a|b=c")[..]));
        assert_eq!(msg.get(58), Some(&b"t"[..]));
        assert_eq!(msg.defect(), None);
        // A length that does not end on a delimiter: a format defect on the data.
        let m = wire("35=0|49=A|56=B|34=1|52=20240101-00:00:00|354=3|355=abcd|");
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.get(355), Some(&b"abcd"[..]));
        assert_eq!(
            msg.defect(),
            Some(SessionReject::new(
                Some(355),
                SessionRejectReason::IncorrectDataFormat
            ))
        );
    }

    #[test]
    fn typed_getters() {
        let m = wire(concat!(
            "35=D|49=A|56=B|34=1|52=20240101-00:00:00.5|",
            "1=18446744073709551616|2=-42|3=-9223372036854775809|4=xy|5=Y|6=N|7=Q|",
            "8000=caf\u{e9}|8001=plain text|60=20240229-23:59:59.999999|",
            "44=-101.25|38=1e5|",
        ));
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).unwrap();
        let fmt = |tag| FieldError {
            tag,
            kind: FieldErrorKind::Format,
        };
        let range = |tag| FieldError {
            tag,
            kind: FieldErrorKind::Range,
        };
        assert_eq!(msg.get_u64(34), Ok(Some(1)));
        assert_eq!(msg.get_u64(999), Ok(None));
        assert_eq!(msg.get_u64(1), Err(range(1)));
        assert_eq!(msg.get_u64(2), Err(fmt(2)));
        assert_eq!(msg.get_i64(2), Ok(Some(-42)));
        assert_eq!(msg.get_i64(3), Err(range(3)));
        assert_eq!(msg.get_char(4), Err(fmt(4)));
        assert_eq!(msg.get_char(7), Ok(Some(b'Q')));
        assert_eq!(msg.get_bool(5), Ok(Some(true)));
        assert_eq!(msg.get_bool(6), Ok(Some(false)));
        assert_eq!(msg.get_bool(7), Err(range(7)));
        assert_eq!(msg.get_bool(4), Err(fmt(4)));
        assert_eq!(msg.get_str(8000), Err(fmt(8000)));
        assert_eq!(msg.get_str(8001), Ok(Some("plain text")));
        assert_eq!(msg.get_utc_timestamp_ns(52), Err(fmt(52)));
        assert_eq!(
            msg.get_utc_timestamp_ns(60),
            Ok(Some(
                time::parse_utc_timestamp_ns(b"20240229-23:59:59.999999").unwrap()
            ))
        );
        assert_eq!(
            msg.get_decimal(44),
            Ok(Some((
                true,
                Decimal {
                    mantissa: 10125,
                    scale: 2
                }
            )))
        );
        assert_eq!(msg.get_decimal(38), Err(fmt(38)));
        assert_eq!(
            fmt(38).reject(),
            SessionReject::new(Some(38), SessionRejectReason::IncorrectDataFormat)
        );
        assert_eq!(
            range(7).reject(),
            SessionReject::new(Some(7), SessionRejectReason::ValueOutOfRange)
        );
    }

    #[test]
    fn encoder_writes_exact_length_and_checksum() {
        let mut enc = Encoder::new();
        enc.start(b"FIX.4.4", b"0");
        enc.str(tags::SENDER_COMP_ID, b"A");
        enc.str(tags::TARGET_COMP_ID, b"B");
        enc.u64(tags::MSG_SEQ_NUM, 1);
        enc.str(tags::SENDING_TIME, b"20240101-00:00:00");
        assert_eq!(enc.finish(), &heartbeat()[..]);
        assert_eq!(enc.message(), &heartbeat()[..]);
    }

    #[test]
    fn encoder_formats_values() {
        let mut enc = Encoder::new();
        let tick = Decimal {
            mantissa: 25,
            scale: 2,
        };
        enc.start(b"FIX.4.4", b"8");
        enc.i64(1, -7);
        enc.i64(2, i64::MIN);
        enc.u64(3, u64::MAX);
        enc.char(4, b'2');
        enc.bool(5, true);
        enc.bool(6, false);
        enc.timestamp_us(7, 1_234_567_890_123_456_789);
        enc.timestamp_ms(8, 1_234_567_890_123_456_789);
        enc.ticks(44, -405, tick);
        enc.ticks(31, 4, tick);
        enc.ratio(
            6,
            201,
            2,
            Decimal {
                mantissa: 1,
                scale: 2,
            },
            2,
        )
        .unwrap();
        enc.decimal(
            38,
            false,
            Decimal {
                mantissa: 1500,
                scale: 3,
            },
        );
        enc.data(354, 355, &soh("x|y"));
        let m = enc.finish().to_vec();
        assert_eq!(frame(&m, MAX), Framing::Complete { len: m.len() });
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).unwrap();
        let got: Vec<(u32, Vec<u8>)> = msg.fields().map(|(t, v)| (t, v.to_vec())).collect();
        let want: Vec<(u32, Vec<u8>)> = [
            (8, &b"FIX.4.4"[..]),
            (9, format!("{}", m.len() - 7 - 16).as_bytes()),
            (35, b"8"),
            (1, b"-7"),
            (2, b"-9223372036854775808"),
            (3, b"18446744073709551615"),
            (4, b"2"),
            (5, b"Y"),
            (6, b"N"),
            (7, b"20090213-23:31:30.123456"),
            (8, b"20090213-23:31:30.123"),
            (44, b"-101.25"),
            (31, b"1"),
            (6, b"1"),
            (38, b"1.5"),
            (354, b"3"),
            (355, &soh("x|y")),
        ]
        .iter()
        .map(|(t, v)| (*t, v.to_vec()))
        .collect();
        assert_eq!(&got[..want.len()], &want[..]);
        assert_eq!(got.len(), want.len() + 1);
        // "8=FIX.4.4|9=NNN|" is 16 bytes for a three-digit body length.
        assert!(m.starts_with(&soh(&format!("8=FIX.4.4|9={}|35=8|", m.len() - 7 - 16))));
    }

    #[test]
    fn encoder_body_length_has_no_leading_zeros_at_any_size() {
        let mut enc = Encoder::new();
        for n in [0usize, 1, 5, 80, 95, 990, 9_990, 99_990] {
            enc.start(b"FIX.4.4", b"0");
            enc.str(58, &vec![b'x'; n]);
            let m = enc.finish().to_vec();
            assert_eq!(frame(&m, 1 << 20), Framing::Complete { len: m.len() });
            let body_len = 5 + 4 + n; // "35=0|" and "58=" ... "|"
            assert!(m.starts_with(&soh(&format!("8=FIX.4.4|9={body_len}|35=0|"))));
        }
    }

    #[test]
    fn ratio_overflow_writes_no_field() {
        let mut enc = Encoder::new();
        enc.start(b"FIX.4.4", b"8");
        let huge = Decimal {
            mantissa: u64::MAX,
            scale: 0,
        };
        assert!(enc.ratio(6, i128::MAX, 1, huge, 18).is_err());
        enc.u64(14, 0);
        let m = enc.finish().to_vec();
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).unwrap();
        assert_eq!(msg.get(6), None);
        assert_eq!(msg.get(14), Some(&b"0"[..]));
    }
}
