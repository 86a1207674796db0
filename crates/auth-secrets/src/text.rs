//! The few pieces of Python's string semantics that secret resolution depends on.

/// Python's `str.isspace()`: Unicode `White_Space` plus the four ASCII separators
/// U+001C..U+001F, which Python counts as whitespace (bidirectional class B or S) and Rust's
/// [`char::is_whitespace`] does not.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `bytes.strip()` with no argument: ASCII space, `\t`, `\n`, `\r`, `\x0b` and
/// `\x0c`. ([`u8::is_ascii_whitespace`] leaves out `\x0b`.)
pub(crate) fn py_strip_bytes(b: &[u8]) -> &[u8] {
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = b.iter().position(|c| !space(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !space(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// What Python's text mode does on reading (universal newlines): `\r\n` and a lone `\r`
/// become `\n`.
pub(crate) fn universal_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// Python's `posixpath.join(a, *parts)`: a part that starts with `/` replaces everything
/// before it.
pub(crate) fn posix_join<'a>(base: &str, parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut path = base.to_owned();
    for part in parts {
        if part.starts_with('/') {
            path = part.to_owned();
        } else if path.is_empty() || path.ends_with('/') {
            path.push_str(part);
        } else {
            path.push('/');
            path.push_str(part);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_takes_what_python_takes() {
        assert_eq!(py_strip("\u{1c}\u{3000} a b \u{85}\u{1f}"), "a b");
        assert_eq!(py_strip("\u{200b}x\u{feff}"), "\u{200b}x\u{feff}");
        assert_eq!(py_strip(" \t\n"), "");
    }

    #[test]
    fn byte_strip_is_ascii_only_but_includes_vertical_tab() {
        assert_eq!(py_strip_bytes(b"\x0b\x00a\x1c\xa0\n"), b"\x00a\x1c\xa0");
        assert_eq!(py_strip_bytes(b" \x0c\r\n"), b"");
        assert_eq!(py_strip_bytes(b""), b"");
    }

    #[test]
    fn newlines_are_translated_like_text_mode() {
        assert_eq!(universal_newlines("a\r\nb\rc\n\r"), "a\nb\nc\n\n");
    }

    #[test]
    fn join_follows_posixpath() {
        assert_eq!(posix_join("/etc/secrets", ["g", "k"]), "/etc/secrets/g/k");
        assert_eq!(posix_join("/etc/secrets/", ["g"]), "/etc/secrets/g");
        assert_eq!(posix_join("/etc/secrets", ["g", "/abs"]), "/abs");
        assert_eq!(posix_join("", ["g", "k"]), "g/k");
    }
}
