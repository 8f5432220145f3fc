//! This process's resident memory, for benchmarks that drive the router in-process (so the
//! process's memory is the server's): the current and peak RSS, and resetting the peak.

/// A memory figure of this process from `/proc/self/status` (`VmHWM`, `VmRSS`), in MiB.
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| {
            v.trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap();
    kib / 1024.0
}

/// Peak resident memory since the last [`reset_peak`], in MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// Resident memory now, in MiB.
pub fn current_rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// Resets the peak to the current RSS ("5" to `clear_refs`, Linux >= 4.0).
pub fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}
