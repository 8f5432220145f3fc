//! The process's resource use for `/api/v1/metrics` and `/health`'s `system_info`, with
//! the original's keys: CPU, memory (from `/proc`), free disk under a filesystem store
//! (`statvfs`) and file counts. On systems without `/proc` the figures are null.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;

/// `system_info` / `system`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemInfo {
    /// This process's CPU use since the previous reading (100 = one core busy).
    pub cpu_percent: Option<f64>,
    /// Memory of this process.
    pub memory: MemoryInfo,
    /// Free space where a filesystem store keeps its data (nulls for S3).
    pub disk: DiskInfo,
    /// Objects in the library areas (`temp` is always 0: nothing is kept in a temp area).
    pub file_counts: FileCounts,
}

/// Memory of this process.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemoryInfo {
    /// Resident set size in MB.
    pub rss_mb: Option<f64>,
    /// Virtual size in MB.
    pub vms_mb: Option<f64>,
    /// Resident size as a percentage of the machine's memory.
    pub percent: Option<f64>,
}

/// Free space of the filesystem store's volume.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskInfo {
    /// Free space available to the service, in GB.
    pub free_gb: Option<f64>,
    /// Used share of the volume, in percent.
    pub usage_percent: Option<f64>,
}

/// Objects per area.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FileCounts {
    /// Audio files (not sidecars) under `outputs/` (null in `/health`, which does not list
    /// the store).
    pub outputs: Option<usize>,
    /// Always 0 (kept for the original's clients).
    pub temp: usize,
}

/// CPU time at the previous reading, for the next one's percentage.
#[derive(Debug)]
pub struct CpuClock {
    previous: Mutex<Option<(Instant, f64)>>,
    started: Instant,
}

impl Default for CpuClock {
    fn default() -> Self {
        Self {
            previous: Mutex::new(None),
            started: Instant::now(),
        }
    }
}

impl CpuClock {
    /// CPU use since the previous call (or since start), in percent of one core.
    pub fn percent(&self) -> Option<f64> {
        let cpu = process_cpu_seconds()?;
        let now = Instant::now();
        let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
        let (since, cpu_then) = previous.unwrap_or((self.started, 0.0));
        *previous = Some((now, cpu));
        let wall = now.duration_since(since).as_secs_f64();
        (wall > 0.0).then(|| round2((cpu - cpu_then).max(0.0) / wall * 100.0))
    }
}

/// User plus system CPU seconds of this process.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after its ')' are fixed.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 overall, 11 and 12 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let per_second = rustix::param::clock_ticks_per_second() as f64;
    (per_second > 0.0).then(|| ticks / per_second)
}

/// Resident and virtual size of this process in bytes.
pub fn process_memory_bytes() -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    (kb_field(&status, "VmRSS:"), kb_field(&status, "VmSize:"))
}

fn kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

fn machine_memory_bytes() -> Option<u64> {
    kb_field(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal:")
}

/// Reads the figures now. `data_dir` is the filesystem store's folder (None for S3),
/// `outputs` the number of output files when known.
pub fn read(clock: &CpuClock, data_dir: Option<&Path>, outputs: Option<usize>) -> SystemInfo {
    let (rss, vms) = process_memory_bytes();
    let mb = |b: u64| round2(b as f64 / 1_048_576.0);
    let disk = data_dir
        .and_then(|dir| rustix::fs::statvfs(dir).ok())
        .map(|s| {
            let total = s.f_blocks as f64 * s.f_frsize as f64;
            let free = s.f_bavail as f64 * s.f_frsize as f64;
            let used = total - s.f_bfree as f64 * s.f_frsize as f64;
            DiskInfo {
                free_gb: Some(round2(free / 1e9)),
                usage_percent: (total > 0.0).then(|| round2(used / total * 100.0)),
            }
        })
        .unwrap_or(DiskInfo {
            free_gb: None,
            usage_percent: None,
        });
    SystemInfo {
        cpu_percent: clock.percent(),
        memory: MemoryInfo {
            rss_mb: rss.map(mb),
            vms_mb: vms.map(mb),
            percent: rss
                .zip(machine_memory_bytes())
                .filter(|(_, total)| *total > 0)
                .map(|(rss, total)| round2(rss as f64 / total as f64 * 100.0)),
        },
        disk,
        file_counts: FileCounts { outputs, temp: 0 },
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_come_from_proc_on_linux() {
        let clock = CpuClock::default();
        let info = read(&clock, Some(Path::new("/")), Some(3));
        assert!(info.memory.rss_mb.is_some_and(|mb| mb > 1.0));
        assert!(info.memory.vms_mb >= info.memory.rss_mb);
        assert!(info.disk.free_gb.is_some());
        assert!(info.cpu_percent.is_some_and(|p| p >= 0.0));
        assert_eq!(info.file_counts.outputs, Some(3));
    }
}
