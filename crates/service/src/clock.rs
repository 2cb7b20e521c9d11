//! Injected time, so tests can jump past a grace period or a break's end date.

use hiatus_domain::Micros;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in microseconds UTC.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Micros;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        jiff::Timestamp::now().as_microsecond()
    }
}

/// A clock that only moves when told to; shared handles see the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: Micros) -> Self {
        Self(Arc::new(AtomicI64::new(at)))
    }
    /// Moves forward by `by` microseconds.
    pub fn advance(&self, by: Micros) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
    /// Sets the time.
    pub fn set(&self, at: Micros) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats microseconds as an RFC 3339 UTC timestamp for people and logs.
pub fn format_time(t: Micros) -> String {
    jiff::Timestamp::from_microsecond(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// Formats microseconds as a calendar date (UTC).
pub fn format_date(t: Micros) -> String {
    jiff::Timestamp::from_microsecond(t)
        .map(|ts| jiff::tz::Offset::UTC.to_datetime(ts).date().to_string())
        .unwrap_or_else(|_| t.to_string())
}
