//! Timestamps the simulators put in their answers.

use std::time::SystemTime;

/// `t` as RFC 3339 in UTC, to the second (`2026-11-30T22:15:00Z`), the way
/// GitHub and Coolify write their timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_to_the_second() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_540_900_500);
        assert_eq!(rfc3339(t), "2025-11-30T22:15:00Z");
    }
}
