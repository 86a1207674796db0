//! Text from outside (an identity provider's error text, a device code, a command's stderr)
//! made safe to show in a terminal: a malicious or broken source could otherwise move the
//! cursor, rewrite what the user reads, set the window title or write to the clipboard
//! (terminal escape sequences), or reorder what is displayed (Unicode bidirectional
//! controls). One module, used by every crate that prints such text.

/// Whether `c` reorders the text around it when displayed (Unicode bidirectional embedding,
/// override and isolate controls, and the implicit marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// One line: terminal escape sequences (`ESC [ ... letter`) dropped whole, other control
/// characters and bidi controls replaced by a space, whitespace runs collapsed to one space,
/// cut at `max_chars` characters (with `...`).
///
/// ```
/// use auth_core::text::sanitize_for_terminal;
///
/// assert_eq!(sanitize_for_terminal("WDJB-\u{1b}[2J\u{1b}[31mMJHT\u{7}", 100), "WDJB- MJHT");
/// assert_eq!(sanitize_for_terminal("a\u{202e}b", 100), "a b");
/// assert_eq!(sanitize_for_terminal("abcdef", 3), "abc...");
/// ```
pub fn sanitize_for_terminal(text: &str, max_chars: usize) -> String {
    let cleaned: String = strip(text, false)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if cleaned.chars().count() > max_chars {
        let cut: String = cleaned.chars().take(max_chars).collect();
        format!("{cut}...")
    } else {
        cleaned
    }
}

/// Several lines, kept as lines: as [`sanitize_for_terminal`] but newlines and tabs stay and
/// nothing is cut (for a command's stderr, whose lines matter).
///
/// ```
/// use auth_core::text::sanitize_lines;
///
/// assert_eq!(sanitize_lines("a\u{1b}]0;title\u{7}\n\u{202e}b\tc"), "a ]0;title \n b\tc");
/// ```
pub fn sanitize_lines(text: &str) -> String {
    strip(text, true)
}

fn strip(text: &str, keep_lines: bool) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // A CSI sequence (ESC [ params letter) is dropped whole.
            if chars.peek() == Some(&'[') {
                chars.next();
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            plain.push(' ');
        } else if keep_lines && (c == '\n' || c == '\t') {
            plain.push(c);
        } else if c.is_control() || is_bidi_control(c) {
            plain.push(' ');
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escape_or_bidi_control_survives() {
        let hostile = "ok\u{1b}[2K\u{1b}[1A\r\u{202e}gnp.exe\u{2066}x\u{200f}\u{8}";
        for shown in [sanitize_for_terminal(hostile, 100), sanitize_lines(hostile)] {
            assert!(
                !shown
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{shown:?}"
            );
            assert!(!shown.chars().any(is_bidi_control), "{shown:?}");
            assert!(shown.contains("gnp.exe"), "{shown:?}");
        }
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        assert_eq!(sanitize_for_terminal("ééé", 2), "éé...");
    }
}
