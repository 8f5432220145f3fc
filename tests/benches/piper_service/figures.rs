//! The machine the numbers came from (CPU, versions, load, steal) and the statistics
//! the tables print.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The machine, versions and settings, as the docs report them.
pub(crate) fn print_machine(python: &str, runner: &Path) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let versions = Command::new(python)
        .args([
            "-c",
            "import sys, importlib.metadata as m; print('Python', sys.version.split()[0], \
             ', '.join(f'{p} {m.version(p)}' for p in ('piper-tts', 'onnxruntime', 'flask', 'werkzeug')))",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let espeak = Command::new("espeak-ng")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!(
        "Machine: {cpus} CPUs usable ({model}). Ours: {} (release), ONNX Runtime 1.32.0, {espeak}. \
         Theirs: {versions}.",
        runner.display()
    );
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Cumulative CPU times of the whole machine (`/proc/stat`, clock ticks).
pub(crate) struct CpuTimes {
    pub(crate) total: u64,
    pub(crate) idle: u64,
    pub(crate) steal: u64,
}

/// Shares of the CPUs' time between two readings.
pub(crate) struct CpuShare {
    pub(crate) busy: f64,
    pub(crate) steal: f64,
}

pub(crate) fn cpu_times() -> CpuTimes {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let get = |n: usize| fields.get(n).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    CpuTimes {
        total: (0..8).map(get).sum(),
        idle: get(3) + get(4),
        steal: get(7),
    }
}

impl CpuTimes {
    pub(crate) fn share_since(&self, before: &Self) -> CpuShare {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let idle = self.idle.saturating_sub(before.idle) as f64;
        let steal = self.steal.saturating_sub(before.steal) as f64;
        CpuShare {
            busy: 1.0 - idle / total,
            steal: steal / total,
        }
    }
}

pub(crate) fn cpu_sample(length: Duration) -> CpuShare {
    let before = cpu_times();
    std::thread::sleep(length);
    cpu_times().share_since(&before)
}

pub(crate) fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

pub(crate) fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

pub(crate) fn min_f64(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

pub(crate) fn max_f64(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Milliseconds as the tables print them: no unit, one decimal below 100 ms, whole
/// milliseconds with thousands separators above.
pub(crate) fn number(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        let digits = format!("{ms:.0}");
        let mut grouped = String::new();
        for (n, c) in digits.chars().enumerate() {
            if n > 0 && (digits.len() - n) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    } else {
        format!("{ms:.1}")
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{} ms", number(d))
}

/// "lowest-highest ms" of `values`.
pub(crate) fn span(values: &[Duration]) -> String {
    format!(
        "{}-{} ms",
        number(*values.iter().min().unwrap()),
        number(*values.iter().max().unwrap())
    )
}

/// "median ms (lowest-highest)" of `values`.
pub(crate) fn median_range(values: &[Duration]) -> String {
    format!(
        "{} ({}-{})",
        ms(median(values)),
        number(*values.iter().min().unwrap()),
        number(*values.iter().max().unwrap())
    )
}
