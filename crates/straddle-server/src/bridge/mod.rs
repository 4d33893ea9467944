//! Bridge: widget session tokens (`initialize`) and the four ways to link a
//! bank account into a paykey.

pub mod routes;
pub mod session;

use straddle_providers::routing;
use straddle_types::Metadata;

use crate::validation::{self, Problems};

/// Checks a routing number a person typed: 9 digits and the ABA check digit.
pub fn check_typed_routing(problems: &mut Problems, routing_number: &str) {
    if routing_number.len() != 9 || !routing_number.bytes().all(|b| b.is_ascii_digit()) {
        problems.add("routing_number", "Routing number must be exactly 9 digits.");
    } else if !routing::check_digit_valid(routing_number) {
        problems.add("routing_number", "Routing number check digit is invalid.");
    }
}

/// Checks an account number (or TAN): 4–17 digits.
pub fn check_account_number(problems: &mut Problems, reference: &str, number: &str) {
    let digits = number.bytes().all(|b| b.is_ascii_digit());
    if !digits || !(4..=17).contains(&number.len()) {
        problems.add(reference, "Must be 4 to 17 digits.");
    }
}

/// Checks the fields every link request shares.
pub fn check_common(
    problems: &mut Problems,
    external_id: Option<&str>,
    metadata: Option<&Metadata>,
) {
    if let Some(external_id) = external_id {
        problems.check(
            external_id.chars().count() <= 255,
            "external_id",
            "Must be 255 characters or fewer.",
        );
    }
    validation::metadata(problems, metadata);
}
