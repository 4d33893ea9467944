//! Page parameters and comma-separated list filters shared by list endpoints.

use serde::de::DeserializeOwned;

use crate::error::{item, ApiError};
use crate::storage::db::Db;
use crate::storage::query::Page;

/// Largest page any list endpoint returns.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Largest page number (the document declares `page_number` an int32).
pub const MAX_PAGE_NUMBER: u32 = i32::MAX as u32;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// A validated page request.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// 1–2147483647.
    pub number: u32,
    /// 1–1000.
    pub size: u32,
}

impl Paging {
    /// Validates `page_number` (1–2147483647) and `page_size` (1–1000).
    pub fn new(number: Option<u32>, size: Option<u32>) -> Result<Paging, ApiError> {
        let number = number.unwrap_or(1);
        let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut items = vec![];
        if number == 0 || number > MAX_PAGE_NUMBER {
            items.push(item(
                "page_number",
                format!("Must be between 1 and {MAX_PAGE_NUMBER}."),
            ));
        }
        if size == 0 || size > MAX_PAGE_SIZE {
            items.push(item(
                "page_size",
                format!("Must be between 1 and {MAX_PAGE_SIZE}."),
            ));
        }
        if !items.is_empty() {
            return Err(ApiError::InvalidRequest {
                title: "Invalid Query Parameter".into(),
                detail: "The paging parameters are out of range.".into(),
                items,
            });
        }
        Ok(Paging { number, size })
    }

    /// The requested page of a list read from `db`.
    pub fn page<'a>(&self, db: &'a Db) -> Page<'a> {
        Page {
            number: self.number,
            size: self.size,
            db,
        }
    }

    /// Pages needed for `total` items.
    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.size))
    }
}

/// Parses a comma-separated list of enum values (`status=review,rejected`),
/// as the document declares it (an array, `explode: false`, `minItems: 1`):
/// an absent parameter is no filter; an empty value, an empty item or an
/// unknown item is a 400. (`status=` would otherwise be ambiguous between no
/// value and one empty value.)
pub fn parse_list<T: DeserializeOwned>(
    reference: &str,
    text: Option<&str>,
) -> Result<Vec<T>, ApiError> {
    let Some(text) = text else {
        return Ok(vec![]);
    };
    if text.is_empty() {
        return Err(ApiError::invalid_field(
            reference,
            "List at least one value, comma-separated, or leave the parameter out.",
        ));
    }
    text.split(',')
        .map(|part| {
            serde_json::from_value(serde_json::Value::String(part.to_string()))
                .map_err(|_| ApiError::invalid_field(reference, format!("Unknown value {part:?}.")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use straddle_types::customer::CustomerStatus;

    use super::*;

    #[test]
    fn lists_are_exact_comma_separated_values() {
        let parse = |text| parse_list::<CustomerStatus>("status", Some(text));
        assert_eq!(
            parse("review,rejected").unwrap(),
            [CustomerStatus::Review, CustomerStatus::Rejected]
        );
        assert!(parse_list::<CustomerStatus>("status", None)
            .unwrap()
            .is_empty());
        for bad in ["", ",", "review,", " review", "nope"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_numbers_stop_at_the_int32_maximum() {
        assert!(Paging::new(Some(MAX_PAGE_NUMBER), None).is_ok());
        assert!(Paging::new(Some(MAX_PAGE_NUMBER + 1), None).is_err());
        assert!(Paging::new(Some(0), None).is_err());
        assert!(Paging::new(None, Some(1001)).is_err());
    }
}
