//! Bounded capture of what a guest prints on stdout/stderr during one
//! invocation, keeping the first `panic: …` line however much is printed.
//!
//! The work is bounded too: the first [`SCAN_LIMIT`] bytes of an invocation's
//! output are examined line by line. Past them a write is only looked at
//! where it starts (its first [`MAX_LINE`] bytes) and where it ends, so a
//! guest printing gigabytes costs the host a bounds check per write. A
//! panic line is still found there when a write starts it, as TinyGo's and
//! Go's runtimes do (they flush at each newline and print `panic: ` on its
//! own).

/// Longest line kept for panic detection; a longer panic message is cut.
const MAX_LINE: usize = 1024;
/// Lines that carry a guest's dying message: TinyGo and Go panics, and Go
/// runtime failures (`fatal error: out of memory`, deadlocks).
const PANIC_PREFIXES: &[&[u8]] = &[b"panic: ", b"fatal error: "];
/// Bytes of output per invocation examined line by line (≈ 1 ms of work).
const SCAN_LIMIT: usize = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct Output {
    limit: usize,
    captured: Vec<u8>,
    dropped: usize,
    /// Partial line per stream (stdout, stderr), for panic detection.
    lines: [Vec<u8>; 2],
    /// Per stream: the current line's start was not seen (past the scan
    /// limit), so it cannot be a panic line.
    unseen: [bool; 2],
    scanned: usize,
    /// The first panic line as printed, and the length of its prefix.
    panic_line: Option<(String, usize)>,
}

impl Output {
    pub(crate) fn new(limit: usize) -> Self {
        Output { limit, ..Output::default() }
    }

    pub(crate) fn clear(&mut self) {
        self.captured.clear();
        self.dropped = 0;
        self.lines[0].clear();
        self.lines[1].clear();
        self.unseen = [false; 2];
        self.scanned = 0;
        self.panic_line = None;
    }

    /// Records bytes written to stdout (`stream` 0) or stderr (1).
    pub(crate) fn write(&mut self, stream: usize, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.captured.len());
        let kept = room.min(bytes.len());
        self.captured.extend_from_slice(&bytes[..kept]);
        self.dropped = self.dropped.saturating_add(bytes.len() - kept);
        let scan = (SCAN_LIMIT - self.scanned).min(bytes.len());
        self.scanned += scan;
        self.scan(stream, &bytes[..scan]);
        let rest = &bytes[scan..];
        if rest.is_empty() {
            return;
        }
        // Past the scan limit: the write's start, then only its last byte.
        let head = &rest[..rest.len().min(MAX_LINE)];
        self.scan(stream, head);
        if head.len() < rest.len() {
            self.lines[stream].clear();
            self.unseen[stream] = rest.last() != Some(&b'\n');
        }
    }

    /// Feeds `bytes` to the line detection of `stream`.
    fn scan(&mut self, stream: usize, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let chunk = &bytes[..end.unwrap_or(bytes.len())];
            if !self.unseen[stream] {
                let line = &mut self.lines[stream];
                let room = MAX_LINE.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            match end {
                Some(end) => {
                    self.finish_line(stream);
                    bytes = &bytes[end + 1..];
                }
                None => break,
            }
        }
    }

    fn finish_line(&mut self, stream: usize) {
        self.unseen[stream] = false;
        let line = &mut self.lines[stream];
        if self.panic_line.is_none()
            && let Some(prefix) = PANIC_PREFIXES.iter().find(|prefix| line.starts_with(prefix))
        {
            let printed = String::from_utf8_lossy(line);
            self.panic_line = Some((printed.trim_end().to_owned(), prefix.len()));
        }
        line.clear();
    }

    /// The message of the first `panic: ` line, counting an unterminated last line.
    pub(crate) fn panic_message(&mut self) -> Option<String> {
        self.panic_line().map(|(line, prefix)| line[prefix..].to_owned())
    }

    /// The first panic line as printed (`panic: …`, `fatal error: …`), and
    /// the length of its prefix.
    pub(crate) fn panic_line(&mut self) -> Option<(&str, usize)> {
        self.finish_line(0);
        self.finish_line(1);
        self.panic_line.as_ref().map(|(line, prefix)| (line.as_str(), (*prefix).min(line.len())))
    }

    /// What was captured (lossy UTF-8), with a note when output was dropped.
    pub(crate) fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.captured).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[extwasm: {} more bytes of output dropped]", self.dropped));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_line_survives_a_flood_and_split_writes() {
        let mut out = Output::new(16);
        for _ in 0..1000 {
            out.write(0, b"lots of chatter\n");
        }
        out.write(0, b"pan");
        out.write(0, b"ic: negative ");
        out.write(0, b"order amount\n");
        out.write(1, b"panic: second one\n");
        assert_eq!(out.panic_message().as_deref(), Some("negative order amount"));
        assert!(out.text().starts_with("lots of chatter\n"));
        assert!(out.text().contains("more bytes of output dropped"));
    }

    #[test]
    fn unterminated_panic_line_counts_and_clear_resets() {
        let mut out = Output::new(1024);
        out.write(1, b"panic: boom");
        assert_eq!(out.panic_message().as_deref(), Some("boom"));
        out.clear();
        assert_eq!(out.panic_message(), None);
        assert_eq!(out.text(), "");
    }

    #[test]
    fn go_runtime_fatal_errors_count_as_panics() {
        let mut out = Output::new(1024);
        out.write(1, b"fatal error: out of memory\n\ngoroutine 1 [running]:\n");
        assert_eq!(out.panic_message().as_deref(), Some("out of memory"));
        assert_eq!(out.panic_line(), Some(("fatal error: out of memory", "fatal error: ".len())));
    }

    #[test]
    fn past_the_scan_limit_a_write_is_looked_at_only_where_it_starts() {
        let mut out = Output::new(16);
        let mut total = 0;
        let mut write = |out: &mut Output, bytes: &[u8]| {
            total += bytes.len();
            out.write(0, bytes);
        };
        write(&mut out, &vec![b'x'; SCAN_LIMIT + 10]);
        // Mid-line: a later "panic: " continues a line whose start was not a panic.
        write(&mut out, b"panic: not a line start\n");
        // The scan budget is spent: past its first MAX_LINE bytes, a write
        // is not examined.
        write(&mut out, &[vec![b'c'; 2 * MAX_LINE], b"\npanic: hidden in the middle\n".to_vec()].concat());
        assert_eq!(out.panic_message(), None);
        write(&mut out, &[vec![b'y'; 4 * MAX_LINE], b"\n".to_vec()].concat());
        write(&mut out, b"pan");
        write(&mut out, b"ic: found at a write's start\n");
        assert_eq!(out.panic_message().as_deref(), Some("found at a write's start"));
        assert!(
            out.text().ends_with(&format!("[extwasm: {} more bytes of output dropped]", total - 16)),
            "{}",
            out.text()
        );
    }

    #[test]
    fn panic_prefix_only_at_line_start() {
        let mut out = Output::new(1024);
        out.write(0, b"no panic: here\n");
        assert_eq!(out.panic_message(), None);
    }
}
