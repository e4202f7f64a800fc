//! Time: the [`Clock`] trait (now, sleep) and [`poll_until`], so every wait
//! has a deadline and tests can run a long deadline in milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A boxed future returned by [`Clock::sleep`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Source of time for waits and deadlines.
pub trait Clock: Send + Sync {
    /// Monotonic now, for deadlines.
    fn now(&self) -> Instant;
    /// Wall-clock now, for timestamps and rate-limit reset times.
    fn wall(&self) -> SystemTime;
    /// Sleeps for `d`.
    fn sleep(&self, d: Duration) -> Sleep<'_>;
}

/// The real clock (tokio sleep).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that advances only when slept on (unit tests).
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    wall_start: SystemTime,
    elapsed: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A manual clock starting at the real now.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            wall_start: SystemTime::now(),
            elapsed: Arc::default(),
        }
    }
    /// Total time slept so far.
    pub fn elapsed(&self) -> Duration {
        self.elapsed.lock().map(|e| *e).unwrap_or_default()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.wall_start + self.elapsed()
    }
    fn sleep(&self, d: Duration) -> Sleep<'_> {
        if let Ok(mut e) = self.elapsed.lock() {
            *e += d;
        }
        Box::pin(std::future::ready(()))
    }
}

/// A point in time by which a wait must end.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `d` from the clock's now.
    pub fn after(clock: &dyn Clock, d: Duration) -> Self {
        Deadline {
            at: clock.now() + d,
        }
    }
    /// Time left (zero once passed).
    pub fn remaining(&self, clock: &dyn Clock) -> Duration {
        self.at.saturating_duration_since(clock.now())
    }
    /// Whether the deadline has passed.
    pub fn passed(&self, clock: &dyn Clock) -> bool {
        self.remaining(clock).is_zero()
    }
}

/// What one poll decided.
#[derive(Debug)]
pub enum Poll<T> {
    /// Done with this value.
    Ready(T),
    /// Not yet; `changed` tells whether anything moved since the last poll
    /// (unchanged polls back off).
    Pending {
        /// Whether the state changed since the previous poll.
        changed: bool,
    },
}

/// Why [`poll_until`] stopped without a value.
#[derive(Debug, PartialEq, Eq)]
pub enum PollError<E> {
    /// The check failed.
    Failed(E),
    /// The deadline passed first.
    TimedOut,
}

/// Calls `check` until it is ready, fails, or `deadline` passes. Sleeps
/// `interval` between polls, doubling (up to `max_interval`) while nothing
/// changes, and never sleeps past the deadline.
pub async fn poll_until<T, E, F, Fut>(
    clock: &dyn Clock,
    deadline: Deadline,
    interval: Duration,
    max_interval: Duration,
    mut check: F,
) -> Result<T, PollError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let mut wait = interval;
    loop {
        match check().await.map_err(PollError::Failed)? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending { changed } => {
                wait = if changed {
                    interval
                } else {
                    (wait * 2).min(max_interval.max(interval))
                };
            }
        }
        let left = deadline.remaining(clock);
        if left.is_zero() {
            return Err(PollError::TimedOut);
        }
        clock.sleep(wait.min(left)).await;
    }
}

/// Formats a wall-clock time as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Formats an age like `3m` or `2h 5m` (coarse, for tables).
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d", s / 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_until_backs_off_and_times_out() {
        let clock = ManualClock::new();
        let deadline = Deadline::after(&clock, Duration::from_secs(300));
        let mut calls = 0u32;
        let r: Result<(), PollError<()>> = poll_until(
            &clock,
            deadline,
            Duration::from_secs(5),
            Duration::from_secs(60),
            || {
                calls += 1;
                async { Ok(Poll::Pending { changed: false }) }
            },
        )
        .await;
        assert_eq!(r, Err(PollError::TimedOut));
        assert!(clock.elapsed() <= Duration::from_secs(300));
        // 10 + 20 + 40 + 60*3 = 250, then 50 left: fewer polls than a fixed 5 s poller (60).
        assert!(calls < 12, "calls = {calls}");
    }

    #[tokio::test]
    async fn poll_until_returns_ready_value() {
        let clock = ManualClock::new();
        let deadline = Deadline::after(&clock, Duration::from_secs(10));
        let mut n = 0;
        let r: Result<u32, PollError<()>> = poll_until(
            &clock,
            deadline,
            Duration::from_secs(1),
            Duration::from_secs(1),
            || {
                n += 1;
                let v = n;
                async move {
                    Ok(if v == 3 {
                        Poll::Ready(v)
                    } else {
                        Poll::Pending { changed: true }
                    })
                }
            },
        )
        .await;
        assert_eq!(r, Ok(3));
        assert_eq!(clock.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn ages_are_coarse() {
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(185)), "3m");
        assert_eq!(age(Duration::from_secs(7500)), "2h 5m");
    }
}
