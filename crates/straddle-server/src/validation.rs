//! Field-content checks shared by resources. Each check appends an
//! `items[]` entry so one response names every failing field.

use straddle_types::{ErrorItem, Metadata};

use crate::error::{item, ApiError};

/// Collects field problems; turns into a 400 `validation_error`.
#[derive(Debug, Default)]
pub struct Problems(Vec<ErrorItem>);

impl Problems {
    /// Records a problem with `reference`.
    pub fn add(&mut self, reference: &str, detail: impl Into<String>) {
        self.0.push(item(reference, detail));
    }

    /// Records `detail` when `ok` is false.
    pub fn check(&mut self, ok: bool, reference: &str, detail: &str) {
        if !ok {
            self.add(reference, detail);
        }
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation { items: self.0 })
        }
    }
}

/// Most metadata pairs.
pub const METADATA_MAX_PAIRS: usize = 20;
/// Longest metadata key or value.
pub const METADATA_MAX_CHARS: usize = 40;

/// Metadata: ≤ 20 pairs, keys and values ≤ 40 characters, keys non-empty.
pub fn metadata(problems: &mut Problems, metadata: Option<&Metadata>) {
    let Some(metadata) = metadata else { return };
    if metadata.len() > METADATA_MAX_PAIRS {
        problems.add(
            "metadata",
            format!("At most {METADATA_MAX_PAIRS} key-value pairs are allowed."),
        );
    }
    let too_long = metadata.iter().any(|(k, v)| {
        k.chars().count() > METADATA_MAX_CHARS || v.chars().count() > METADATA_MAX_CHARS
    });
    if too_long {
        problems.add(
            "metadata",
            "Metadata keys and values must be 40 characters or fewer.",
        );
    }
    if metadata.keys().any(|k| k.trim().is_empty()) {
        problems.add("metadata", "Metadata keys must not be empty.");
    }
}

/// A plausible email address.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && text.chars().count() <= 254
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// E.164: `+`, then 7–15 digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Text made of exactly the ASCII digits and dashes of `pattern` (`#` = digit).
pub fn matches_pattern(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(c, p)| {
            if p == b'#' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

/// A non-empty string of at most `max` characters.
pub fn bounded(problems: &mut Problems, reference: &str, text: &str, max: usize) {
    if text.trim().is_empty() {
        problems.add(reference, "Must not be empty.");
    } else if text.chars().count() > max {
        problems.add(reference, format!("Must be {max} characters or fewer."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_email("ron.swanson@pawnee.com"));
        assert!(!is_email("ron@pawnee"));
        assert!(!is_email("ron swanson@pawnee.com"));
        assert!(is_e164("+12128675309"));
        assert!(!is_e164("2128675309"));
        assert!(!is_e164("+1212abc5309"));
        assert!(matches_pattern("123-45-6789", "###-##-####"));
        assert!(!matches_pattern("123456789", "###-##-####"));
    }

    #[test]
    fn metadata_limits() {
        let mut problems = Problems::default();
        let many: Metadata = (0..21)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        metadata(&mut problems, Some(&many));
        let long: Metadata = [("k".repeat(41), "v".to_string())].into();
        metadata(&mut problems, Some(&long));
        assert_eq!(problems.0.len(), 2);
    }
}
