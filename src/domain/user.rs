//! Reviewer accounts: roles and the rules for names and passwords.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Works the queue and decides registrations.
    Reviewer,
    /// Everything a reviewer does, and manages users.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Reviewer, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// 1–64 of `A-Z a-z 0-9 . _ @ -` (the database checks the same).
pub fn check_username(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        return Err("a username is 1 to 64 of the characters A-Z a-z 0-9 . _ @ -".into());
    }
    Ok(())
}

/// The least strength (of 0–4) zxcvbn must estimate for a password.
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// 12–256 characters, not containing the username, and estimated strong
/// enough by zxcvbn (which knows common passwords, words, names, keyboard
/// patterns and dates). The message says why a password is refused.
pub fn check_password(password: &str, username: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(format!(
            "a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("a password must not contain the username".into());
    }
    let estimate = zxcvbn::zxcvbn(password, &[username, "mpp-registrar", "alipay"]);
    if estimate.score() < MIN_PASSWORD_SCORE {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Err(format!(
            "this password is too easy to guess{why}: use a longer passphrase of unrelated words"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords() {
        assert!(check_username("alice.reviewer@wallet").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_password("short", "alice").is_err());
        assert!(check_password("correct horse battery staple", "alice").is_ok());
        let why = |p: &str, u: &str| check_password(p, u).unwrap_err();
        assert!(why("password1234", "alice").contains("too easy to guess"));
        assert!(why("qwertyuiop123", "alice").contains("too easy to guess"));
        assert!(why("alice-in-a-blue-boat", "alice").contains("username"));
        assert!(why(&"x".repeat(257), "alice").contains("12 to 256"));
    }
}
