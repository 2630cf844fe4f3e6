//! The FIX 4.4 data dictionary of the venue, and session-level validation
//! against it (the checks whose failure is a Reject(3) with a
//! SessionRejectReason(373)).
//!
//! # What the dictionary holds
//! The standard header and trailer; the admin messages (0, 1, 2, 3, 4, 5,
//! A); the application messages the venue accepts (D, F, G, H, q, AF, x and
//! j); and those it sends (8, 9, r, y, j), so that tests can check the
//! venue's own output. Inbound application messages list every field and
//! component FIX 4.4 defines for them (Parties, Instrument with its
//! alternative ids and events, FinancingDetails, UnderlyingInstrument,
//! OrderQtyData, CommissionData, Stipulations, Peg and Discretion
//! instructions, ...) so that a QuickFIX or QuickFIX/J initiator is not
//! rejected for a normal field. Required fields are those of the FIX 4.4
//! specification: a required Instrument component requires `Symbol`, and a
//! required OrderQtyData requires `OrderQty` on new orders and replaces (the
//! venue takes no cash or percentage quantities) but not on a cancel.
//!
//! Tables are written as Rust constants (components shared between
//! messages, as in the specification) and compiled once, at first use, into
//! sorted per-scope indexes ([`warm_up`] forces that at start-up, so the
//! first message does not pay for it).
//!
//! # What validation checks, in order
//! 1. a field-level defect found by the parser: an empty value (4), a tag
//!    that is not a positive number (0), a data length that does not fit (6);
//! 2. `MsgType` is a FIX 4.4 message type (11);
//! 3. field by field, in wire order: the tag exists in FIX 4.4 (3); it is
//!    defined for the message (2); header fields come before the body and
//!    `SignatureLength`/`Signature` after it (14); no tag repeats outside a
//!    repeating group (13); a group entry starts with its first field (15)
//!    and the number of entries matches `NumInGroup` (16); the value has the
//!    type's form (6) and, for enumerations, one of its values (5);
//! 4. required header and body fields are present (1).
//!
//! A valid FIX 4.4 message type outside the dictionary (for the direction
//! checked) is [`Validation::UnsupportedMsgType`] after its header has been
//! checked: the answer is a BusinessMessageReject (380=3), not a Reject.
//!
//! Not checked here, because they need session state: CompIDs (9),
//! SendingTime accuracy (10), the BeginString value, sequence numbers.
//!
//! Cost: one pass over the fields with a binary search per field in the
//! message's index (about 8 comparisons for a NewOrderSingle); no allocation.

use std::sync::LazyLock;

use super::codec::Message;
use super::decimal;
use super::tags::*;
use super::time;

/// SessionRejectReason (373) values, as FIX 4.4 numbers them.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionRejectReason {
    /// The tag is not a positive number.
    InvalidTagNumber = 0,
    /// A required field is missing.
    RequiredTagMissing = 1,
    /// The tag exists in FIX 4.4 but not in this message type.
    TagNotDefinedForMsgType = 2,
    /// The tag is not a FIX 4.4 field.
    UndefinedTag = 3,
    /// The field has no value (`55=<SOH>`).
    TagWithoutValue = 4,
    /// The value is not one the field allows.
    ValueOutOfRange = 5,
    /// The value does not have the field type's form.
    IncorrectDataFormat = 6,
    /// SenderCompID/TargetCompID do not match the session (for the session
    /// layer).
    CompIdProblem = 9,
    /// SendingTime is too far from the venue's clock (for the session layer).
    SendingTimeAccuracy = 10,
    /// MsgType is not a FIX 4.4 message type.
    InvalidMsgType = 11,
    /// A tag appears twice outside a repeating group.
    TagAppearsMoreThanOnce = 13,
    /// A header field after the body, or a trailer field before its end.
    TagOutOfOrder = 14,
    /// A repeating group entry does not start with the group's first field.
    RepeatingGroupFieldsOutOfOrder = 15,
    /// The number of group entries does not match NumInGroup.
    IncorrectNumInGroup = 16,
    /// Anything else.
    Other = 99,
}

impl SessionRejectReason {
    /// The FIX value of tag 373.
    #[must_use]
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The reason's name as FIX gives it, for `Text` (58).
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Self::InvalidTagNumber => "Invalid tag number",
            Self::RequiredTagMissing => "Required tag missing",
            Self::TagNotDefinedForMsgType => "Tag not defined for this message type",
            Self::UndefinedTag => "Undefined tag",
            Self::TagWithoutValue => "Tag specified without a value",
            Self::ValueOutOfRange => "Value is incorrect (out of range) for this tag",
            Self::IncorrectDataFormat => "Incorrect data format for value",
            Self::CompIdProblem => "CompID problem",
            Self::SendingTimeAccuracy => "SendingTime accuracy problem",
            Self::InvalidMsgType => "Invalid MsgType",
            Self::TagAppearsMoreThanOnce => "Tag appears more than once",
            Self::TagOutOfOrder => "Tag specified out of required order",
            Self::RepeatingGroupFieldsOutOfOrder => "Repeating group fields out of order",
            Self::IncorrectNumInGroup => "Incorrect NumInGroup count for repeating group",
            Self::Other => "Other",
        }
    }
}

/// What a session-level Reject (35=3) should say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionReject {
    /// RefTagID (371): the offending tag, when there is one with a number.
    pub ref_tag: Option<u32>,
    /// SessionRejectReason (373).
    pub reason: SessionRejectReason,
    /// Text (58).
    pub text: &'static str,
}

impl SessionReject {
    /// A reject with the reason's standard text.
    #[must_use]
    pub fn new(ref_tag: Option<u32>, reason: SessionRejectReason) -> SessionReject {
        SessionReject {
            ref_tag,
            reason,
            text: reason.text(),
        }
    }
}

/// The outcome of [`validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// The message is well formed for its type.
    Ok,
    /// Answer with a session-level Reject.
    Reject(SessionReject),
    /// A valid FIX 4.4 MsgType the venue does not accept (in this
    /// direction): answer with a BusinessMessageReject, reason 3.
    UnsupportedMsgType,
}

/// Which messages a validation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From a client: admin messages, D, F, G, H, q, AF, x, j.
    Inbound,
    /// From the venue: admin messages, 8, 9, r, y, j.
    Outbound,
}

/// FIX 4.4 field types, as far as validation distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `int` (an optional `-` and digits), also `DayOfMonth`.
    Int,
    /// `SeqNum`, `Length`, `NumInGroup`: digits only.
    Unsigned,
    /// `float`, `Qty`, `Price`, `PriceOffset`, `Amt`, `Percentage`.
    Float,
    /// `char`: one byte.
    Char,
    /// `Boolean`: `Y` or `N`.
    Boolean,
    /// `UTCTimestamp`.
    UtcTimestamp,
    /// `LocalMktDate`, `UTCDateOnly`: `YYYYMMDD`.
    Date,
    /// `MonthYear`: `YYYYMM`, `YYYYMMDD` or `YYYYMMwN`.
    MonthYear,
    /// `String`, `Currency`, `Exchange`, `Country`, `data` and anything else
    /// without a checked form.
    String,
    /// `MultipleValueString`: values separated by single spaces.
    MultipleValueString,
}

