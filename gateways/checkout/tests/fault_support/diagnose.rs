//! What a failed fault test prints besides its rules: how busy the machine was (a run that
//! waited a minute and a half for its first purchase, on a machine where that takes 7 s, may
//! have shared the CPU with something else) and the first and last lines each process logged.

use std::{collections::HashMap, fmt::Write as _, path::Path, time::Duration};

/// How many processes [`machine_load`] names.
const BUSIEST: usize = 6;
/// How many of the first and of the last lines of each process's log a failure shows.
const LOG_HEAD: usize = 8;
const LOG_TAIL: usize = 12;

/// The load average and the processes that used the most CPU over the next `window`, as one
/// line, e.g. `load 3.1 2.4 1.9; busiest over 1s: postgres 45%, commerce-checkout 30%`.
/// Linux only (`/proc`); elsewhere just says so.
pub async fn machine_load(window: Duration) -> String {
    let Ok(load) = std::fs::read_to_string("/proc/loadavg") else {
        return "machine load unknown (no /proc)".to_owned();
    };
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let before = cpu_ticks();
    tokio::time::sleep(window).await;
    let after = cpu_ticks();
    let mut used: Vec<(u64, String)> = after
        .into_iter()
        .filter_map(|(pid, (name, ticks))| {
            let earlier = before.get(&pid).map_or(0, |(_, ticks)| *ticks);
            let delta = ticks.saturating_sub(earlier);
            (delta > 0).then_some((delta, name))
        })
        .collect();
    used.sort_unstable_by_key(|(ticks, _)| std::cmp::Reverse(*ticks));
    // Clock ticks are 1/100 s on Linux: ticks per second of window = percent of one core.
    let seconds = window.as_secs_f64();
    let mut line = format!("load {}; busiest over {window:?}:", load.join(" "));
    for (ticks, name) in used.iter().take(BUSIEST) {
        let _ = write!(line, " {name} {:.0}%,", *ticks as f64 / seconds);
    }
    line.pop();
    line
}

/// CPU time (user + system, in clock ticks) of every process, by pid, with its name.
fn cpu_ticks() -> HashMap<u32, (String, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (name) state ppid …`: the name may hold spaces and parentheses.
            let (head, rest) = stat.rsplit_once(") ")?;
            let name = head.split_once(" (")?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the state.
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some((pid, (name, ticks)))
        })
        .collect()
}

/// The first and the last lines of the log at `path` (when each role began to work, and what
/// it did last), colour codes removed, indented; empty if there is none.
pub fn log_excerpt(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut excerpt = String::new();
    let mut show = |line: &str| {
        let _ = writeln!(excerpt, "    {}", without_colour(line));
    };
    if lines.len() <= LOG_HEAD + LOG_TAIL {
        for line in &lines {
            show(line);
        }
    } else {
        for line in &lines[..LOG_HEAD] {
            show(line);
        }
        show(&format!("… {} lines …", lines.len() - LOG_HEAD - LOG_TAIL));
        for line in &lines[lines.len() - LOG_TAIL..] {
            show(line);
        }
    }
    excerpt
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn without_colour(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
