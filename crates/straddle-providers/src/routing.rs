//! ABA routing numbers: the check-digit rule (spec §G.1) and a small,
//! hand-made directory of well-known US banks (spec §G.2, decision 10).
//!
//! The directory holds facts only (routing number → institution name) for a
//! few large banks. It is not the Federal Reserve's directory and makes no
//! claim to be complete: an unknown number simply has no name.

/// Well-known routing numbers and the institution each belongs to.
///
/// Sorted by routing number so lookups can use a binary search; a unit test
/// keeps it sorted, free of duplicates and checksum-valid.
const DIRECTORY: &[(&str, &str)] = &[
    ("011000138", "BANK OF AMERICA, N.A."),
    ("011075150", "SANTANDER BANK, N.A."),
    ("011500120", "CITIZENS BANK, N.A."),
    ("021000021", "JPMORGAN CHASE BANK, NA"),
    ("021000089", "CITIBANK, N.A."),
    ("021000322", "BANK OF AMERICA, N.A."),
    ("021001088", "HSBC BANK USA, N.A."),
    ("026009593", "BANK OF AMERICA, N.A."),
    ("026073150", "COMMUNITY FEDERAL SAVINGS BANK"),
    ("031000053", "PNC BANK, N.A."),
    ("031101279", "THE BANCORP BANK"),
    ("031176110", "CAPITAL ONE, N.A."),
    ("031201360", "TD BANK, N.A."),
    ("041001039", "KEYBANK, N.A."),
    ("042000314", "FIFTH THIRD BANK, N.A."),
    ("043000096", "PNC BANK, N.A."),
    ("044000024", "THE HUNTINGTON NATIONAL BANK"),
    ("044000037", "JPMORGAN CHASE BANK, NA"),
    ("051405515", "CAPITAL ONE, N.A."),
    ("053101121", "TRUIST BANK"),
    ("061000104", "TRUIST BANK"),
    ("062000019", "REGIONS BANK"),
    ("071000013", "JPMORGAN CHASE BANK, NA"),
    ("072000096", "COMERICA BANK"),
    ("091000019", "WELLS FARGO BANK, N.A."),
    ("091000022", "U.S. BANK, N.A."),
    ("102000076", "WELLS FARGO BANK, N.A."),
    ("111000025", "BANK OF AMERICA, N.A."),
    ("121000248", "WELLS FARGO BANK, N.A."),
    ("121000358", "BANK OF AMERICA, N.A."),
    ("123000220", "U.S. BANK, N.A."),
    ("124003116", "ALLY BANK"),
    ("256074974", "NAVY FEDERAL CREDIT UNION"),
    ("314074269", "USAA FEDERAL SAVINGS BANK"),
    ("322271627", "JPMORGAN CHASE BANK, NA"),
    ("322271724", "CITIBANK, N.A."),
];

/// Digit weights of the ABA checksum, position by position.
const WEIGHTS: [u32; 9] = [3, 7, 1, 3, 7, 1, 3, 7, 1];

/// Whether `routing` is nine ASCII digits whose ABA check digit is right:
/// `3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)`.
///
/// ```
/// use straddle_providers::routing::check_digit_valid;
/// assert!(check_digit_valid("021000021"));
/// assert!(!check_digit_valid("021000022"));
/// assert!(!check_digit_valid("02100002"));
/// ```
pub fn check_digit_valid(routing: &str) -> bool {
    let bytes = routing.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    sum.is_multiple_of(10)
}

/// The institution a routing number belongs to, when it is one of the
/// well-known banks this crate ships; `None` otherwise.
///
/// ```
/// use straddle_providers::routing::institution_name;
/// assert_eq!(institution_name("026009593"), Some("BANK OF AMERICA, N.A."));
/// assert_eq!(institution_name("011401533"), None);
/// ```
pub fn institution_name(routing: &str) -> Option<&'static str> {
    DIRECTORY
        .binary_search_by(|(number, _)| (*number).cmp(routing))
        .ok()
        .map(|index| DIRECTORY[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_entry_passes_the_checksum() {
        for (number, name) in DIRECTORY {
            assert!(
                check_digit_valid(number),
                "{number} ({name}) fails the checksum"
            );
        }
    }

    #[test]
    fn directory_is_sorted_without_duplicates() {
        for pair in DIRECTORY.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} is out of order", pair[1].0);
        }
    }

    #[test]
    fn numbers_from_the_spec_pass_the_checksum() {
        for number in [
            "021000021",
            "011000138",
            "011401533",
            "026009593",
            "121000248",
            "322271627",
            "091000019",
        ] {
            assert!(check_digit_valid(number), "{number} should pass");
        }
    }

    #[test]
    fn malformed_or_wrong_numbers_fail_the_checksum() {
        for number in [
            "123456789",
            "021000022",
            "929710751",
            "",
            "02100002",
            "0210000210",
            "02100002a",
            "０21000021",
        ] {
            assert!(!check_digit_valid(number), "{number:?} should fail");
        }
    }

    #[test]
    fn directory_names_the_fixture_banks() {
        assert_eq!(institution_name("026009593"), Some("BANK OF AMERICA, N.A."));
        assert_eq!(
            institution_name("121000248"),
            Some("WELLS FARGO BANK, N.A.")
        );
        assert_eq!(
            institution_name("091000019"),
            Some("WELLS FARGO BANK, N.A.")
        );
        assert_eq!(
            institution_name("322271627"),
            Some("JPMORGAN CHASE BANK, NA")
        );
        assert_eq!(
            institution_name("021000021"),
            Some("JPMORGAN CHASE BANK, NA")
        );
    }

    #[test]
    fn sandbox_and_unknown_numbers_have_no_name() {
        assert_eq!(institution_name("011401533"), None);
        assert_eq!(institution_name("123456789"), None);
        assert_eq!(institution_name(""), None);
    }
}
