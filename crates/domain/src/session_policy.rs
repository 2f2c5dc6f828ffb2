//! How long a session may use the admin consoles after authenticating (A5), and when it locks
//! behind the person's PIN (A6). Pure: the clock is passed in.

use crate::validate::{FieldError, Rule};
use crate::Millis;
use serde::{Deserialize, Serialize};

/// The delays a person may choose before their session locks, in minutes; 0 locks whenever the
/// page is started or hidden (and after [`IMMEDIATE_IDLE_MS`] without a request).
pub const LOCK_DELAYS_MINUTES: [u32; 6] = [0, 1, 5, 15, 30, 60];

/// With "lock at once" the client locks itself when the page is hidden; the server also locks a
/// session that made no request for this long, so a client that never says so is still bound.
pub const IMMEDIATE_IDLE_MS: i64 = 30_000;

/// An enterprise's rules for elevation and the PIN lock, kept as a policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionPolicy {
    /// Minutes without an admin action after which the admin consoles ask to authenticate again
    /// (5 to 60).
    pub elevation_minutes: u32,
    /// Every member must set a PIN before they see content.
    pub pin_required: bool,
    /// The longest lock delay a member may choose (one of [`LOCK_DELAYS_MINUTES`]).
    pub pin_max_lock_minutes: u32,
    /// Wrong PINs in a row after which the session ends and the device is wiped (3 to 10).
    pub pin_attempts: u32,
}

impl Default for SessionPolicy {
    fn default() -> SessionPolicy {
        SessionPolicy { elevation_minutes: 15, pin_required: false, pin_max_lock_minutes: 60, pin_attempts: 5 }
    }
}

impl SessionPolicy {
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(5..=60).contains(&self.elevation_minutes) {
            return Err(FieldError::new("elevation_minutes", Rule::InvalidValue, "must be between 5 and 60 minutes"));
        }
        if !LOCK_DELAYS_MINUTES.contains(&self.pin_max_lock_minutes) {
            return Err(FieldError::new(
                "pin_max_lock_minutes",
                Rule::InvalidValue,
                "must be one of 0, 1, 5, 15, 30 or 60 minutes",
            ));
        }
        if !(3..=10).contains(&self.pin_attempts) {
            return Err(FieldError::new("pin_attempts", Rule::InvalidValue, "must be between 3 and 10"));
        }
        Ok(())
    }

    pub fn elevation_ms(&self) -> i64 {
        i64::from(self.elevation_minutes) * 60_000
    }

    /// The delay that applies to a person who chose `chosen_seconds`: never longer than the
    /// enterprise allows.
    pub fn effective_lock_after(&self, chosen_seconds: i64) -> i64 {
        chosen_seconds.min(i64::from(self.pin_max_lock_minutes) * 60)
    }
}

/// Whether a session may see content now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// Open; `locks_at` is when it will lock if nothing happens (none: it never locks).
    Open { locks_at: Option<Millis> },
    /// The PIN must be entered first.
    Locked,
    /// The enterprise requires a PIN and the person has none: they must set one first.
    PinMissing,
}

/// The lock state of a session whose last request was at `active_at` (and that the client
/// locked at `locked_at`, if it did), for a person with `pin_lock_after` seconds (none: no PIN).
pub fn lock_state(
    policy: &SessionPolicy,
    pin_lock_after: Option<i64>,
    active_at: Millis,
    locked_at: Option<Millis>,
    now: Millis,
) -> LockState {
    let Some(chosen) = pin_lock_after else {
        return if policy.pin_required { LockState::PinMissing } else { LockState::Open { locks_at: None } };
    };
    if locked_at.is_some() {
        return LockState::Locked;
    }
    let idle_ms = match policy.effective_lock_after(chosen) {
        0 => IMMEDIATE_IDLE_MS,
        seconds => seconds * 1000,
    };
    let locks_at = Millis(active_at.0 + idle_ms);
    if now.0 >= locks_at.0 {
        LockState::Locked
    } else {
        LockState::Open { locks_at: Some(locks_at) }
    }
}

/// A PIN is 4 to 12 digits.
pub fn pin(field: &str, value: &str) -> Result<(), FieldError> {
    if !(4..=12).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, Rule::InvalidValue, "must be 4 to 12 digits"));
    }
    Ok(())
}

/// The lock delay a person chose, in minutes, checked against the list and the enterprise's
/// longest; returns seconds.
pub fn lock_delay(field: &str, minutes: u32, policy: &SessionPolicy) -> Result<i64, FieldError> {
    if !LOCK_DELAYS_MINUTES.contains(&minutes) {
        return Err(FieldError::new(field, Rule::InvalidValue, "must be one of 0, 1, 5, 15, 30 or 60 minutes"));
    }
    if minutes > policy.pin_max_lock_minutes {
        return Err(FieldError::new(
            field,
            Rule::InvalidValue,
            format!("your organisation allows at most {} minutes", policy.pin_max_lock_minutes),
        ));
    }
    Ok(i64::from(minutes) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_locks_after_the_delay_and_never_beyond_what_the_enterprise_allows() {
        let policy = SessionPolicy::default();
        let t = Millis(1_000_000);
        assert_eq!(lock_state(&policy, None, t, None, Millis(t.0 + 86_400_000)), LockState::Open { locks_at: None });
        let five = Some(300);
        assert_eq!(
            lock_state(&policy, five, t, None, Millis(t.0 + 299_999)),
            LockState::Open { locks_at: Some(Millis(t.0 + 300_000)) }
        );
        assert_eq!(lock_state(&policy, five, t, None, Millis(t.0 + 300_000)), LockState::Locked);
        assert_eq!(lock_state(&policy, five, t, Some(t), t), LockState::Locked, "the client locked it");
        assert_eq!(lock_state(&policy, Some(0), t, None, Millis(t.0 + IMMEDIATE_IDLE_MS)), LockState::Locked);
        let strict = SessionPolicy { pin_max_lock_minutes: 1, ..policy.clone() };
        assert_eq!(lock_state(&strict, Some(3600), t, None, Millis(t.0 + 60_000)), LockState::Locked);
        let required = SessionPolicy { pin_required: true, ..policy };
        assert_eq!(lock_state(&required, None, t, None, t), LockState::PinMissing);
    }

    #[test]
    fn pins_and_delays_are_checked() {
        assert!(pin("pin", "1234").is_ok());
        assert!(pin("pin", "123456789012").is_ok());
        for bad in ["123", "1234567890123", "12a4", "", "١٢٣٤"] {
            assert_eq!(pin("pin", bad).unwrap_err().rule, Rule::InvalidValue, "{bad}");
        }
        let policy = SessionPolicy { pin_max_lock_minutes: 15, ..SessionPolicy::default() };
        assert_eq!(lock_delay("lock_after_minutes", 5, &policy).unwrap(), 300);
        assert!(lock_delay("lock_after_minutes", 7, &policy).is_err());
        assert!(lock_delay("lock_after_minutes", 30, &policy).is_err());
        assert!(SessionPolicy { elevation_minutes: 4, ..SessionPolicy::default() }.validate().is_err());
        assert!(SessionPolicy { elevation_minutes: 61, ..SessionPolicy::default() }.validate().is_err());
        assert!(SessionPolicy { pin_attempts: 2, ..SessionPolicy::default() }.validate().is_err());
        assert!(SessionPolicy { pin_max_lock_minutes: 2, ..SessionPolicy::default() }.validate().is_err());
        assert!(SessionPolicy::default().validate().is_ok());
    }
}
