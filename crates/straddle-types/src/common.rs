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
        self.canonical().as_str().to_owned()
    }

    /// The canonical form in a fixed buffer (no allocation).
    fn canonical(&self) -> Canonical {
        use chrono::{Datelike, Timelike};
        // chrono offers 3/6/9 digits; the service uses 7 (100 ns ticks).
        // Digits are written straight into a fixed buffer: timestamps are
        // written on every row and response, and `format!` cost more than
        // the rest of a timestamp's serialisation.
        let (date, time) = (self.0.date_naive(), self.0.time());
        let mut text = *b"0000-00-00T00:00:00.0000000Z";
        let mut put = |end: usize, digits: usize, mut value: u32| {
            for at in (end - digits..end).rev() {
                text[at] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(4, 4, date.year().clamp(0, 9999) as u32);
        put(7, 2, date.month());
        put(10, 2, date.day());
        put(13, 2, time.hour());
        put(16, 2, time.minute());
        put(19, 2, time.second());
        put(27, 7, time.nanosecond().min(999_999_999) / 100);
        Canonical(text)
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

/// A timestamp's canonical text: ASCII digits and separators only.
struct Canonical([u8; 28]);

impl Canonical {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical().as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.canonical().as_str())
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

    #[test]
    fn canonical_form_pads_every_field_and_serialises_the_same_text() {
        for (text, canonical) in [
            (
                "0001-02-03T04:05:06.000000001Z",
                "0001-02-03T04:05:06.0000000Z",
            ),
            (
                "2026-12-31T23:59:59.9999999Z",
                "2026-12-31T23:59:59.9999999Z",
            ),
            (
                "2026-07-09T00:00:00.1200000+02:00",
                "2026-07-08T22:00:00.1200000Z",
            ),
            ("9999-12-31T23:59:60.5Z", "9999-12-31T23:59:59.9999999Z"),
        ] {
            let at = Timestamp::parse(text).unwrap();
            assert_eq!(at.to_canonical(), canonical, "{text}");
            assert_eq!(at.to_string(), canonical);
            assert_eq!(
                serde_json::to_string(&at).unwrap(),
                format!("\"{canonical}\"")
            );
        }
    }
}
