//! Value rules shared by the file and the environment: booleans, lists, Go durations.

use std::time::Duration;

/// What a boolean accepts, for error messages.
pub(crate) const BOOL_EXPECTED: &str =
    "expected true or false (also yes/no, on/off, 1/0; case-insensitive)";

/// What a duration accepts, for error messages.
pub(crate) const DURATION_EXPECTED: &str = "expected a duration such as 30s, 2m, 1h30m or 500ms (a number with a unit: h, m, s, ms, us, ns)";

/// Longest value echoed in an error message; longer ones are cut.
const MAX_ECHO: usize = 120;

/// A value for an error message: terminal controls replaced, cut to [`MAX_ECHO`] characters.
pub(crate) fn shorten(value: &str) -> String {
    // Echoed in a message that reaches a terminal: no escape sequence or bidi control.
    let value = &auth_core::text::sanitize_lines(value).replace(['\n', '\t'], " ");
    if value.chars().count() <= MAX_ECHO {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(MAX_ECHO).collect();
        cut.push('…');
        cut
    }
}

/// A boolean the way people write it in environment variables.
///
/// flytekit treats every non-empty value other than `false`, `0`, `off` and `no` as true, so a
/// typo such as `ture` silently means true there. We accept the same words but reject anything
/// else, so that the typo is reported.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A comma-separated list: items trimmed, empty items dropped.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Scopes: separated by commas or whitespace (a scope token never contains either, RFC 6749
/// section 3.3), empty items dropped.
pub(crate) fn split_scopes<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items
        .into_iter()
        .flat_map(|item| item.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The admin endpoint without flytectl's `dns:///` prefix.
pub(crate) fn strip_dns(endpoint: &str) -> &str {
    endpoint.strip_prefix("dns:///").unwrap_or(endpoint)
}

/// Parses a duration the way Go's `time.ParseDuration` does, which is what flytectl reads:
/// a sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`), such as `300ms`, `1.5h` or `2h45m`; `0` alone is zero.
///
/// Negative durations are rejected (Go accepts them, but no setting here has a use for one).
pub(crate) fn parse_go_duration(value: &str) -> Result<Duration, &'static str> {
    const MAX_NANOS: u128 = i64::MAX as u128; // Go's limit, about 292 years.
    let mut s = value.trim();
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if s.starts_with('-') {
        return Err("a duration cannot be negative");
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DURATION_EXPECTED);
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        // The integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = s.split_at(int_len);
        s = rest;
        // The fraction.
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            (frac_digits, s) = rest.split_at(frac_len);
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DURATION_EXPECTED);
        }
        // The unit: everything up to the next number.
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err("missing unit in duration (write 30s, not 30)"),
            _ => return Err("unknown unit in duration (use h, m, s, ms, us or ns)"),
        };
        let mut int: u128 = 0;
        for d in int_digits.bytes() {
            int = int
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d - b'0')))
                .filter(|v| *v <= MAX_NANOS)
                .ok_or("duration is too long")?;
        }
        // Up to 30 fraction digits are exact in u128 with any unit; more are truncated.
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        for d in frac_digits.bytes().take(30) {
            frac = frac * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        let part = int
            .checked_mul(unit_nanos)
            .and_then(|v| v.checked_add(frac.checked_mul(unit_nanos)? / scale))
            .ok_or("duration is too long")?;
        total = total
            .checked_add(part)
            .filter(|v| *v <= MAX_NANOS)
            .ok_or("duration is too long")?;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| "duration is too long")?;
    // The remainder is below 10^9, so it fits in u32.
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| "duration is too long")?;
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration the way Go's `time.Duration.String` does: `1h30m0s`, `2m0s`, `1.5s`,
/// `500ms`, `0s`, so that what `flyte-auth config` shows can be pasted back into config.yaml.
pub fn format_go_duration(d: Duration) -> String {
    fn with_fraction(value: u128, unit: u128) -> String {
        let int = value / unit;
        let frac = value % unit;
        if frac == 0 {
            return int.to_string();
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}\u{b5}s", with_fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", with_fraction(nanos, 1_000_000));
    }
    let secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let seconds = with_fraction(s * 1_000_000_000 + sub, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{seconds}s")
    } else if m > 0 {
        format!("{m}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "True", "yes", "Yes", "on", "1", " true\n"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "FALSE", "no", "NO", "off", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "ture", "2", "y", "enabled"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("a, b ,,c,"), ["a", "b", "c"]);
        assert_eq!(split_list(" , "), Vec::<String>::new());
        assert_eq!(
            split_list("gcloud,auth,print-access-token"),
            ["gcloud", "auth", "print-access-token"]
        );
        assert_eq!(
            split_scopes(["openid offline_access,all", " "]),
            ["openid", "offline_access", "all"]
        );
    }

    #[test]
    fn dns_prefix() {
        assert_eq!(
            strip_dns("dns:///flyte.example.com:443"),
            "flyte.example.com:443"
        );
        assert_eq!(strip_dns("flyte.example.com"), "flyte.example.com");
        assert_eq!(
            strip_dns("https://flyte.example.com"),
            "https://flyte.example.com"
        );
    }

    #[test]
    fn go_durations() {
        let ok = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("1h30m15s", Duration::from_secs(5415)),
            ("500ms", Duration::from_millis(500)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("5m0s", Duration::from_secs(300)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("10\u{3bc}s", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("+3s", Duration::from_secs(3)),
            (" 1m ", Duration::from_secs(60)),
            ("1.000000001s", Duration::new(1, 1)),
            (
                "2540400h10m10.000000000s",
                Duration::from_secs(2540400 * 3600 + 610),
            ),
        ];
        for (text, want) in ok {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
        let bad = [
            "",
            "30",
            "1.5",
            "s",
            ".s",
            "1x",
            "1 m",
            "-1s",
            "1h-30m",
            "1e3s",
            "9999999999999h",
        ];
        for text in bad {
            assert!(parse_go_duration(text).is_err(), "{text} parsed");
        }
        assert!(
            parse_go_duration("30")
                .unwrap_err()
                .contains("missing unit")
        );
    }

    #[test]
    fn go_duration_format_round_trips() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(5400), "1h30m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(1500), "1.5\u{b5}s"),
            (Duration::from_nanos(7), "7ns"),
        ];
        for (d, text) in cases {
            assert_eq!(format_go_duration(d), text);
            assert_eq!(parse_go_duration(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), MAX_ECHO + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shorten("short"), "short");
        assert_eq!(shorten("tr\u{1b}[2Jue\u{202e}"), "tr ue ");
    }
}
