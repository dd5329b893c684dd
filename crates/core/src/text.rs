//! Strings from peers and users made safe to print: [`printable`] escapes
//! control characters (newlines, carriage returns, terminal escapes) so a
//! peer cannot forge log lines or drive the terminal, and caps the length.

use std::fmt::Write;

/// The most characters of a peer's string that are printed.
pub const MAX_PRINTED: usize = 512;

/// `s` with every control character written as `\n`, `\r`, `\t` or
/// `\u{1b}`, and cut after [`MAX_PRINTED`] characters (marked with `...`).
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_PRINTED + 8));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_PRINTED {
            out.push_str("...");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            // C0, DEL, C1, and the Unicode line/paragraph separators and
            // bidirectional overrides that reorder what a terminal shows
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("live"), "live");
        assert_eq!(
            printable("live\n2026-12-03 INFO forged\r\x1b[31mred\x07"),
            "live\\n2026-12-03 INFO forged\\r\\u{1b}[31mred\\u{7}"
        );
        assert_eq!(printable("a\\nb"), "a\\\\nb", "a backslash is escaped too");
        assert_eq!(printable("x\u{202e}y\u{85}"), "x\\u{202e}y\\u{85}");
        assert!(!printable("\u{9b}31m").contains('\u{9b}'));
    }

    #[test]
    fn long_strings_are_cut() {
        let s = "é".repeat(10_000);
        let p = printable(&s);
        assert_eq!(p.chars().count(), MAX_PRINTED + 3);
        assert!(p.ends_with("..."));
    }
}