/// The values an enumerated field allows.
#[derive(Clone, Copy, Debug)]
enum Values {
    Any,
    /// One of these bytes.
    Chars(&'static [u8]),
    /// Space-separated single bytes, each one of these.
    MultiChars(&'static [u8]),
    /// One of these integers.
    Ints(&'static [i64]),
}

use FieldType as T;

/// The type and allowed values of every field the dictionary uses; `None`
/// for tags it does not know (they are in no message).
fn field_info(tag: u32) -> Option<(FieldType, Values)> {
    use Values::*;
    let any = |t| Some((t, Any));
    match tag {
        BEGIN_STRING | MSG_TYPE | CHECK_SUM => any(T::String),
        BODY_LENGTH
        | MSG_SEQ_NUM
        | BEGIN_SEQ_NO
        | END_SEQ_NO
        | NEW_SEQ_NO
        | REF_SEQ_NUM
        | LAST_MSG_SEQ_NUM_PROCESSED
        | NEXT_EXPECTED_MSG_SEQ_NUM
        | HOP_REF_ID => any(T::Unsigned),
        // Lengths of data fields, and group counters.
        SECURE_DATA_LEN
        | SIGNATURE_LENGTH
        | RAW_DATA_LENGTH
        | XML_DATA_LEN
        | ENCODED_TEXT_LEN
        | ENCODED_ISSUER_LEN
        | ENCODED_SECURITY_DESC_LEN
        | ENCODED_UNDERLYING_ISSUER_LEN
        | ENCODED_UNDERLYING_SECURITY_DESC_LEN
        | MAX_MESSAGE_SIZE => any(T::Unsigned),
        NO_HOPS
        | NO_MSG_TYPES
        | NO_PARTY_IDS
        | NO_PARTY_SUB_IDS
        | NO_ALLOCS
        | NO_NESTED_PARTY_IDS
        | NO_NESTED_PARTY_SUB_IDS
        | NO_TRADING_SESSIONS
        | NO_SECURITY_ALT_ID
        | NO_EVENTS
        | NO_UNDERLYINGS
        | NO_UNDERLYING_SECURITY_ALT_ID
        | NO_UNDERLYING_STIPS
        | NO_STIPULATIONS
        | NO_INSTR_ATTRIB
        | NO_CONTRA_BROKERS
        | NO_CONT_AMTS
        | NO_MISC_FEES
        | NO_AFFECTED_ORDERS
        | NO_RELATED_SYM => any(T::Unsigned),
        SECURE_DATA
        | SIGNATURE
        | RAW_DATA
        | XML_DATA
        | ENCODED_TEXT
        | ENCODED_ISSUER
        | ENCODED_SECURITY_DESC
        | ENCODED_UNDERLYING_ISSUER
        | ENCODED_UNDERLYING_SECURITY_DESC => any(T::String),
        SENDER_COMP_ID
        | TARGET_COMP_ID
        | ON_BEHALF_OF_COMP_ID
        | DELIVER_TO_COMP_ID
        | SENDER_SUB_ID
        | SENDER_LOCATION_ID
        | TARGET_SUB_ID
        | TARGET_LOCATION_ID
        | ON_BEHALF_OF_SUB_ID
        | ON_BEHALF_OF_LOCATION_ID
        | DELIVER_TO_SUB_ID
        | DELIVER_TO_LOCATION_ID
        | MESSAGE_ENCODING
        | HOP_COMP_ID => any(T::String),
        POSS_DUP_FLAG
        | POSS_RESEND
        | GAP_FILL_FLAG
        | RESET_SEQ_NUM_FLAG
        | TEST_MESSAGE_INDICATOR
        | LOCATE_REQD
        | SOLICITED_FLAG
        | FOREX_REQ
        | LAST_RPT_REQUESTED
        | WORKING_INDICATOR
        | LAST_FRAGMENT => Some((T::Boolean, Chars(b"YN"))),
        SENDING_TIME | ORIG_SENDING_TIME | HOP_SENDING_TIME | TRANSACT_TIME | EFFECTIVE_TIME
        | EXPIRE_TIME | ORIG_ORD_MOD_TIME | CONTRA_TRADE_TIME => any(T::UtcTimestamp),
        // Admin.
        TEST_REQ_ID | REF_MSG_TYPE | TEXT | USERNAME | PASSWORD => any(T::String),
        REF_TAG_ID | HEART_BT_INT => any(T::Int),
        SESSION_REJECT_REASON => Some((
            T::Int,
            Ints(&[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 99,
            ]),
        )),
        ENCRYPT_METHOD => Some((T::Int, Ints(&[0, 1, 2, 3, 4, 5, 6]))),
        MSG_DIRECTION => Some((T::Char, Chars(b"SR"))),
        // Orders.
        SIDE => Some((T::Char, Chars(b"123456789ABCDEFG"))),
        ORD_TYPE => Some((T::Char, Chars(b"123456789ABCDEFGHIJKLMP"))),
        TIME_IN_FORCE => Some((T::Char, Chars(b"01234567"))),
        HANDL_INST => Some((T::Char, Chars(b"123"))),
        EXEC_INST => Some((
            T::MultipleValueString,
            MultiChars(b"0123456789ABCDEFGHIJKLMNOPQRSUVWXYZabcde"),
        )),
        ORDER_RESTRICTIONS => Some((T::MultipleValueString, MultiChars(b"123456789ABC"))),
        PARTY_ID_SOURCE => Some((T::Char, Chars(b"123456789ABCDEFGHI"))),
        COMM_TYPE => Some((T::Char, Chars(b"123456"))),
        POSITION_EFFECT => Some((T::Char, Chars(b"CFOR"))),
        ORDER_CAPACITY => Some((T::Char, Chars(b"AGIPRW"))),
        MASS_CANCEL_REQUEST_TYPE => Some((T::Char, Chars(b"1234567"))),
        MASS_STATUS_REQ_TYPE => Some((T::Int, Ints(&[1, 2, 3, 4, 5, 6, 7, 8]))),
        SECURITY_LIST_REQUEST_TYPE => Some((T::Int, Ints(&[0, 1, 2, 3, 4]))),
        SUBSCRIPTION_REQUEST_TYPE => Some((T::Char, Chars(b"012"))),
        EXEC_TYPE => Some((T::Char, Chars(b"03456789ABCDEFGHI"))),
        ORD_STATUS => Some((T::Char, Chars(b"012346789ABCDE"))),
        CXL_REJ_RESPONSE_TO => Some((T::Char, Chars(b"12"))),
        MASS_CANCEL_RESPONSE => Some((T::Char, Chars(b"01234567"))),
        BUSINESS_REJECT_REASON => Some((T::Int, Ints(&[0, 1, 2, 3, 4, 5, 6, 7, 18]))),
        PARTY_ROLE
        | PARTY_SUB_ID_TYPE
        | NESTED_PARTY_ROLE
        | NESTED_PARTY_SUB_ID_TYPE
        | ACCT_ID_SOURCE
        | ALLOC_ACCT_ID_SOURCE
        | ACCOUNT_TYPE
        | CUST_ORDER_CAPACITY
        | PRODUCT
        | UNDERLYING_PRODUCT
        | REPURCHASE_TERM
        | UNDERLYING_REPURCHASE_TERM
        | CP_PROGRAM
        | EVENT_TYPE
        | TERMINATION_TYPE
        | DELIVERY_TYPE
        | QTY_TYPE
        | PRICE_TYPE
        | BENCHMARK_PRICE_TYPE
        | YIELD_REDEMPTION_PRICE_TYPE
        | GT_BOOKING_INST
        | BOOKING_TYPE
        | COVERED_OR_UNCOVERED
        | PEG_MOVE_TYPE
        | PEG_OFFSET_TYPE
        | PEG_LIMIT_TYPE
        | PEG_ROUND_DIRECTION
        | PEG_SCOPE
        | DISCRETION_MOVE_TYPE
        | DISCRETION_OFFSET_TYPE
        | DISCRETION_LIMIT_TYPE
        | DISCRETION_ROUND_DIRECTION
        | DISCRETION_SCOPE
        | TARGET_STRATEGY
        | DELIVERY_FORM
        | INSTR_ATTRIB_TYPE
        | TOT_NUM_REPORTS
        | ORD_REJ_REASON
        | EXEC_RESTATEMENT_REASON
        | LAST_LIQUIDITY_IND
        | CONT_AMT_TYPE
        | MISC_FEE_BASIS
        | CXL_REJ_REASON
        | TOTAL_AFFECTED_ORDERS
        | SECURITY_REQUEST_RESULT
        | TOT_NO_RELATED_SYM
        | EXPIRATION_CYCLE => any(T::Int),
        ORDER_QTY
        | CASH_ORDER_QTY
        | ORDER_PERCENT
        | ROUNDING_MODULUS
        | PRICE
        | STOP_PX
        | MIN_QTY
        | MAX_FLOOR
        | MAX_SHOW
        | ALLOC_QTY
        | ORDER_QTY2
        | PRICE2
        | PREV_CLOSE_PX
        | STRIKE_PRICE
        | UNDERLYING_STRIKE_PRICE
        | REPURCHASE_RATE
        | UNDERLYING_REPURCHASE_RATE
        | FACTOR
        | UNDERLYING_FACTOR
        | CONTRACT_MULTIPLIER
        | UNDERLYING_CONTRACT_MULTIPLIER
        | COUPON_RATE
        | UNDERLYING_COUPON_RATE
        | EVENT_PX
        | MARGIN_RATIO
        | UNDERLYING_QTY
        | UNDERLYING_PX
        | UNDERLYING_DIRTY_PRICE
        | UNDERLYING_END_PRICE
        | UNDERLYING_START_VALUE
        | UNDERLYING_CURRENT_VALUE
        | UNDERLYING_END_VALUE
        | SPREAD
        | BENCHMARK_PRICE
        | YIELD
        | YIELD_REDEMPTION_PRICE
        | COMMISSION
        | PEG_OFFSET_VALUE
        | DISCRETION_OFFSET_VALUE
        | PARTICIPATION_RATE
        | PCT_AT_RISK
        | LAST_QTY
        | LAST_PX
        | LEAVES_QTY
        | CUM_QTY
        | AVG_PX
        | DAY_ORDER_QTY
        | DAY_CUM_QTY
        | DAY_AVG_PX
        | GROSS_TRADE_AMT
        | CONTRA_TRADE_QTY
        | CONT_AMT_VALUE
        | MISC_FEE_AMT
        | ROUND_LOT
        | MIN_TRADE_VOL => any(T::Float),
        TRADE_ORIGINATION_DATE
        | TRADE_DATE
        | SETTL_DATE
        | SETTL_DATE2
        | MATURITY_DATE
        | UNDERLYING_MATURITY_DATE
        | COUPON_PAYMENT_DATE
        | UNDERLYING_COUPON_PAYMENT_DATE
        | ISSUE_DATE
        | UNDERLYING_ISSUE_DATE
        | REDEMPTION_DATE
        | UNDERLYING_REDEMPTION_DATE
        | EVENT_DATE
        | DATED_DATE
        | INTEREST_ACCRUAL_DATE
        | AGREEMENT_DATE
        | START_DATE
        | END_DATE
        | YIELD_CALC_DATE
        | YIELD_REDEMPTION_DATE
        | EXPIRE_DATE => any(T::Date),
        MATURITY_MONTH_YEAR | UNDERLYING_MATURITY_MONTH_YEAR | CONTRACT_SETTL_MONTH => {
            any(T::MonthYear)
        }
        DAY_BOOKING_INST
        | BOOKING_UNIT
        | PREALLOC_METHOD
        | CASH_MARGIN
        | PROCESS_CODE
        | NESTED_PARTY_ID_SOURCE
        | OPT_ATTRIBUTE
        | UNDERLYING_OPT_ATTRIBUTE
        | ROUNDING_DIRECTION
        | FUND_RENEW_WAIV
        | DISCRETION_INST
        | CANCELLATION_RIGHTS
        | MONEY_LAUNDERING_STATUS
        | LAST_CAPACITY
        | MISC_FEE_TYPE
        | MASS_CANCEL_REJECT_REASON => any(T::Char),
        CL_ORD_ID
        | SECONDARY_CL_ORD_ID
        | CL_ORD_LINK_ID
        | PARTY_ID
        | PARTY_SUB_ID
        | ACCOUNT
        | ALLOC_ID
        | ALLOC_ACCOUNT
        | ALLOC_SETTL_CURRENCY
        | INDIVIDUAL_ALLOC_ID
        | NESTED_PARTY_ID
        | NESTED_PARTY_SUB_ID
        | SETTL_TYPE
        | CLEARING_FEE_INDICATOR
        | EX_DESTINATION
        | TRADING_SESSION_ID
        | TRADING_SESSION_SUB_ID
        | SYMBOL
        | SYMBOL_SFX
        | SECURITY_ID
        | SECURITY_ID_SOURCE
        | SECURITY_ALT_ID
        | SECURITY_ALT_ID_SOURCE
        | CFI_CODE
        | SECURITY_TYPE
        | SECURITY_SUB_TYPE
        | REPO_COLLATERAL_SECURITY_TYPE
        | CREDIT_RATING
        | INSTR_REGISTRY
        | COUNTRY_OF_ISSUE
        | STATE_OR_PROVINCE_OF_ISSUE
        | LOCALE_OF_ISSUE
        | STRIKE_CURRENCY
        | SECURITY_EXCHANGE
        | ISSUER
        | SECURITY_DESC
        | POOL
        | CP_REG_TYPE
        | EVENT_TEXT
        | AGREEMENT_DESC
        | AGREEMENT_ID
        | AGREEMENT_CURRENCY
        | UNDERLYING_SYMBOL
        | UNDERLYING_SYMBOL_SFX
        | UNDERLYING_SECURITY_ID
        | UNDERLYING_SECURITY_ID_SOURCE
        | UNDERLYING_SECURITY_ALT_ID
        | UNDERLYING_SECURITY_ALT_ID_SOURCE
        | UNDERLYING_CFI_CODE
        | UNDERLYING_SECURITY_TYPE
        | UNDERLYING_SECURITY_SUB_TYPE
        | UNDERLYING_REPO_COLLATERAL_SECURITY_TYPE
        | UNDERLYING_CREDIT_RATING
        | UNDERLYING_INSTR_REGISTRY
        | UNDERLYING_COUNTRY_OF_ISSUE
        | UNDERLYING_STATE_OR_PROVINCE_OF_ISSUE
        | UNDERLYING_LOCALE_OF_ISSUE
        | UNDERLYING_STRIKE_CURRENCY
        | UNDERLYING_SECURITY_EXCHANGE
        | UNDERLYING_ISSUER
        | UNDERLYING_SECURITY_DESC
        | UNDERLYING_CP_PROGRAM
        | UNDERLYING_CP_REG_TYPE
        | UNDERLYING_CURRENCY
        | UNDERLYING_STIP_TYPE
        | UNDERLYING_STIP_VALUE
        | STIPULATION_TYPE
        | STIPULATION_VALUE
        | BENCHMARK_CURVE_CURRENCY
        | BENCHMARK_CURVE_NAME
        | BENCHMARK_CURVE_POINT
        | BENCHMARK_SECURITY_ID
        | BENCHMARK_SECURITY_ID_SOURCE
        | YIELD_TYPE
        | CURRENCY
        | COMPLIANCE_ID
        | IOI_ID
        | QUOTE_ID
        | COMM_CURRENCY
        | SETTL_CURRENCY
        | TARGET_STRATEGY_PARAMETERS
        | REGIST_ID
        | DESIGNATION
        | ORIG_CL_ORD_ID
        | ORDER_ID
        | LIST_ID
        | ORD_STATUS_REQ_ID
        | MASS_STATUS_REQ_ID
        | SECURITY_REQ_ID
        | INSTR_ATTRIB_VALUE
        | SECONDARY_ORDER_ID
        | SECONDARY_EXEC_ID
        | QUOTE_RESP_ID
        | EXEC_ID
        | EXEC_REF_ID
        | LAST_MKT
        | CONTRA_BROKER
        | CONTRA_TRADER
        | CONTRA_LEG_REF_ID
        | CONT_AMT_CURR
        | MISC_FEE_CURR
        | AFFECTED_ORDER_ID
        | AFFECTED_SECONDARY_ORDER_ID
        | SECURITY_RESPONSE_ID
        | BUSINESS_REJECT_REF_ID => any(T::String),
        _ => None,
    }
}

/// The type of a field the dictionary knows.
#[must_use]
pub fn field_type(tag: u32) -> Option<FieldType> {
    field_info(tag).map(|(t, _)| t)
}

/// One entry of a message, component or group definition.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// An optional field.
    F(u32),
    /// A required field.
    R(u32),
    /// An optional repeating group.
    G(&'static Group),
    /// A component (its fields' own requiredness).
    C(&'static [Item]),
    /// A required component whose named field becomes required (Instrument
    /// and `Symbol`, OrderQtyData and `OrderQty`).
    Cr(&'static [Item], u32),
}

/// A repeating group: its NumInGroup tag and the fields of one entry, the
/// first of which opens every entry.
#[derive(Debug)]
struct Group {
    count: u32,
    items: &'static [Item],
}

use Item::{C, Cr, F, G, R};

const HEADER: &[Item] = &[
    R(BEGIN_STRING),
    R(BODY_LENGTH),
    R(MSG_TYPE),
    R(SENDER_COMP_ID),
    R(TARGET_COMP_ID),
    F(ON_BEHALF_OF_COMP_ID),
    F(DELIVER_TO_COMP_ID),
    F(SECURE_DATA_LEN),
    F(SECURE_DATA),
    R(MSG_SEQ_NUM),
    F(SENDER_SUB_ID),
    F(SENDER_LOCATION_ID),
    F(TARGET_SUB_ID),
    F(TARGET_LOCATION_ID),
    F(ON_BEHALF_OF_SUB_ID),
    F(ON_BEHALF_OF_LOCATION_ID),
    F(DELIVER_TO_SUB_ID),
    F(DELIVER_TO_LOCATION_ID),
    F(POSS_DUP_FLAG),
    F(POSS_RESEND),
    R(SENDING_TIME),
    F(ORIG_SENDING_TIME),
    F(XML_DATA_LEN),
    F(XML_DATA),
    F(MESSAGE_ENCODING),
    F(LAST_MSG_SEQ_NUM_PROCESSED),
    G(&Group {
        count: NO_HOPS,
        items: &[F(HOP_COMP_ID), F(HOP_SENDING_TIME), F(HOP_REF_ID)],
    }),
];

/// The trailer fields other than `CheckSum`, which the parser pins last.
fn is_trailer_tag(tag: u32) -> bool {
    matches!(tag, SIGNATURE_LENGTH | SIGNATURE | CHECK_SUM)
}

const ENCODED_TEXT_FIELDS: [Item; 3] = [F(TEXT), F(ENCODED_TEXT_LEN), F(ENCODED_TEXT)];

const PARTIES: &[Item] = &[G(&Group {
    count: NO_PARTY_IDS,
    items: &[
        F(PARTY_ID),
        F(PARTY_ID_SOURCE),
        F(PARTY_ROLE),
        G(&Group {
            count: NO_PARTY_SUB_IDS,
            items: &[F(PARTY_SUB_ID), F(PARTY_SUB_ID_TYPE)],
        }),
    ],
})];

const NESTED_PARTIES: &[Item] = &[G(&Group {
    count: NO_NESTED_PARTY_IDS,
    items: &[
        F(NESTED_PARTY_ID),
        F(NESTED_PARTY_ID_SOURCE),
        F(NESTED_PARTY_ROLE),
        G(&Group {
            count: NO_NESTED_PARTY_SUB_IDS,
            items: &[F(NESTED_PARTY_SUB_ID), F(NESTED_PARTY_SUB_ID_TYPE)],
        }),
    ],
})];

const INSTRUMENT: &[Item] = &[
    F(SYMBOL),
    F(SYMBOL_SFX),
    F(SECURITY_ID),
    F(SECURITY_ID_SOURCE),
    G(&Group {
        count: NO_SECURITY_ALT_ID,
        items: &[F(SECURITY_ALT_ID), F(SECURITY_ALT_ID_SOURCE)],
    }),
    F(PRODUCT),
    F(CFI_CODE),
    F(SECURITY_TYPE),
    F(SECURITY_SUB_TYPE),
    F(MATURITY_MONTH_YEAR),
    F(MATURITY_DATE),
    F(COUPON_PAYMENT_DATE),
    F(ISSUE_DATE),
    F(REPO_COLLATERAL_SECURITY_TYPE),
    F(REPURCHASE_TERM),
    F(REPURCHASE_RATE),
    F(FACTOR),
    F(CREDIT_RATING),
    F(INSTR_REGISTRY),
    F(COUNTRY_OF_ISSUE),
    F(STATE_OR_PROVINCE_OF_ISSUE),
    F(LOCALE_OF_ISSUE),
    F(REDEMPTION_DATE),
    F(STRIKE_PRICE),
    F(STRIKE_CURRENCY),
    F(OPT_ATTRIBUTE),
    F(CONTRACT_MULTIPLIER),
    F(COUPON_RATE),
    F(SECURITY_EXCHANGE),
    F(ISSUER),
    F(ENCODED_ISSUER_LEN),
    F(ENCODED_ISSUER),
    F(SECURITY_DESC),
    F(ENCODED_SECURITY_DESC_LEN),
    F(ENCODED_SECURITY_DESC),
    F(POOL),
    F(CONTRACT_SETTL_MONTH),
    F(CP_PROGRAM),
    F(CP_REG_TYPE),
    G(&Group {
        count: NO_EVENTS,
        items: &[F(EVENT_TYPE), F(EVENT_DATE), F(EVENT_PX), F(EVENT_TEXT)],
    }),
    F(DATED_DATE),
    F(INTEREST_ACCRUAL_DATE),
];

const INSTRUMENT_EXTENSION: &[Item] = &[
    F(DELIVERY_FORM),
    F(PCT_AT_RISK),
    G(&Group {
        count: NO_INSTR_ATTRIB,
        items: &[F(INSTR_ATTRIB_TYPE), F(INSTR_ATTRIB_VALUE)],
    }),
];

const FINANCING_DETAILS: &[Item] = &[
    F(AGREEMENT_DESC),
    F(AGREEMENT_ID),
    F(AGREEMENT_DATE),
    F(AGREEMENT_CURRENCY),
    F(TERMINATION_TYPE),
    F(START_DATE),
    F(END_DATE),
    F(DELIVERY_TYPE),
    F(MARGIN_RATIO),
];

const UNDERLYING_INSTRUMENT: &[Item] = &[
    F(UNDERLYING_SYMBOL),
    F(UNDERLYING_SYMBOL_SFX),
    F(UNDERLYING_SECURITY_ID),
    F(UNDERLYING_SECURITY_ID_SOURCE),
    G(&Group {
        count: NO_UNDERLYING_SECURITY_ALT_ID,
        items: &[
            F(UNDERLYING_SECURITY_ALT_ID),
            F(UNDERLYING_SECURITY_ALT_ID_SOURCE),
        ],
    }),
    F(UNDERLYING_PRODUCT),
    F(UNDERLYING_CFI_CODE),
    F(UNDERLYING_SECURITY_TYPE),
    F(UNDERLYING_SECURITY_SUB_TYPE),
    F(UNDERLYING_MATURITY_MONTH_YEAR),
    F(UNDERLYING_MATURITY_DATE),
    F(UNDERLYING_COUPON_PAYMENT_DATE),
    F(UNDERLYING_ISSUE_DATE),
    F(UNDERLYING_REPO_COLLATERAL_SECURITY_TYPE),
    F(UNDERLYING_REPURCHASE_TERM),
    F(UNDERLYING_REPURCHASE_RATE),
    F(UNDERLYING_FACTOR),
    F(UNDERLYING_CREDIT_RATING),
    F(UNDERLYING_INSTR_REGISTRY),
    F(UNDERLYING_COUNTRY_OF_ISSUE),
    F(UNDERLYING_STATE_OR_PROVINCE_OF_ISSUE),
    F(UNDERLYING_LOCALE_OF_ISSUE),
    F(UNDERLYING_REDEMPTION_DATE),
    F(UNDERLYING_STRIKE_PRICE),
    F(UNDERLYING_STRIKE_CURRENCY),
    F(UNDERLYING_OPT_ATTRIBUTE),
    F(UNDERLYING_CONTRACT_MULTIPLIER),
    F(UNDERLYING_COUPON_RATE),
    F(UNDERLYING_SECURITY_EXCHANGE),
    F(UNDERLYING_ISSUER),
    F(ENCODED_UNDERLYING_ISSUER_LEN),
    F(ENCODED_UNDERLYING_ISSUER),
    F(UNDERLYING_SECURITY_DESC),
    F(ENCODED_UNDERLYING_SECURITY_DESC_LEN),
    F(ENCODED_UNDERLYING_SECURITY_DESC),
    F(UNDERLYING_CP_PROGRAM),
    F(UNDERLYING_CP_REG_TYPE),
    F(UNDERLYING_CURRENCY),
    F(UNDERLYING_QTY),
    F(UNDERLYING_PX),
    F(UNDERLYING_DIRTY_PRICE),
    F(UNDERLYING_END_PRICE),
    F(UNDERLYING_START_VALUE),
    F(UNDERLYING_CURRENT_VALUE),
    F(UNDERLYING_END_VALUE),
    G(&Group {
        count: NO_UNDERLYING_STIPS,
        items: &[F(UNDERLYING_STIP_TYPE), F(UNDERLYING_STIP_VALUE)],
    }),
];

const UNDERLYINGS: Item = G(&Group {
    count: NO_UNDERLYINGS,
    items: &[C(UNDERLYING_INSTRUMENT)],
});

const ORDER_QTY_DATA: &[Item] = &[
    F(ORDER_QTY),
    F(CASH_ORDER_QTY),
    F(ORDER_PERCENT),
    F(ROUNDING_DIRECTION),
    F(ROUNDING_MODULUS),
];

const STIPULATIONS: &[Item] = &[G(&Group {
    count: NO_STIPULATIONS,
    items: &[F(STIPULATION_TYPE), F(STIPULATION_VALUE)],
})];

const SPREAD_OR_BENCHMARK_CURVE_DATA: &[Item] = &[
    F(SPREAD),
    F(BENCHMARK_CURVE_CURRENCY),
    F(BENCHMARK_CURVE_NAME),
    F(BENCHMARK_CURVE_POINT),
    F(BENCHMARK_PRICE),
    F(BENCHMARK_PRICE_TYPE),
    F(BENCHMARK_SECURITY_ID),
    F(BENCHMARK_SECURITY_ID_SOURCE),
];

const YIELD_DATA: &[Item] = &[
    F(YIELD_TYPE),
    F(YIELD),
    F(YIELD_CALC_DATE),
    F(YIELD_REDEMPTION_DATE),
    F(YIELD_REDEMPTION_PRICE),
    F(YIELD_REDEMPTION_PRICE_TYPE),
];

const COMMISSION_DATA: &[Item] = &[
    F(COMMISSION),
    F(COMM_TYPE),
    F(COMM_CURRENCY),
    F(FUND_RENEW_WAIV),
];

const PEG_INSTRUCTIONS: &[Item] = &[
    F(PEG_OFFSET_VALUE),
    F(PEG_MOVE_TYPE),
    F(PEG_OFFSET_TYPE),
    F(PEG_LIMIT_TYPE),
    F(PEG_ROUND_DIRECTION),
    F(PEG_SCOPE),
];

const DISCRETION_INSTRUCTIONS: &[Item] = &[
    F(DISCRETION_INST),
    F(DISCRETION_OFFSET_VALUE),
    F(DISCRETION_MOVE_TYPE),
    F(DISCRETION_OFFSET_TYPE),
    F(DISCRETION_LIMIT_TYPE),
    F(DISCRETION_ROUND_DIRECTION),
    F(DISCRETION_SCOPE),
];

const ALLOCS: Item = G(&Group {
    count: NO_ALLOCS,
    items: &[
        F(ALLOC_ACCOUNT),
        F(ALLOC_ACCT_ID_SOURCE),
        F(ALLOC_SETTL_CURRENCY),
        F(INDIVIDUAL_ALLOC_ID),
        C(NESTED_PARTIES),
        F(ALLOC_QTY),
    ],
});

const TRADING_SESSIONS: Item = G(&Group {
    count: NO_TRADING_SESSIONS,
    items: &[F(TRADING_SESSION_ID), F(TRADING_SESSION_SUB_ID)],
});

/// The fields NewOrderSingle and OrderCancelReplaceRequest share after the
/// identifiers, in the specification's order.
const ORDER_BODY: &[Item] = &[
    C(PARTIES),
    F(TRADE_ORIGINATION_DATE),
    F(TRADE_DATE),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    F(ACCOUNT_TYPE),
    F(DAY_BOOKING_INST),
    F(BOOKING_UNIT),
    F(PREALLOC_METHOD),
    F(ALLOC_ID),
    ALLOCS,
    F(SETTL_TYPE),
    F(SETTL_DATE),
    F(CASH_MARGIN),
    F(CLEARING_FEE_INDICATOR),
    F(HANDL_INST),
    F(EXEC_INST),
    F(MIN_QTY),
    F(MAX_FLOOR),
    F(EX_DESTINATION),
    TRADING_SESSIONS,
    Cr(INSTRUMENT, SYMBOL),
    C(FINANCING_DETAILS),
    UNDERLYINGS,
    R(SIDE),
    F(LOCATE_REQD),
    R(TRANSACT_TIME),
    F(QTY_TYPE),
    Cr(ORDER_QTY_DATA, ORDER_QTY),
    R(ORD_TYPE),
    F(PRICE_TYPE),
    F(PRICE),
    F(STOP_PX),
    C(SPREAD_OR_BENCHMARK_CURVE_DATA),
    C(YIELD_DATA),
    C(PEG_INSTRUCTIONS),
    C(DISCRETION_INSTRUCTIONS),
    F(TARGET_STRATEGY),
    F(TARGET_STRATEGY_PARAMETERS),
    F(PARTICIPATION_RATE),
    F(COMPLIANCE_ID),
    F(SOLICITED_FLAG),
    F(CURRENCY),
    F(TIME_IN_FORCE),
    F(EFFECTIVE_TIME),
    F(EXPIRE_DATE),
    F(EXPIRE_TIME),
    F(GT_BOOKING_INST),
    C(COMMISSION_DATA),
    F(ORDER_CAPACITY),
    F(ORDER_RESTRICTIONS),
    F(CUST_ORDER_CAPACITY),
    F(FOREX_REQ),
    F(SETTL_CURRENCY),
    F(BOOKING_TYPE),
    C(&ENCODED_TEXT_FIELDS),
    F(SETTL_DATE2),
    F(ORDER_QTY2),
    F(PRICE2),
    F(POSITION_EFFECT),
    F(COVERED_OR_UNCOVERED),
    F(MAX_SHOW),
    F(CANCELLATION_RIGHTS),
    F(MONEY_LAUNDERING_STATUS),
    F(REGIST_ID),
    F(DESIGNATION),
];

const NEW_ORDER_SINGLE: &[Item] = &[
    R(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    C(ORDER_BODY),
    F(PROCESS_CODE),
    F(PREV_CLOSE_PX),
    C(STIPULATIONS),
    F(IOI_ID),
    F(QUOTE_ID),
];

const ORDER_CANCEL_REPLACE_REQUEST: &[Item] = &[
    F(ORDER_ID),
    R(ORIG_CL_ORD_ID),
    R(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    F(LIST_ID),
    F(ORIG_ORD_MOD_TIME),
    C(ORDER_BODY),
];

const ORDER_CANCEL_REQUEST: &[Item] = &[
    R(ORIG_CL_ORD_ID),
    F(ORDER_ID),
    R(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    F(LIST_ID),
    F(ORIG_ORD_MOD_TIME),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    F(ACCOUNT_TYPE),
    C(PARTIES),
    Cr(INSTRUMENT, SYMBOL),
    C(FINANCING_DETAILS),
    UNDERLYINGS,
    R(SIDE),
    R(TRANSACT_TIME),
    // OrderQtyData is required by the specification, but a cancel needs no
    // quantity and many initiators send none.
    C(ORDER_QTY_DATA),
    F(COMPLIANCE_ID),
    C(&ENCODED_TEXT_FIELDS),
];

const ORDER_STATUS_REQUEST: &[Item] = &[
    F(ORDER_ID),
    R(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    C(PARTIES),
    F(ORD_STATUS_REQ_ID),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    Cr(INSTRUMENT, SYMBOL),
    C(FINANCING_DETAILS),
    UNDERLYINGS,
    R(SIDE),
];

const ORDER_MASS_CANCEL_REQUEST: &[Item] = &[
    R(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    R(MASS_CANCEL_REQUEST_TYPE),
    F(TRADING_SESSION_ID),
    F(TRADING_SESSION_SUB_ID),
    C(INSTRUMENT),
    C(UNDERLYING_INSTRUMENT),
    F(SIDE),
    R(TRANSACT_TIME),
    C(&ENCODED_TEXT_FIELDS),
];

const ORDER_MASS_STATUS_REQUEST: &[Item] = &[
    R(MASS_STATUS_REQ_ID),
    R(MASS_STATUS_REQ_TYPE),
    C(PARTIES),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    F(TRADING_SESSION_ID),
    F(TRADING_SESSION_SUB_ID),
    C(INSTRUMENT),
    C(UNDERLYING_INSTRUMENT),
    F(SIDE),
];

const SECURITY_LIST_REQUEST: &[Item] = &[
    R(SECURITY_REQ_ID),
    R(SECURITY_LIST_REQUEST_TYPE),
    C(INSTRUMENT),
    C(INSTRUMENT_EXTENSION),
    C(FINANCING_DETAILS),
    UNDERLYINGS,
    F(CURRENCY),
    C(&ENCODED_TEXT_FIELDS),
    F(TRADING_SESSION_ID),
    F(TRADING_SESSION_SUB_ID),
    F(SUBSCRIPTION_REQUEST_TYPE),
];

const EXECUTION_REPORT: &[Item] = &[
    R(ORDER_ID),
    F(SECONDARY_ORDER_ID),
    F(SECONDARY_CL_ORD_ID),
    F(SECONDARY_EXEC_ID),
    F(CL_ORD_ID),
    F(ORIG_CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    F(QUOTE_RESP_ID),
    F(ORD_STATUS_REQ_ID),
    F(MASS_STATUS_REQ_ID),
    F(TOT_NUM_REPORTS),
    F(LAST_RPT_REQUESTED),
    C(PARTIES),
    F(TRADE_ORIGINATION_DATE),
    G(&Group {
        count: NO_CONTRA_BROKERS,
        items: &[
            F(CONTRA_BROKER),
            F(CONTRA_TRADER),
            F(CONTRA_TRADE_QTY),
            F(CONTRA_TRADE_TIME),
            F(CONTRA_LEG_REF_ID),
        ],
    }),
    F(LIST_ID),
    R(EXEC_ID),
    F(EXEC_REF_ID),
    R(EXEC_TYPE),
    R(ORD_STATUS),
    F(WORKING_INDICATOR),
    F(ORD_REJ_REASON),
    F(EXEC_RESTATEMENT_REASON),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    F(ACCOUNT_TYPE),
    F(DAY_BOOKING_INST),
    F(BOOKING_UNIT),
    F(PREALLOC_METHOD),
    F(SETTL_TYPE),
    F(SETTL_DATE),
    F(CASH_MARGIN),
    F(CLEARING_FEE_INDICATOR),
    Cr(INSTRUMENT, SYMBOL),
    C(FINANCING_DETAILS),
    UNDERLYINGS,
    R(SIDE),
    C(STIPULATIONS),
    F(QTY_TYPE),
    C(ORDER_QTY_DATA),
    F(ORD_TYPE),
    F(PRICE_TYPE),
    F(PRICE),
    F(STOP_PX),
    C(PEG_INSTRUCTIONS),
    C(DISCRETION_INSTRUCTIONS),
    F(TARGET_STRATEGY),
    F(TARGET_STRATEGY_PARAMETERS),
    F(PARTICIPATION_RATE),
    F(CURRENCY),
    F(COMPLIANCE_ID),
    F(SOLICITED_FLAG),
    F(TIME_IN_FORCE),
    F(EFFECTIVE_TIME),
    F(EXPIRE_DATE),
    F(EXPIRE_TIME),
    F(EXEC_INST),
    F(ORDER_CAPACITY),
    F(ORDER_RESTRICTIONS),
    F(CUST_ORDER_CAPACITY),
    F(LAST_QTY),
    F(LAST_PX),
    F(LAST_MKT),
    F(TRADING_SESSION_ID),
    F(TRADING_SESSION_SUB_ID),
    F(LAST_CAPACITY),
    R(LEAVES_QTY),
    R(CUM_QTY),
    R(AVG_PX),
    F(DAY_ORDER_QTY),
    F(DAY_CUM_QTY),
    F(DAY_AVG_PX),
    F(GT_BOOKING_INST),
    F(TRADE_DATE),
    F(TRANSACT_TIME),
    C(COMMISSION_DATA),
    C(SPREAD_OR_BENCHMARK_CURVE_DATA),
    C(YIELD_DATA),
    F(GROSS_TRADE_AMT),
    F(SETTL_CURRENCY),
    F(HANDL_INST),
    F(MIN_QTY),
    F(MAX_FLOOR),
    F(POSITION_EFFECT),
    F(MAX_SHOW),
    F(BOOKING_TYPE),
    C(&ENCODED_TEXT_FIELDS),
    F(SETTL_DATE2),
    F(ORDER_QTY2),
    F(CANCELLATION_RIGHTS),
    F(MONEY_LAUNDERING_STATUS),
    F(REGIST_ID),
    F(DESIGNATION),
    F(LAST_LIQUIDITY_IND),
    G(&Group {
        count: NO_CONT_AMTS,
        items: &[F(CONT_AMT_TYPE), F(CONT_AMT_VALUE), F(CONT_AMT_CURR)],
    }),
    G(&Group {
        count: NO_MISC_FEES,
        items: &[
            F(MISC_FEE_AMT),
            F(MISC_FEE_CURR),
            F(MISC_FEE_TYPE),
            F(MISC_FEE_BASIS),
        ],
    }),
];

const ORDER_CANCEL_REJECT: &[Item] = &[
    R(ORDER_ID),
    F(SECONDARY_ORDER_ID),
    F(SECONDARY_CL_ORD_ID),
    R(CL_ORD_ID),
    F(CL_ORD_LINK_ID),
    R(ORIG_CL_ORD_ID),
    R(ORD_STATUS),
    F(WORKING_INDICATOR),
    F(ORIG_ORD_MOD_TIME),
    F(LIST_ID),
    F(ACCOUNT),
    F(ACCT_ID_SOURCE),
    F(ACCOUNT_TYPE),
    F(TRADE_ORIGINATION_DATE),
    F(TRADE_DATE),
    F(TRANSACT_TIME),
    R(CXL_REJ_RESPONSE_TO),
    F(CXL_REJ_REASON),
    C(&ENCODED_TEXT_FIELDS),
];

const ORDER_MASS_CANCEL_REPORT: &[Item] = &[
    F(CL_ORD_ID),
    F(SECONDARY_CL_ORD_ID),
    R(ORDER_ID),
    F(SECONDARY_ORDER_ID),
    R(MASS_CANCEL_REQUEST_TYPE),
    R(MASS_CANCEL_RESPONSE),
    F(MASS_CANCEL_REJECT_REASON),
    F(TOTAL_AFFECTED_ORDERS),
    G(&Group {
        count: NO_AFFECTED_ORDERS,
        items: &[
            F(ORIG_CL_ORD_ID),
            F(AFFECTED_ORDER_ID),
            F(AFFECTED_SECONDARY_ORDER_ID),
        ],
    }),
    F(TRADING_SESSION_ID),
    F(TRADING_SESSION_SUB_ID),
    C(INSTRUMENT),
    C(UNDERLYING_INSTRUMENT),
    F(SIDE),
    F(TRANSACT_TIME),
    C(&ENCODED_TEXT_FIELDS),
];

const SECURITY_LIST: &[Item] = &[
    R(SECURITY_REQ_ID),
    R(SECURITY_RESPONSE_ID),
    R(SECURITY_REQUEST_RESULT),
    F(TOT_NO_RELATED_SYM),
    F(LAST_FRAGMENT),
    G(&Group {
        count: NO_RELATED_SYM,
        items: &[
            C(INSTRUMENT),
            C(INSTRUMENT_EXTENSION),
            C(FINANCING_DETAILS),
            UNDERLYINGS,
            F(CURRENCY),
            C(STIPULATIONS),
            C(SPREAD_OR_BENCHMARK_CURVE_DATA),
            C(YIELD_DATA),
            F(ROUND_LOT),
            F(MIN_TRADE_VOL),
            F(TRADING_SESSION_ID),
            F(TRADING_SESSION_SUB_ID),
            F(EXPIRATION_CYCLE),
            C(&ENCODED_TEXT_FIELDS),
        ],
    }),
];

const BUSINESS_MESSAGE_REJECT: &[Item] = &[
    F(REF_SEQ_NUM),
    R(REF_MSG_TYPE),
    F(BUSINESS_REJECT_REF_ID),
    R(BUSINESS_REJECT_REASON),
    C(&ENCODED_TEXT_FIELDS),
];

const LOGON: &[Item] = &[
    R(ENCRYPT_METHOD),
    R(HEART_BT_INT),
    F(RAW_DATA_LENGTH),
    F(RAW_DATA),
    F(RESET_SEQ_NUM_FLAG),
    F(NEXT_EXPECTED_MSG_SEQ_NUM),
    F(MAX_MESSAGE_SIZE),
    G(&Group {
        count: NO_MSG_TYPES,
        items: &[F(REF_MSG_TYPE), F(MSG_DIRECTION)],
    }),
    F(TEST_MESSAGE_INDICATOR),
    F(USERNAME),
    F(PASSWORD),
];

/// Who may send a message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Senders {
    Both,
    Client,
    Venue,
}

/// Every message the dictionary defines: (MsgType, body, who sends it).
const MESSAGES: &[(&[u8], &[Item], Senders)] = &[
    (b"0", &[F(TEST_REQ_ID)], Senders::Both),
    (b"1", &[R(TEST_REQ_ID)], Senders::Both),
    (b"2", &[R(BEGIN_SEQ_NO), R(END_SEQ_NO)], Senders::Both),
    (
        b"3",
        &[
            R(REF_SEQ_NUM),
            F(REF_TAG_ID),
            F(REF_MSG_TYPE),
            F(SESSION_REJECT_REASON),
            C(&ENCODED_TEXT_FIELDS),
        ],
        Senders::Both,
    ),
    (b"4", &[F(GAP_FILL_FLAG), R(NEW_SEQ_NO)], Senders::Both),
    (b"5", &ENCODED_TEXT_FIELDS, Senders::Both),
    (b"A", LOGON, Senders::Both),
    (b"D", NEW_ORDER_SINGLE, Senders::Client),
    (b"F", ORDER_CANCEL_REQUEST, Senders::Client),
    (b"G", ORDER_CANCEL_REPLACE_REQUEST, Senders::Client),
    (b"H", ORDER_STATUS_REQUEST, Senders::Client),
    (b"q", ORDER_MASS_CANCEL_REQUEST, Senders::Client),
    (b"AF", ORDER_MASS_STATUS_REQUEST, Senders::Client),
    (b"x", SECURITY_LIST_REQUEST, Senders::Client),
    (b"j", BUSINESS_MESSAGE_REJECT, Senders::Both),
    (b"8", EXECUTION_REPORT, Senders::Venue),
    (b"9", ORDER_CANCEL_REJECT, Senders::Venue),
    (b"r", ORDER_MASS_CANCEL_REPORT, Senders::Venue),
    (b"y", SECURITY_LIST, Senders::Venue),
];

/// Every MsgType FIX 4.4 defines; [`is_fix44_msg_type`] checks the same set
/// as ranges.
#[cfg(test)]
const FIX44_MSG_TYPES: &[&[u8]] = &[
    b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9", b"A", b"B", b"C", b"D", b"E", b"F",
    b"G", b"H", b"J", b"K", b"L", b"M", b"N", b"P", b"Q", b"R", b"S", b"T", b"V", b"W", b"X", b"Y",
    b"Z", b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i", b"j", b"k", b"l", b"m", b"n", b"o",
    b"p", b"q", b"r", b"s", b"t", b"u", b"v", b"w", b"x", b"y", b"z", b"AA", b"AB", b"AC", b"AD",
    b"AE", b"AF", b"AG", b"AH", b"AI", b"AJ", b"AK", b"AL", b"AM", b"AN", b"AO", b"AP", b"AQ",
    b"AR", b"AS", b"AT", b"AU", b"AV", b"AW", b"AX", b"AY", b"AZ", b"BA", b"BB", b"BC", b"BD",
    b"BE", b"BF", b"BG", b"BH",
];

/// Whether `msg_type` is a MsgType FIX 4.4 defines.
#[must_use]
pub fn is_fix44_msg_type(msg_type: &[u8]) -> bool {
    // The same set as FIX44_MSG_TYPES, as ranges (checked by a test).
    match msg_type {
        [c] => {
            matches!(c, b'0'..=b'9' | b'A'..=b'H' | b'J'..=b'N' | b'P'..=b'T' | b'V'..=b'Z' | b'a'..=b'z')
        }
        [b'A', c] => c.is_ascii_uppercase(),
        [b'B', c] => (b'A'..=b'H').contains(c),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// The compiled dictionary.

/// At most this many distinct tags in one scope (a message body, a group
/// entry): the width of the "seen" bit sets.
const SCOPE_TAGS_MAX: usize = 256;
/// Groups nest at most this deep (Instrument's groups inside a group inside
/// a group is three).
const GROUP_DEPTH_MAX: usize = 6;

type Seen = [u64; SCOPE_TAGS_MAX / 64];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Field,
    /// A NumInGroup field; the group's scope index.
    Group(u16),
}

/// The fields allowed at one level (a message body, the header, one group
/// entry), sorted by tag, with a dense tag-to-position index: a binary
/// search per field cost 40% of a NewOrderSingle's parse and validate in
/// `benches/fix_codec.rs` (mispredicted branches), the index one load.
#[derive(Debug, Default)]
struct Scope {
    tags: Vec<u32>,
    /// Position in `tags` plus one, by tag number; 0 for absent.
    index: Box<[u16]>,
    nodes: Vec<Node>,
    /// Indexes (into `tags`) of the required fields.
    required: Vec<u16>,
    /// For a group: the field that opens each entry.
    delimiter: u32,
}

impl Scope {
    fn find(&self, tag: u32) -> Option<usize> {
        let slot = *self.index.get(tag as usize)?;
        slot.checked_sub(1).map(usize::from)
    }
}

#[derive(Debug)]
struct Dict {
    scopes: Vec<Scope>,
    header: usize,
    /// (MsgType, body scope, senders).
    messages: Vec<(&'static [u8], usize, Senders)>,
}

/// Collects a definition's items into `scope` (components flattened) and
/// compiles its groups into new scopes.
fn collect(
    items: &[Item],
    required_extra: Option<u32>,
    entries: &mut Vec<(u32, Node, bool)>,
    scopes: &mut Vec<Scope>,
) {
    for item in items {
        match *item {
            F(tag) => entries.push((tag, Node::Field, Some(tag) == required_extra)),
            R(tag) => entries.push((tag, Node::Field, true)),
            C(component) => collect(component, required_extra, entries, scopes),
            Cr(component, key) => collect(component, Some(key), entries, scopes),
            G(group) => {
                let index = compile_scope(group.items, scopes);
                entries.push((group.count, Node::Group(index as u16), false));
            }
        }
    }
}

fn first_tag(items: &[Item]) -> u32 {
    match items[0] {
        F(tag) | R(tag) => tag,
        C(c) | Cr(c, _) => first_tag(c),
        G(g) => g.count,
    }
}

fn compile_scope(items: &[Item], scopes: &mut Vec<Scope>) -> usize {
    let mut entries = Vec::new();
    collect(items, None, &mut entries, scopes);
    entries.sort_by_key(|e| e.0);
    for pair in entries.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "tag {} twice in one scope",
            pair[0].0
        );
    }
    assert!(entries.len() <= SCOPE_TAGS_MAX);
    let mut index = vec![0u16; FIX44_TAG_MAX as usize + 1].into_boxed_slice();
    for (i, e) in entries.iter().enumerate() {
        assert!(e.0 <= FIX44_TAG_MAX, "tag {} is not FIX 4.4", e.0);
        index[e.0 as usize] = i as u16 + 1;
    }
    let scope = Scope {
        index,
        tags: entries.iter().map(|e| e.0).collect(),
        nodes: entries.iter().map(|e| e.1).collect(),
        required: (0..entries.len())
            .filter(|&i| entries[i].2)
            .map(|i| i as u16)
            .collect(),
        delimiter: first_tag(items),
    };
    scopes.push(scope);
    scopes.len() - 1
}

static DICT: LazyLock<Dict> = LazyLock::new(|| {
    let mut scopes = Vec::new();
    let header = compile_scope(HEADER, &mut scopes);
    let messages = MESSAGES
        .iter()
        .map(|&(msg_type, body, senders)| (msg_type, compile_scope(body, &mut scopes), senders))
        .collect();
    assert!(scopes.len() <= usize::from(u16::MAX));
    Dict {
        scopes,
        header,
        messages,
    }
});

/// Builds the dictionary's indexes now rather than on the first message.
pub fn warm_up() {
    LazyLock::force(&DICT);
}

// ---------------------------------------------------------------------------
// Validation.

fn reject(ref_tag: u32, reason: SessionRejectReason) -> SessionReject {
    SessionReject::new(Some(ref_tag), reason)
}

/// Checks one value against its field's type and allowed values.
fn check_value(tag: u32, ty: FieldType, values: Values, v: &[u8]) -> Result<(), SessionReject> {
    use SessionRejectReason::{IncorrectDataFormat, ValueOutOfRange};
    let format_ok = match ty {
        T::Int => {
            let d = v.strip_prefix(b"-").unwrap_or(v);
            !d.is_empty() && d.iter().all(u8::is_ascii_digit)
        }
        T::Unsigned => v.iter().all(u8::is_ascii_digit),
        T::Float => decimal::is_float_syntax(v),
        T::Char | T::Boolean => v.len() == 1,
        T::UtcTimestamp => match time::parse_utc_timestamp_ns(v) {
            Ok(_) => true,
            Err(time::TimeError::Format) => false,
            Err(time::TimeError::Range) => return Err(reject(tag, ValueOutOfRange)),
        },
        T::Date => match time::parse_date(v) {
            Ok(_) => true,
            Err(time::TimeError::Format) => false,
            Err(time::TimeError::Range) => return Err(reject(tag, ValueOutOfRange)),
        },
        T::MonthYear => is_month_year(v),
        T::String => true,
        T::MultipleValueString => !v.starts_with(b" ") && !v.ends_with(b" "),
    };
    if !format_ok {
        return Err(reject(tag, IncorrectDataFormat));
    }
    let in_range = match values {
        Values::Any => true,
        Values::Chars(allowed) => allowed.contains(&v[0]),
        Values::MultiChars(allowed) => v
            .split(|&b| b == b' ')
            .all(|item| item.len() == 1 && allowed.contains(&item[0])),
        Values::Ints(allowed) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .is_some_and(|n| allowed.contains(&n)),
    };
    if in_range {
        Ok(())
    } else {
        Err(reject(tag, ValueOutOfRange))
    }
}

/// `YYYYMM`, `YYYYMMDD` or `YYYYMMwN` (week 1 to 5).
fn is_month_year(v: &[u8]) -> bool {
    if v.len() < 6 || !v[..6].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = u32::from(v[4] - b'0') * 10 + u32::from(v[5] - b'0');
    if !(1..=12).contains(&month) {
        return false;
    }
    match &v[6..] {
        [] => true,
        [b'w', w] => (b'1'..=b'5').contains(w),
        [d1, d2] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
            let day = u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
            (1..=31).contains(&day)
        }
        _ => false,
    }
}

#[derive(Clone, Copy)]
struct GroupState {
    scope: u16,
    count_tag: u32,
    declared: u64,
    entries: u64,
    seen: Seen,
}

/// Fields seen at one level and the repeating groups open inside it.
struct Level<'d> {
    dict: &'d Dict,
    scope: usize,
    seen: Seen,
    stack: [Option<GroupState>; GROUP_DEPTH_MAX],
    depth: usize,
}

enum Step {
    Accepted,
    /// The tag belongs to no open group nor to this level.
    NotHere,
}

fn test_and_set(seen: &mut Seen, i: usize) -> bool {
    let (word, bit) = (i / 64, 1u64 << (i % 64));
    let was = seen[word] & bit != 0;
    seen[word] |= bit;
    was
}

impl<'d> Level<'d> {
    fn new(dict: &'d Dict, scope: usize) -> Level<'d> {
        Level {
            dict,
            scope,
            seen: [0; SCOPE_TAGS_MAX / 64],
            stack: [None; GROUP_DEPTH_MAX],
            depth: 0,
        }
    }

    fn open_group(
        &mut self,
        scope: u16,
        count_tag: u32,
        value: &[u8],
    ) -> Result<(), SessionReject> {
        // The count's form is checked by check_value; a malformed count
        // opens a group that no entry can satisfy unless it is empty.
        let declared = std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(reject(count_tag, SessionRejectReason::IncorrectDataFormat))?;
        assert!(
            self.depth < GROUP_DEPTH_MAX,
            "dictionary nests groups too deep"
        );
        self.stack[self.depth] = Some(GroupState {
            scope,
            count_tag,
            declared,
            entries: 0,
            seen: [0; SCOPE_TAGS_MAX / 64],
        });
        self.depth += 1;
        Ok(())
    }

    /// Closes the innermost open group, checking its entry count.
    fn close_group(&mut self) -> Result<(), SessionReject> {
        self.depth -= 1;
        let g = self.stack[self.depth].take().expect("open group");
        if g.entries != g.declared {
            return Err(reject(
                g.count_tag,
                SessionRejectReason::IncorrectNumInGroup,
            ));
        }
        Ok(())
    }

    fn close_all(&mut self) -> Result<(), SessionReject> {
        while self.depth > 0 {
            self.close_group()?;
        }
        Ok(())
    }

    fn step(&mut self, tag: u32, value: &[u8]) -> Result<Step, SessionReject> {
        let dict = self.dict;
        while self.depth > 0 {
            let g = self.stack[self.depth - 1].as_mut().expect("open group");
            let scope = &dict.scopes[usize::from(g.scope)];
            if let Some(i) = scope.find(tag) {
                if tag == scope.delimiter {
                    g.entries += 1;
                    if g.entries > g.declared {
                        return Err(reject(
                            g.count_tag,
                            SessionRejectReason::IncorrectNumInGroup,
                        ));
                    }
                    g.seen = [0; SCOPE_TAGS_MAX / 64];
                    test_and_set(&mut g.seen, i);
                    return Ok(Step::Accepted);
                }
                if g.entries == 0 {
                    return Err(reject(
                        tag,
                        SessionRejectReason::RepeatingGroupFieldsOutOfOrder,
                    ));
                }
                // A member repeated within one entry ends the group (the
                // entry's opening field is missing): fall through to close.
                if !test_and_set(&mut g.seen, i) {
                    if let Node::Group(inner) = scope.nodes[i] {
                        self.open_group(inner, tag, value)?;
                    }
                    return Ok(Step::Accepted);
                }
            }
            self.close_group()?;
        }
        let scope = &dict.scopes[self.scope];
        let Some(i) = scope.find(tag) else {
            return Ok(Step::NotHere);
        };
        if test_and_set(&mut self.seen, i) {
            return Err(reject(tag, SessionRejectReason::TagAppearsMoreThanOnce));
        }
        if let Node::Group(inner) = scope.nodes[i] {
            self.open_group(inner, tag, value)?;
        }
        Ok(Step::Accepted)
    }

    fn check_required(&self) -> Result<(), SessionReject> {
        let scope = &self.dict.scopes[self.scope];
        for &i in &scope.required {
            let i = usize::from(i);
            if self.seen[i / 64] & (1 << (i % 64)) == 0 {
                return Err(reject(
                    scope.tags[i],
                    SessionRejectReason::RequiredTagMissing,
                ));
            }
        }
        Ok(())
    }
}

/// Validates a message from a client: [`validate_with`] inbound.
#[must_use]
pub fn validate(msg: &Message<'_>) -> Validation {
    validate_with(msg, Direction::Inbound)
}

/// Validates a message against the dictionary for messages travelling in
/// `direction`; see the module documentation for the checks and their order.
#[must_use]
pub fn validate_with(msg: &Message<'_>, direction: Direction) -> Validation {
    match check(msg, direction) {
        Ok(true) => Validation::Ok,
        Ok(false) => Validation::UnsupportedMsgType,
        Err(r) => Validation::Reject(r),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Header,
    Body,
    Trailer,
}

/// `Ok(true)`: valid; `Ok(false)`: valid header, unsupported MsgType.
fn check(msg: &Message<'_>, direction: Direction) -> Result<bool, SessionReject> {
    if let Some(defect) = msg.defect() {
        return Err(defect);
    }
    let msg_type = msg.msg_type();
    if !is_fix44_msg_type(msg_type) {
        return Err(reject(MSG_TYPE, SessionRejectReason::InvalidMsgType));
    }
    let dict = &*DICT;
    let body_scope = dict
        .messages
        .iter()
        .find(|m| m.0 == msg_type)
        .filter(|m| match direction {
            Direction::Inbound => m.2 != Senders::Venue,
            Direction::Outbound => m.2 != Senders::Client,
        })
        .map(|m| m.1);
    let mut header = Level::new(dict, dict.header);
    let mut body = body_scope.map(|s| Level::new(dict, s));
    let mut section = Section::Header;
    let mut first_trailer_tag = 0;
    let mut signature_seen = (false, false);
    // 8, 9, 35 and the final 10 are pinned by the parser.
    let n = msg.field_count();
    for (tag, value) in msg.fields().take(n - 1) {
        let Some((ty, values)) = field_info(tag) else {
            if body.is_some() {
                let reason = if tag > FIX44_TAG_MAX {
                    SessionRejectReason::UndefinedTag
                } else {
                    SessionRejectReason::TagNotDefinedForMsgType
                };
                return Err(reject(tag, reason));
            }
            // Unsupported message: its body is not ours to check.
            break;
        };
        if section == Section::Header {
            match header.step(tag, value)? {
                Step::Accepted => {
                    check_value(tag, ty, values, value)?;
                    continue;
                }
                Step::NotHere => {
                    header.close_all()?;
                    section = Section::Body;
                    if body.is_none() && !is_trailer_tag(tag) {
                        break;
                    }
                }
            }
        }
        if is_trailer_tag(tag) {
            if section != Section::Trailer {
                section = Section::Trailer;
                first_trailer_tag = tag;
            }
            let seen = if tag == SIGNATURE_LENGTH {
                &mut signature_seen.0
            } else {
                &mut signature_seen.1
            };
            if std::mem::replace(seen, true) {
                return Err(reject(tag, SessionRejectReason::TagAppearsMoreThanOnce));
            }
            check_value(tag, ty, values, value)?;
            continue;
        }
        let in_header = dict.scopes[dict.header].find(tag).is_some()
            || matches!(tag, HOP_COMP_ID | HOP_SENDING_TIME | HOP_REF_ID);
        if in_header {
            return Err(reject(tag, SessionRejectReason::TagOutOfOrder));
        }
        if section == Section::Trailer {
            return Err(reject(
                first_trailer_tag,
                SessionRejectReason::TagOutOfOrder,
            ));
        }
        let Some(level) = body.as_mut() else {
            break;
        };
        match level.step(tag, value)? {
            Step::Accepted => check_value(tag, ty, values, value)?,
            Step::NotHere => {
                return Err(reject(tag, SessionRejectReason::TagNotDefinedForMsgType));
            }
        }
    }
    header.close_all()?;
    header.check_required()?;
    match body.as_mut() {
        None => Ok(false),
        Some(level) => {
            level.close_all()?;
            level.check_required()?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::codec::{FieldBuf, parse};
    use crate::fix::testing::{HDR, wire};
    use SessionRejectReason as R_;

    fn check_as(body: &str, direction: Direction) -> Validation {
        let m = wire(body);
        let mut fb = FieldBuf::new();
        let msg = parse(&m, &mut fb).expect("parses");
        validate_with(&msg, direction)
    }

    fn inbound(body: &str) -> Validation {
        check_as(body, Direction::Inbound)
    }

    fn rejected(body: &str, tag: Option<u32>, reason: SessionRejectReason) {
        assert_eq!(
            inbound(body),
            Validation::Reject(SessionReject::new(tag, reason)),
            "{body}"
        );
    }

    /// A NewOrderSingle as QuickFIX/J sends one, with the fields its users
    /// commonly set.
    fn nos(extra: &str) -> String {
        format!(
            "35=D|{HDR}11=ord-1|1=ACC1|21=1|453=2|448=TRADER1|447=D|452=11|\
             448=FIRM|447=D|452=1|802=1|523=desk|803=10|\
             55=EURUSD|48=EU0009652759|22=4|454=1|455=EUR/USD|456=8|\
             54=1|60=20240315-09:30:00.123|38=1000000|40=2|44=1.08525|\
             59=0|18=6 G|15=EUR|110=1000|111=500000|58=hello|{extra}"
        )
    }

    #[test]
    fn msg_type_ranges_match_the_list() {
        for a in 0..=255u8 {
            assert_eq!(
                is_fix44_msg_type(&[a]),
                FIX44_MSG_TYPES.contains(&&[a][..]),
                "{a}"
            );
            for b in 0..=255u8 {
                let t = [a, b];
                assert_eq!(is_fix44_msg_type(&t), FIX44_MSG_TYPES.contains(&&t[..]));
            }
        }
        assert!(!is_fix44_msg_type(b""));
        assert!(!is_fix44_msg_type(b"AAA"));
    }

    #[test]
    fn dictionary_is_consistent() {
        // Every field of every definition has a type, and each scope
        // compiles (no tag twice, groups not nested too deep).
        fn walk(items: &[Item]) {
            for item in items {
                match *item {
                    F(t) | R(t) => assert!(field_info(t).is_some(), "tag {t} has no type"),
                    C(c) | Cr(c, _) => walk(c),
                    G(g) => {
                        assert_eq!(
                            field_type(g.count),
                            Some(FieldType::Unsigned),
                            "{}",
                            g.count
                        );
                        walk(g.items);
                    }
                }
            }
        }
        walk(HEADER);
        for (msg_type, body, _) in MESSAGES {
            assert!(is_fix44_msg_type(msg_type));
            walk(body);
        }
        warm_up();
        assert_eq!(DICT.messages.len(), MESSAGES.len());
    }

    #[test]
    fn accepts_a_typical_new_order_single() {
        assert_eq!(inbound(&nos("")), Validation::Ok);
        // HandlInst is optional in FIX 4.4; PossDup and OrigSendingTime in the header.
        let without_handl_inst = nos("").replace("21=1|", "");
        assert_eq!(inbound(&without_handl_inst), Validation::Ok);
        let body = nos("").replace("|52=", "|43=Y|122=20240315-09:29:00|52=");
        assert_eq!(inbound(&body), Validation::Ok);
        // Common optional fields: expiry, stop price, min qty, max show, text.
        let gtd = nos("126=20240316-00:00:00|432=20240316|99=1.08|210=100|377=N|528=A|");
        assert_eq!(inbound(&gtd), Validation::Ok);
    }

    #[test]
    fn accepts_every_inbound_message_type() {
        let ok = [
            format!("35=0|{HDR}"),
            format!("35=0|{HDR}112=ping|"),
            format!("35=1|{HDR}112=ping|"),
            format!("35=2|{HDR}7=1|16=0|"),
            format!("35=3|{HDR}45=3|371=44|372=D|373=5|58=bad price|"),
            format!("35=4|{HDR}123=Y|36=20|"),
            format!("35=5|{HDR}58=bye|"),
            format!("35=A|{HDR}98=0|108=30|141=Y|553=user|554=secret|"),
            format!("35=A|{HDR}98=0|108=30|384=2|372=D|385=R|372=8|385=S|"),
            format!(
                "35=F|{HDR}41=ord-1|37=42|11=ord-2|55=EURUSD|54=1|60=20240315-09:30:00|38=100|"
            ),
            format!("35=F|{HDR}41=ord-1|11=ord-2|55=EURUSD|54=2|60=20240315-09:30:00|"),
            format!(
                "35=G|{HDR}41=ord-1|11=ord-3|1=ACC1|21=1|55=EURUSD|54=1|\
                 60=20240315-09:30:00|38=200|40=2|44=1.1|59=1|"
            ),
            format!("35=H|{HDR}37=42|11=ord-1|55=EURUSD|54=1|790=st-1|"),
            format!("35=q|{HDR}11=mc-1|530=7|60=20240315-09:30:00|"),
            format!("35=q|{HDR}11=mc-1|530=1|55=EURUSD|54=2|60=20240315-09:30:00|"),
            format!("35=AF|{HDR}584=ms-1|585=7|"),
            format!("35=AF|{HDR}584=ms-1|585=1|55=EURUSD|311=EUR|"),
            format!("35=x|{HDR}320=sl-1|559=4|"),
            format!("35=x|{HDR}320=sl-1|559=0|55=EURUSD|263=0|"),
            format!("35=j|{HDR}45=5|372=8|380=0|58=unknown|"),
        ];
        for body in &ok {
            assert_eq!(inbound(body), Validation::Ok, "{body}");
        }
    }

    #[test]
    fn outbound_messages_validate_only_outbound() {
        let er = format!(
            "35=8|{HDR}37=42|11=ord-1|17=e-1|150=F|39=1|55=EURUSD|54=1|38=100|\
             40=2|44=1.1|32=50|31=1.1|151=50|14=50|6=1.1|60=20240315-09:30:00.000001|"
        );
        assert_eq!(check_as(&er, Direction::Outbound), Validation::Ok);
        assert_eq!(
            check_as(&er, Direction::Inbound),
            Validation::UnsupportedMsgType
        );
        let cxl_rej = format!("35=9|{HDR}37=NONE|11=c-2|41=c-1|39=8|434=1|102=1|");
        assert_eq!(check_as(&cxl_rej, Direction::Outbound), Validation::Ok);
        let mass = format!("35=r|{HDR}11=mc-1|37=NONE|530=7|531=7|533=2|534=2|41=a|41=b|");
        assert_eq!(check_as(&mass, Direction::Outbound), Validation::Ok);
        let list = format!(
            "35=y|{HDR}320=sl-1|322=r-1|560=0|393=2|146=2|55=EURUSD|15=EUR|561=1|\
             55=USDJPY|15=USD|561=1|"
        );
        assert_eq!(check_as(&list, Direction::Outbound), Validation::Ok);
        let nos_out = nos("");
        assert_eq!(
            check_as(&nos_out, Direction::Outbound),
            Validation::UnsupportedMsgType
        );
    }

    #[test]
    fn unsupported_fix44_types_are_business_rejects() {
        // MarketDataRequest, NewOrderList, Quote: valid FIX 4.4, not ours.
        for body in [
            format!("35=V|{HDR}262=md-1|263=1|264=0|146=1|55=EURUSD|"),
            format!("35=E|{HDR}66=L1|"),
            format!("35=S|{HDR}117=q-1|55=EURUSD|"),
        ] {
            assert_eq!(inbound(&body), Validation::UnsupportedMsgType, "{body}");
        }
        // The header is still checked.
        rejected(
            "35=V|49=CLIENT|56=VENUE|52=20240315-09:30:00|262=md-1|",
            Some(MSG_SEQ_NUM),
            R_::RequiredTagMissing,
        );
    }

    #[test]
    fn reason_0_invalid_tag_number() {
        rejected(&nos("5x5=1|"), None, R_::InvalidTagNumber);
        rejected(&nos("0=1|"), None, R_::InvalidTagNumber);
    }

    #[test]
    fn reason_1_required_tag_missing() {
        for (tag, field) in [
            (CL_ORD_ID, "11=ord-1|"),
            (SYMBOL, "55=EURUSD|"),
            (SIDE, "54=1|"),
            (TRANSACT_TIME, "60=20240315-09:30:00.123|"),
            (ORDER_QTY, "38=1000000|"),
            (ORD_TYPE, "40=2|"),
        ] {
            let body = nos("").replace(&format!("|{field}"), "|");
            rejected(&body, Some(tag), R_::RequiredTagMissing);
        }
        for (tag, field) in [
            (SENDER_COMP_ID, "49=CLIENT|"),
            (TARGET_COMP_ID, "56=VENUE|"),
            (MSG_SEQ_NUM, "34=7|"),
            (SENDING_TIME, "52=20240315-09:30:00.123|"),
        ] {
            let body = nos("").replace(&format!("|{field}"), "|");
            rejected(&body, Some(tag), R_::RequiredTagMissing);
        }
        rejected(
            &format!("35=1|{HDR}"),
            Some(TEST_REQ_ID),
            R_::RequiredTagMissing,
        );
        rejected(
            &format!("35=A|{HDR}98=0|"),
            Some(HEART_BT_INT),
            R_::RequiredTagMissing,
        );
        rejected(
            &format!("35=F|{HDR}11=ord-2|55=EURUSD|54=1|60=20240315-09:30:00|"),
            Some(ORIG_CL_ORD_ID),
            R_::RequiredTagMissing,
        );
    }

    #[test]
    fn reason_2_tag_not_defined_for_msg_type() {
        // MDReqID (262) is FIX 4.4, but not in a NewOrderSingle.
        rejected(&nos("262=x|"), Some(262), R_::TagNotDefinedForMsgType);
        // Price is in the dictionary, but not in a Heartbeat.
        rejected(
            &format!("35=0|{HDR}44=1|"),
            Some(PRICE),
            R_::TagNotDefinedForMsgType,
        );
        // A group member outside its group.
        rejected(
            &nos("")
                .replace("453=2|", "")
                .replace("448=FIRM|447=D|452=1|802=1|523=desk|803=10|", ""),
            Some(PARTY_ID),
            R_::TagNotDefinedForMsgType,
        );
    }

    #[test]
    fn reason_3_undefined_tag() {
        rejected(&nos("957=x|"), Some(957), R_::UndefinedTag);
        rejected(&nos("9999=x|"), Some(9999), R_::UndefinedTag);
    }

    #[test]
    fn reason_4_tag_without_value() {
        rejected(
            &nos("").replace("55=EURUSD", "55="),
            Some(SYMBOL),
            R_::TagWithoutValue,
        );
        rejected(
            &nos("").replace("49=CLIENT", "49="),
            Some(SENDER_COMP_ID),
            R_::TagWithoutValue,
        );
    }

    #[test]
    fn reason_5_value_out_of_range() {
        for (from, to, tag) in [
            ("54=1|", "54=Z|", SIDE),
            ("40=2|", "40=X|", ORD_TYPE),
            ("59=0|", "59=9|", TIME_IN_FORCE),
            ("21=1|", "21=4|", HANDL_INST),
            ("18=6 G|", "18=6 T|", EXEC_INST),
            ("447=D|452=11|", "447=Z|452=11|", PARTY_ID_SOURCE),
            ("34=7|", "34=7|43=X|", POSS_DUP_FLAG),
            ("34=7|", "34=7|97=y|", POSS_RESEND),
            // A timestamp of the right form naming no instant.
            ("60=20240315-", "60=20230229-", TRANSACT_TIME),
        ] {
            let body = nos("").replacen(&format!("|{from}"), &format!("|{to}"), 1);
            rejected(&body, Some(tag), R_::ValueOutOfRange);
        }
        rejected(
            &format!("35=A|{HDR}98=7|108=30|"),
            Some(ENCRYPT_METHOD),
            R_::ValueOutOfRange,
        );
        rejected(
            &format!("35=A|{HDR}98=0|108=30|141=X|"),
            Some(RESET_SEQ_NUM_FLAG),
            R_::ValueOutOfRange,
        );
        rejected(
            &format!("35=4|{HDR}123=1|36=5|"),
            Some(GAP_FILL_FLAG),
            R_::ValueOutOfRange,
        );
        rejected(
            &format!("35=q|{HDR}11=m|530=9|60=20240315-09:30:00|"),
            Some(MASS_CANCEL_REQUEST_TYPE),
            R_::ValueOutOfRange,
        );
        rejected(
            &format!("35=AF|{HDR}584=m|585=9|"),
            Some(MASS_STATUS_REQ_TYPE),
            R_::ValueOutOfRange,
        );
    }

    #[test]
    fn reason_6_incorrect_data_format() {
        for (from, to, tag) in [
            ("38=1000000|", "38=1e6|", ORDER_QTY),
            ("44=1.08525|", "44=1.08.5|", PRICE),
            ("44=1.08525|", "44=+1.08|", PRICE),
            (
                "60=20240315-09:30:00.123|",
                "60=2024-03-15T09:30:00Z|",
                TRANSACT_TIME,
            ),
            (
                "60=20240315-09:30:00.123|",
                "60=20240315-09:30:00.12|",
                TRANSACT_TIME,
            ),
            ("54=1|", "54=12|", SIDE),
            ("34=7|", "34=seven|", MSG_SEQ_NUM),
            ("34=7|", "34=-7|", MSG_SEQ_NUM),
            ("52=20240315-09:30:00.123|", "52=20240315|", SENDING_TIME),
            ("34=7|", "34=7|43=YES|", POSS_DUP_FLAG),
            ("453=2|", "453=two|", NO_PARTY_IDS),
            ("803=10|", "803=ten|", PARTY_SUB_ID_TYPE),
        ] {
            let body = nos("").replacen(&format!("|{from}"), &format!("|{to}"), 1);
            rejected(&body, Some(tag), R_::IncorrectDataFormat);
        }
        rejected(
            &nos("432=2024031|"),
            Some(EXPIRE_DATE),
            R_::IncorrectDataFormat,
        );
        rejected(
            &format!("35=A|{HDR}98=0|108=3O|"),
            Some(HEART_BT_INT),
            R_::IncorrectDataFormat,
        );
        rejected(
            &format!("35=2|{HDR}7=1.5|16=0|"),
            Some(BEGIN_SEQ_NO),
            R_::IncorrectDataFormat,
        );
        rejected(
            &nos("200=202413|"),
            Some(MATURITY_MONTH_YEAR),
            R_::IncorrectDataFormat,
        );
        assert_eq!(inbound(&nos("200=202412w2|")), Validation::Ok);
    }

    #[test]
    fn reason_11_invalid_msg_type() {
        rejected(&format!("35=ZZ|{HDR}"), Some(MSG_TYPE), R_::InvalidMsgType);
        rejected(&format!("35=U1|{HDR}"), Some(MSG_TYPE), R_::InvalidMsgType);
    }

    #[test]
    fn reason_13_tag_appears_more_than_once() {
        rejected(&nos("55=GBPUSD|"), Some(SYMBOL), R_::TagAppearsMoreThanOnce);
        rejected(
            &nos("").replace("34=7|", "34=7|34=8|"),
            Some(MSG_SEQ_NUM),
            R_::TagAppearsMoreThanOnce,
        );
        rejected(
            &nos("93=1|89=x|93=1|89=x|"),
            Some(SIGNATURE_LENGTH),
            R_::TagAppearsMoreThanOnce,
        );
    }

    #[test]
    fn reason_14_tag_out_of_order() {
        // A header field after the first body field.
        rejected(&nos("43=Y|"), Some(POSS_DUP_FLAG), R_::TagOutOfOrder);
        rejected(&nos("8=FIX.4.4|"), Some(BEGIN_STRING), R_::TagOutOfOrder);
        // A trailer field before the end of the body.
        let body = nos("").replace("58=hello|", "93=3|89=sig|58=hello|");
        rejected(&body, Some(SIGNATURE_LENGTH), R_::TagOutOfOrder);
        // At the end, the signature is fine.
        assert_eq!(inbound(&nos("93=3|89=sig|")), Validation::Ok);
    }

    #[test]
    fn reason_15_group_entry_must_start_with_its_first_field() {
        let body = nos("").replace("448=TRADER1|447=D|", "447=D|448=TRADER1|");
        rejected(
            &body,
            Some(PARTY_ID_SOURCE),
            R_::RepeatingGroupFieldsOutOfOrder,
        );
    }

    #[test]
    fn reason_16_incorrect_num_in_group() {
        // Declared 3, two entries.
        rejected(
            &nos("").replace("453=2|", "453=3|"),
            Some(NO_PARTY_IDS),
            R_::IncorrectNumInGroup,
        );
        // Declared 1, two entries.
        rejected(
            &nos("").replace("453=2|", "453=1|"),
            Some(NO_PARTY_IDS),
            R_::IncorrectNumInGroup,
        );
        // Nested group: declared 2 sub-ids, one present.
        rejected(
            &nos("").replace("802=1|", "802=2|"),
            Some(NO_PARTY_SUB_IDS),
            R_::IncorrectNumInGroup,
        );
        // An entry missing its first field ends the group one entry short.
        let body = nos("").replace("448=FIRM|447=D|452=1|", "447=D|452=1|");
        rejected(&body, Some(NO_PARTY_IDS), R_::IncorrectNumInGroup);
        // A group at the very end of the message.
        rejected(
            &format!("35=A|{HDR}98=0|108=30|384=2|372=D|385=R|"),
            Some(NO_MSG_TYPES),
            R_::IncorrectNumInGroup,
        );
        // Zero entries declared and none present is fine.
        assert_eq!(
            inbound(&nos("").replace(
                "453=2|448=TRADER1|447=D|452=11|448=FIRM|447=D|452=1|802=1|523=desk|803=10|",
                "453=0|"
            )),
            Validation::Ok
        );
    }

    #[test]
    fn groups_nest_and_close() {
        // Underlying with its own alt-id group, then a top-level field again.
        let body = nos("711=2|311=EUR|457=1|458=X1|459=4|311=USD|887=1|888=A|889=B|140=1.07|");
        assert_eq!(inbound(&body), Validation::Ok);
        // Header NoHops group.
        let body = nos("").replace(
            "34=7|",
            "34=7|627=2|628=HUB1|629=20240315-09:30:00|628=HUB2|",
        );
        assert_eq!(inbound(&body), Validation::Ok);
    }

    #[test]
    fn parse_defects_come_first() {
        // An empty value is reported even though the type is also unknown.
        rejected(&format!("35=ZZ|{HDR}58=|"), Some(TEXT), R_::TagWithoutValue);
    }
}
