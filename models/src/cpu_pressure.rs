//! How contended the CPUs are right now, from Linux pressure stall information (PSI):
//! the share of the last ten seconds in which some runnable task waited for a CPU.
//!
//! The container's own cgroup (v2) is read first, then the whole system's figure. Where
//! neither exists (other kernels, some sandboxes) there is no answer, and callers assume
//! an idle machine, which is what a single-tenant sandbox such as Lambda's is.

use std::path::Path;

/// Where the figure is read, most specific first.
const SOURCES: [&str; 2] = ["/sys/fs/cgroup/cpu.pressure", "/proc/pressure/cpu"];

/// Above this share (percent of the last ten seconds with a task waiting for a CPU) the
/// machine counts as contended. Measured on a 2-vCPU VM: 3% while this service answered
/// requests back to back on its own, 70-83% with two busy loops beside it.
pub const CONTENDED_PERCENT: f64 = 20.0;

/// The share of the last ten seconds in which some runnable task waited for a CPU, in
/// percent; `None` where the kernel does not say.
pub fn recent_wait_percent() -> Option<f64> {
    SOURCES
        .iter()
        .find_map(|source| read_some_avg10(Path::new(source)))
}

/// Whether other work is competing for the CPUs (see [`CONTENDED_PERCENT`]); false where
/// the kernel does not say.
pub fn contended() -> bool {
    recent_wait_percent().is_some_and(|percent| percent >= CONTENDED_PERCENT)
}

fn read_some_avg10(path: &Path) -> Option<f64> {
    parse_some_avg10(&std::fs::read_to_string(path).ok()?)
}

/// `avg10` of the `some` line of a PSI file
/// (`some avg10=1.23 avg60=0.50 avg300=0.10 total=12345`).
fn parse_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|line| line.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("avg10="))?
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && *value >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_some_line() {
        let text = "some avg10=83.06 avg60=40.00 avg300=10.00 total=4034353119\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_some_avg10(text), Some(83.06));
    }

    #[test]
    fn refuses_what_is_not_a_psi_file() {
        assert_eq!(parse_some_avg10(""), None);
        assert_eq!(
            parse_some_avg10("full avg10=5.00 avg60=0 avg300=0 total=0"),
            None
        );
        assert_eq!(parse_some_avg10("some avg10=NaN avg60=0"), None);
        assert_eq!(parse_some_avg10("some avg10=-1 avg60=0"), None);
        assert_eq!(parse_some_avg10("some avg60=1.0"), None);
    }

    #[test]
    fn answers_on_this_machine_when_the_kernel_has_psi() {
        if Path::new(SOURCES[1]).exists() || Path::new(SOURCES[0]).exists() {
            let percent = recent_wait_percent().expect("a PSI file that parses");
            assert!((0.0..=100.0).contains(&percent), "{percent}");
        }
    }
}
