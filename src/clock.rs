//! The one clock: CLOCK_MONOTONIC (std's `Instant`), expressed to the core as
//! microseconds since the service started.

use livepush_core::time::Instant;

/// CLOCK_MONOTONIC now, in µs: the clock V4L2 buffer timestamps use (and
/// std's `Instant`).
pub fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Maps std instants to core instants.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Self {
        Clock {
            origin: std::time::Instant::now(),
        }
    }
    /// The origin (media timestamps count from it too).
    pub fn origin(&self) -> std::time::Instant {
        self.origin
    }
    /// Now, as a core instant.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }
}

/// The wall clock, for people only (the status API and `livepush status`):
/// nothing livepush times or stamps reads it. A board without a real-time
/// clock starts in 1970 and jumps when NTP answers; a jump changes this
/// and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wall {
    /// UTC, RFC 3339 (`2026-12-05T11:35:00Z`).
    pub utc: String,
    /// Whether the kernel says the clock is synchronised (adjtimex: not
    /// `TIME_ERROR`; systemd-timesyncd and chrony clear that when they
    /// have set it).
    pub synchronized: bool,
}

/// The wall clock now, and whether it is synchronised.
pub fn wall() -> Wall {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    // SAFETY: adjtimex with modes 0 only reads; it fills the struct we own.
    let state = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        libc::adjtimex(&mut t)
    };
    Wall {
        utc: rfc3339(ts.tv_sec),
        synchronized: state >= 0 && state != libc::TIME_ERROR,
    }
}

/// Seconds since the epoch as RFC 3339 UTC (the civil-from-days algorithm).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod wall_tests {
    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_470_500), "2026-12-05T11:35:00Z");
        assert_eq!(super::rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(super::rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
