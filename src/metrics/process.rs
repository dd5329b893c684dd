//! The process's own figures, read from `/proc/self` when scraped (the
//! names Prometheus' process collectors use): resident memory, CPU time,
//! threads, open file descriptors.

/// What `/proc/self` says now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Process {
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub open_fds: u64,
}

/// Reads `/proc/self` (None: not Linux, or `/proc` not mounted).
pub fn read() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut p = parse(&stat, &statm, page_size(), ticks_per_second())?;
    p.open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Some(p)
}

fn page_size() -> u64 {
    sysconf(libc::_SC_PAGESIZE, 4096)
}

fn ticks_per_second() -> u64 {
    sysconf(libc::_SC_CLK_TCK, 100)
}

/// sysconf(3)'s `name`, or `default` when it has no answer.
fn sysconf(name: libc::c_int, default: u64) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(name) };
    if n > 0 {
        n as u64
    } else {
        default
    }
}

/// `stat` and `statm` of proc(5). The command name (field 2) may hold
/// spaces and parentheses: fields are counted after its last `)`.
fn parse(stat: &str, statm: &str, page: u64, ticks: u64) -> Option<Process> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state)
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let utime = field(14)?;
    let stime = field(15)?;
    let threads = field(20)?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(Process {
        resident_bytes: resident_pages * page,
        cpu_seconds: (utime + stime) as f64 / ticks.max(1) as f64,
        threads,
        open_fds: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_command_name() {
        // a command name with a space and a parenthesis in it
        let stat = "4242 (live (push) x) S 1 4242 4242 0 -1 4194560 1834 0 0 0 250 75 0 0 20 0 7 0 12345 123456789 3000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        let p = parse(stat, "30000 3000 500 100 0 2000 0", 4096, 100).unwrap();
        assert_eq!(p.resident_bytes, 3000 * 4096);
        assert!((p.cpu_seconds - 3.25).abs() < 1e-9, "{}", p.cpu_seconds);
        assert_eq!(p.threads, 7);
        assert_eq!(parse("garbage", "", 4096, 100), None);
        assert_eq!(parse("1 (x) S 1", "1 2", 4096, 100), None);
    }

    #[test]
    fn this_process_reads() {
        let p = read().expect("/proc/self");
        assert!(p.resident_bytes > 1 << 20, "{p:?}");
        assert!(p.threads >= 1 && p.open_fds >= 3, "{p:?}");
    }
}
