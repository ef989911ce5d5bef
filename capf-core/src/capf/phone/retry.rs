//! The phone's retry policy across sessions (spec 2, Appendix B): after a
//! communication failure the phone tries again, three more times at
//! 30-second intervals; a refusal or a completed operation ends the
//! enrolment.

use core::time::Duration;

use super::outcome::PhoneOutcome;
use crate::time::Timestamp;

/// How many more sessions to try after communication failures, and how
/// long to wait before each.
///
/// ```
/// use capf_core::capf::phone::RetryPolicy;
/// let cisco = RetryPolicy::default();
/// assert_eq!(cisco.retries, 3);
/// assert_eq!(cisco.interval.as_secs(), 30);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Cisco: 3, so 4 attempts in all).
    pub retries: u32,
    /// Wait between a failed attempt and the next (Cisco: 30 seconds).
    pub interval: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            interval: Duration::from_secs(30),
        }
    }
}

/// What to do after an attempt.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryDecision {
    /// Start a new session at this time.
    RetryAt(Timestamp),
    /// Stop: the server refused, the phone failed on its own, the server
    /// broke the protocol, or the retries are used up.
    GiveUp,
    /// Stop: the operation completed (or there was nothing to do).
    Finished,
}

/// The attempts of one enrolment, sans-IO: record each session's outcome,
/// then start the next session when [`poll_timeout`](Self::poll_timeout)
/// says (the host sleeps; nothing here does).
///
/// Only [`PhoneOutcome::CommunicationFailure`] is retried. The Cisco
/// documents speak of failures "during an install"; a phone cannot know
/// the scheduled operation before the server asks, so every communication
/// failure counts.
///
/// ```
/// use capf_core::capf::phone::{CommunicationFailure, EnrollmentAttempts, PhoneOutcome, RetryDecision, RetryPolicy};
/// use capf_core::time::Timestamp;
///
/// let mut attempts = EnrollmentAttempts::new(RetryPolicy::default());
/// let t0 = Timestamp::from_unix_seconds(1_000);
/// let lost = PhoneOutcome::CommunicationFailure(CommunicationFailure::PeerClosed);
/// assert_eq!(attempts.record_outcome(&lost, t0), RetryDecision::RetryAt(t0.plus_seconds(30)));
/// assert_eq!(attempts.poll_timeout(), Some(t0.plus_seconds(30)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentAttempts {
    policy: RetryPolicy,
    attempts: u32,
    retry_at: Option<Timestamp>,
    concluded: Option<RetryDecision>,
}

impl EnrollmentAttempts {
    /// No attempt recorded yet.
    pub const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            attempts: 0,
            retry_at: None,
            concluded: None,
        }
    }

    /// The policy.
    pub const fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Sessions recorded so far.
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records how a session ended at `now` and says what to do next. Once
    /// the enrolment has concluded (given up or finished), later calls
    /// return the same conclusion and record nothing.
    pub fn record_outcome(&mut self, outcome: &PhoneOutcome, now: Timestamp) -> RetryDecision {
        if let Some(concluded) = self.concluded {
            return concluded;
        }
        self.attempts = self.attempts.saturating_add(1);
        self.retry_at = None;
        let decision = if outcome.is_success() {
            RetryDecision::Finished
        } else if outcome.is_communication_failure() && self.attempts <= self.policy.retries {
            let millis = u64::try_from(self.policy.interval.as_millis()).unwrap_or(u64::MAX);
            let at = now.plus_millis(millis);
            self.retry_at = Some(at);
            return RetryDecision::RetryAt(at);
        } else {
            RetryDecision::GiveUp
        };
        self.concluded = Some(decision);
        decision
    }

    /// When the next session is due, if one is.
    pub const fn poll_timeout(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// True (once) when the next session is due at `now`; the host then
    /// starts it. Clears the timer.
    pub fn handle_timeout(&mut self, now: Timestamp) -> bool {
        match self.retry_at {
            Some(at) if now >= at => {
                self.retry_at = None;
                true
            }
            _ => false,
        }
    }

    /// The conclusion, once given up or finished.
    pub const fn conclusion(&self) -> Option<RetryDecision> {
        self.concluded
    }
}
