//! TEMPORARY minimal dictionary (replaced by the full FIX 4.4 dictionary).

use super::codec::Message;

/// FIX 4.4 SessionRejectReason(373).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum SessionRejectReason {
    /// 0
    InvalidTagNumber = 0,
    /// 1
    RequiredTagMissing = 1,
    /// 2
    TagNotDefinedForMsgType = 2,
    /// 3
    UndefinedTag = 3,
    /// 4
    TagWithoutValue = 4,
    /// 5
    ValueOutOfRange = 5,
    /// 6
    IncorrectDataFormat = 6,
    /// 9
    CompIdProblem = 9,
    /// 10
    SendingTimeAccuracy = 10,
    /// 11
    InvalidMsgType = 11,
    /// 13
    TagAppearsMoreThanOnce = 13,
    /// 14
    TagOutOfOrder = 14,
    /// 16
    IncorrectNumInGroup = 16,
    /// 99
    Other = 99,
}

/// A session-level reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionReject {
    /// RefTagID(371).
    pub ref_tag: Option<u32>,
    /// SessionRejectReason(373).
    pub reason: SessionRejectReason,
    /// Text(58).
    pub text: &'static str,
}

impl SessionReject {
    /// A reject with the reason's standard text.
    #[must_use]
    pub fn new(ref_tag: Option<u32>, reason: SessionRejectReason) -> SessionReject {
        SessionReject {
            ref_tag,
            reason,
            text: "invalid message",
        }
    }
}

/// The outcome of validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid.
    Ok,
    /// Session-level reject.
    Reject(SessionReject),
    /// A valid FIX 4.4 MsgType the venue does not accept.
    UnsupportedMsgType,
}

/// Validates a message.
#[must_use]
pub fn validate(msg: &Message<'_>) -> Validation {
    if let Some(d) = msg.defect() {
        return Validation::Reject(d);
    }
    match msg.msg_type() {
        b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A" | b"D" | b"F" | b"G" | b"H" | b"q"
        | b"AF" | b"x" => Validation::Ok,
        b"8" | b"9" | b"j" | b"r" | b"y" | b"V" | b"R" | b"E" | b"AE" => {
            Validation::UnsupportedMsgType
        }
        _ => Validation::Reject(SessionReject::new(
            Some(35),
            SessionRejectReason::InvalidMsgType,
        )),
    }
}
