//! Process liveness, from `/proc`: whether the process that registered a reader slot
//! still runs (a pid may be reused, so its start time is compared too).

/// Start time of process `pid` in clock ticks since boot, or `None` if it does not exist.
pub(crate) fn process_start(pid: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (the command) may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether process `pid`, started at `start` (0: unknown), still runs.
pub(crate) fn process_alive(pid: u64, start: u64) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true; // no /proc: assume alive, never clear
    }
    match process_start(pid) {
        None => false,
        Some(s) => start == 0 || s == start,
    }
}
