//! Small shared pieces: timestamps and metadata maps.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Integrator-defined key/value pairs attached to a resource (≤ 20 pairs,
/// keys and values ≤ 40 characters).
pub type Metadata = BTreeMap<String, String>;

/// A point in time, serialised as RFC 3339 UTC with a `Z` suffix and
/// seven fractional digits (the precision the real service emits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The canonical text form; lexicographic order equals time order.
    pub fn to_canonical(&self) -> String {
        use chrono::{Datelike, Timelike};
        // chrono offers 3/6/9 digits; the service uses 7 (100 ns ticks).
        // Written field by field: chrono's `format` parses its pattern on
        // every call, and timestamps are written on every row and response.
        let (date, time) = (self.0.date_naive(), self.0.time());
        let ticks = time.nanosecond().min(999_999_999) / 100;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ticks:07}Z",
            date.year(),
            date.month(),
            date.day(),
            time.hour(),
            time.minute(),
            time.second()
        )
    }

    /// Parses any RFC 3339 timestamp.
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc)))
    }

    /// RFC 3339 with six fractional digits, as used by `meta.api_request_timestamp`.
    pub fn to_micros_string(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_canonical())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

/// Deserialises `metadata`, accepting `null` for the whole map and for single
/// values (a `null` value removes the key).
pub fn lenient_metadata<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Metadata>, D::Error> {
    let raw: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(raw.map(|map| {
        map.into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_has_seven_fraction_digits_and_sorts_by_time() {
        let a = Timestamp::parse("2026-01-05T11:10:07.7791204Z").unwrap();
        assert_eq!(a.to_canonical(), "2026-01-05T11:10:07.7791204Z");
        let b = Timestamp::parse("2026-01-05T11:10:08Z").unwrap();
        assert_eq!(b.to_canonical(), "2026-01-05T11:10:08.0000000Z");
        assert!(a.to_canonical() < b.to_canonical());
    }
}
