//! What a provider tells us about a linked bank account.

use std::fmt;

use straddle_types::paykey::AccountType;

/// A bank account number in the clear.
///
/// `Debug` shows at most the last four digits (`AccountNumber(******6789)`),
/// so a `LinkedAccount` can be logged safely. There is deliberately no
/// `Display` and no `Serialize`: callers must ask for [`AccountNumber::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccountNumber(String);

impl AccountNumber {
    /// Wraps an account number as the provider returned it.
    pub fn new(number: impl Into<String>) -> Self {
        Self(number.into())
    }

    /// The full account number, for encryption at rest or `unmasked` answers.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters (fewer when the number is shorter), as used
    /// in labels such as `"MX BANK - *0457"`.
    pub fn last4(&self) -> &str {
        let start = self
            .0
            .char_indices()
            .rev()
            .nth(3)
            .map_or(0, |(index, _)| index);
        &self.0[start..]
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A number of four characters or fewer would be shown whole by
        // `last4`, so it is hidden entirely.
        let tail = if self.0.chars().count() > 4 {
            self.last4()
        } else {
            ""
        };
        write!(f, "AccountNumber(******{tail})")
    }
}

/// A bank account as a data provider (Plaid, Quiltt or the sandbox) reports
/// it for a processor token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedAccount {
    /// Name of the bank, when the provider (or the routing directory) knows it.
    pub institution_name: Option<String>,
    /// ABA routing number as returned by the provider. Not checksum-checked
    /// (decision 10: only numbers a person typed are).
    pub routing_number: String,
    /// The account number (redacted in `Debug`).
    pub account_number: AccountNumber,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Names of the account holders; empty when the provider gives none.
    pub owner_names: Vec<String>,
    /// Current balance in cents, when known.
    pub balance_cents: Option<i64>,
}

/// Maps a Plaid `account.subtype` to our account type; `None` for anything
/// that is neither checking nor savings.
pub(crate) fn account_type_from_plaid_subtype(subtype: &str) -> Option<AccountType> {
    match subtype {
        "checking" => Some(AccountType::Checking),
        "savings" => Some(AccountType::Savings),
        _ => None,
    }
}

/// Converts an amount in currency units (Plaid's dollars) to whole cents.
pub(crate) fn dollars_to_cents(amount: f64) -> Option<i64> {
    // Saturating float-to-int casts; the range check keeps absurd values out.
    let cents = (amount * 100.0).round();
    (cents.is_finite() && cents.abs() < 1e15).then_some(cents as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_last_four_digits() {
        let number = AccountNumber::new("123456789");
        let shown = format!("{number:?}");
        assert_eq!(shown, "AccountNumber(******6789)");
        assert!(!shown.contains("12345"));
    }

    #[test]
    fn debug_hides_short_numbers_entirely() {
        assert_eq!(
            format!("{:?}", AccountNumber::new("1234")),
            "AccountNumber(******)"
        );
    }

    #[test]
    fn debug_of_a_linked_account_never_contains_the_full_number() {
        let account = LinkedAccount {
            institution_name: Some("FIRST PLATYPUS BANK".into()),
            routing_number: "011401533".into(),
            account_number: AccountNumber::new("9900009606"),
            account_type: AccountType::Checking,
            owner_names: vec!["Alberta Bobbeth Charleson".into()],
            balance_cents: Some(10_000),
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("9900009606"), "{shown}");
        assert!(shown.contains("******9606"), "{shown}");
    }

    #[test]
    fn expose_and_last4_give_the_number_and_its_tail() {
        let number = AccountNumber::new("004417253381");
        assert_eq!(number.expose(), "004417253381");
        assert_eq!(number.last4(), "3381");
        assert_eq!(AccountNumber::new("57").last4(), "57");
    }

    #[test]
    fn dollars_convert_to_rounded_cents() {
        assert_eq!(dollars_to_cents(100.0), Some(10_000));
        assert_eq!(dollars_to_cents(110.01), Some(11_001));
        assert_eq!(dollars_to_cents(0.1 + 0.2), Some(30));
        assert_eq!(dollars_to_cents(-12.5), Some(-1_250));
        assert_eq!(dollars_to_cents(f64::NAN), None);
        assert_eq!(dollars_to_cents(f64::INFINITY), None);
    }

    #[test]
    fn only_checking_and_savings_subtypes_map() {
        assert_eq!(
            account_type_from_plaid_subtype("checking"),
            Some(AccountType::Checking)
        );
        assert_eq!(
            account_type_from_plaid_subtype("savings"),
            Some(AccountType::Savings)
        );
        assert_eq!(account_type_from_plaid_subtype("cd"), None);
        assert_eq!(account_type_from_plaid_subtype("credit card"), None);
    }
}
