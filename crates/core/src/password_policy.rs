//! The password policy: long enough, not absurdly long, not one of the most
//! common passwords (an embedded list of 10,000, see `data/README.md`).

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Bytes, not characters: argon2 input is bytes and this bounds the work per attempt.
pub const MAX_PASSWORD_BYTES: usize = 1024;

static COMMON: OnceLock<Vec<&'static str>> = OnceLock::new();

fn common_passwords() -> &'static [&'static str] {
    COMMON.get_or_init(|| {
        let mut list: Vec<&'static str> = include_str!("../data/common-passwords.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .collect();
        list.sort_unstable();
        list
    })
}

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_chars: 8 }
    }
}

impl PasswordPolicy {
    /// Checks a new password for `username`. The message says what to change,
    /// never echoes the password.
    pub fn check(&self, username: &str, password: &str) -> Result<()> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(Error::PasswordRejected(format!(
                "it must be at least {} characters long",
                self.min_chars
            )));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::PasswordRejected(format!(
                "it must be at most {MAX_PASSWORD_BYTES} bytes long"
            )));
        }
        if password.chars().any(|c| c.is_control()) {
            return Err(Error::PasswordRejected("it must not contain control characters".into()));
        }
        let lower = password.to_lowercase();
        if common_passwords().binary_search(&lower.as_str()).is_ok() {
            return Err(Error::PasswordRejected(
                "it is one of the most common passwords; choose another".into(),
            ));
        }
        if lower == username.to_lowercase() {
            return Err(Error::PasswordRejected("it must not be the username".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let p = PasswordPolicy::default();
        assert!(p.check("alice", "Tr0ub4dor&3-horse").is_ok());
        assert!(p.check("alice", "short").is_err());
        assert!(p.check("alice", "password").is_err());
        assert!(p.check("alice", "PASSWORD1").is_err(), "case-insensitive common list");
        assert!(p.check("alice", "qwertyuiop").is_err());
        assert!(p.check("alicealice", "AliceAlice").is_err());
        assert!(p.check("alice", &"x".repeat(1025)).is_err());
        assert!(p.check("alice", &"x".repeat(1024)).is_ok());
        assert!(p.check("alice", "tab\tinside-pass").is_err());
        let strict = PasswordPolicy { min_chars: 12 };
        assert!(strict.check("alice", "elevenchars").is_err());
    }

    #[test]
    fn common_list_is_loaded() {
        assert!(common_passwords().len() >= 9000);
    }
}
