//! How repeated failed sign-ins are answered.
//!
//! Failures count per username *and address*, and per address: an attacker
//! at one address can lock a user out at that address, never at another.
//! Across addresses a username only slows down past a high ceiling, so that
//! spraying guesses from many addresses is slow, yet the right password
//! still gets in. A refused try is not a failure and extends nothing.

use std::time::Duration;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures allowed for one username from one address.
pub const MAX_PER_USER_AT_ADDRESS: i64 = 5;
/// Failures allowed from one address, whatever the usernames.
pub const MAX_PER_ADDRESS: i64 = 20;
/// Failures for one username, from any address, past which every attempt is slowed.
pub const SLOW_PER_USER: i64 = 100;
/// How much a slowed attempt waits.
pub const SLOW_DELAY: Duration = Duration::from_secs(3);

/// Failures (and attempts still being checked) within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub user_at_address: i64,
    pub address: i64,
    pub user: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Check the password.
    Allow,
    /// Check the password after `SLOW_DELAY`.
    Slow,
    /// Refuse without checking.
    Refuse,
}

pub fn judge(failures: &Failures) -> Throttle {
    if failures.user_at_address >= MAX_PER_USER_AT_ADDRESS || failures.address >= MAX_PER_ADDRESS {
        Throttle::Refuse
    } else if failures.user >= SLOW_PER_USER {
        Throttle::Slow
    } else {
        Throttle::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(user_at_address: i64, address: i64, user: i64) -> Failures {
        Failures {
            user_at_address,
            address,
            user,
        }
    }

    #[test]
    fn limits_are_per_user_and_address_and_per_address() {
        assert_eq!(judge(&failures(4, 4, 4)), Throttle::Allow);
        assert_eq!(judge(&failures(5, 5, 5)), Throttle::Refuse);
        assert_eq!(judge(&failures(0, 20, 0)), Throttle::Refuse);
        // Another address is not locked out by failures elsewhere...
        assert_eq!(judge(&failures(0, 0, 99)), Throttle::Allow);
        // ...only slowed once the username's ceiling is passed.
        assert_eq!(judge(&failures(0, 0, 100)), Throttle::Slow);
    }
}
