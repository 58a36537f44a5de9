//! OpenAPI schemas of the identifiers and codes that are written as strings (feature `openapi`,
//! which the HTTP server turns on). Derived schemas of the other types refer to these.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema with a description and, where there is one, a pattern.
fn text(description: &str, pattern: Option<&str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .into()
}

macro_rules! string_schemas {
    ($($t:ty => $description:literal, $pattern:expr;)*) => {$(
        impl utoipa::PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                text($description, $pattern)
            }
        }
        impl utoipa::ToSchema for $t {}
    )*};
}

string_schemas! {
    crate::SubjectId => "a Unified Social Credit Code (GB 32100-2015, 18 characters) or an LEI (ISO 17442, 20 characters)", None;
    crate::Slug => "an id of lowercase ASCII letters, digits, `_`, `-` and `.`, starting with a letter", Some("^[a-z][a-z0-9_.-]{0,63}$");
    crate::Region => "a six-digit administrative division code (GB/T 2260)", Some("^[0-9]{6}$");
    crate::Currency => "an ISO 4217 alphabetic currency code", Some("^[A-Z]{3}$");
    crate::DocumentHash => "the SHA-256 of a decision document, in lowercase hex", Some("^[0-9a-f]{64}$");
}
