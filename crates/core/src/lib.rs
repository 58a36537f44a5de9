//! The pure core of probity: checked identifiers of legal entities, the domain types an authority
//! files, and the journal events the registry's state is derived from.
//!
//! Nothing here performs I/O, reads a clock or spawns a thread. Every value that enters the
//! registry passes through a constructor in this crate, so an invalid code, an empty legal basis
//! or a record without a decision number cannot exist as a typed value.
//!
//! ```
//! use probity_core::SubjectId;
//!
//! let id = SubjectId::parse(" 91110000600037341l ").unwrap();
//! assert_eq!(id.as_str(), "91110000600037341L");
//! assert!(SubjectId::parse("92110000600037341L").is_err()); // individually owned business
//! ```

mod event;
mod id;
mod inspection;
mod model;
#[cfg(feature = "openapi")]
mod openapi;
mod personal;
mod process;
mod text;

pub use event::{
    EVENT_FORMAT_VERSION, Encoded, Event, EventBody, LEAF_FORMAT_VERSION, WITHHELD_TEXT, leaf_data,
};
pub use id::{
    IdError, Lei, Region, SubjectId, USCC_KINDS, Uscc, lei_check_digits, org_check_char,
    uscc_check_char,
};
pub use inspection::{
    BeaconRound, InspectionDraw, InspectionPlan, PLAN_LIST_MAX, PlanKey, Scope, Target,
};
pub use model::{
    Authority, Currency, DocumentHash, ModelError, Money, PERSONAL_DATA_FRAGMENTS, Record,
    RecordFields, RecordKey, Subject, SubjectKind, SubjectStatus, limits,
};
pub use personal::{Identifier, find_personal_identifier};
pub use process::{Case, CaseKind, ObjectionOutcome, ObjectionState, RepairState, Step, StepError};
pub use text::{Slug, TextError, check_key, check_prose, check_text};

/// Calendar dates are civil dates without a time zone, as written on a decision.
pub type Date = jiff::civil::Date;
/// Instants are when the registry learned something.
pub type Timestamp = jiff::Timestamp;

/// The UTC date of an instant: the day the registry's clocks count an event on.
pub fn date_of(t: Timestamp) -> Date {
    jiff::tz::TimeZone::UTC.to_datetime(t).date()
}
