//! The pages the loopback server shows in the browser after the redirect.

use std::fmt::Write as _;

/// The placeholder in a custom failure page that is replaced by the (HTML-escaped) reason.
pub const ERROR_PLACEHOLDER: &str = "{{error}}";

const DEFAULT_SUCCESS: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Login complete</title>\
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}\
h1{color:#1a7f37;font-size:1.5em}</style></head>\
<body><h1>Login complete</h1>\
<p>You are logged in. You can close this tab and return to the command line.</p></body></html>\n";

const DEFAULT_FAILURE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Login failed</title>\
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}\
h1{color:#cf222e;font-size:1.5em}pre{white-space:pre-wrap;background:#f6f8fa;padding:1em}</style></head>\
<body><h1>Login failed</h1><pre>{{error}}</pre>\
<p>Return to the command line for details.</p></body></html>\n";

/// The HTML pages shown in the browser at the end of a login.
///
/// The defaults are small, self-contained pages (no scripts, no external assets). A custom
/// failure page may contain [`ERROR_PLACEHOLDER`] (`{{error}}`), replaced by the reason of the
/// failure, HTML-escaped; the success page is served as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pages {
    success: String,
    failure: String,
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            success: DEFAULT_SUCCESS.to_string(),
            failure: DEFAULT_FAILURE.to_string(),
        }
    }
}

impl Pages {
    /// The default pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the success page (HTML, served as given).
    pub fn with_success_page(mut self, html: impl Into<String>) -> Self {
        self.success = html.into();
        self
    }

    /// Replaces the failure page (HTML in which [`ERROR_PLACEHOLDER`] is replaced by the
    /// HTML-escaped reason).
    pub fn with_failure_page(mut self, html: impl Into<String>) -> Self {
        self.failure = html.into();
        self
    }

    /// The success page.
    pub fn success(&self) -> &str {
        &self.success
    }

    /// The failure page for `reason`, which is HTML-escaped: it may come from the identity
    /// provider or from the request and must never be able to inject markup.
    pub fn failure(&self, reason: &str) -> String {
        self.failure
            .replace(ERROR_PLACEHOLDER, &escape_html(reason))
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for use in HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#{};", u32::from(c));
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
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape_html("a\u{0}b\nc"), "a&#0;b\nc");
    }

    #[test]
    fn failure_page_escapes_reason() {
        let p = Pages::default();
        let html = p.failure("access_denied: <b>nope</b>");
        assert!(
            html.contains("access_denied: &lt;b&gt;nope&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        assert!(!html.contains(ERROR_PLACEHOLDER));
    }

    #[test]
    fn default_pages_are_self_contained() {
        let p = Pages::default();
        for page in [p.success().to_string(), p.failure("x")] {
            assert!(page.starts_with("<!DOCTYPE html>"));
            for external in ["src=", "href=", "<script", "@import", "url("] {
                assert!(!page.contains(external), "{external} in {page}");
            }
        }
    }

    #[test]
    fn custom_pages() {
        let p = Pages::new()
            .with_success_page("<p>ok</p>")
            .with_failure_page("<p>no: {{error}}</p>");
        assert_eq!(p.success(), "<p>ok</p>");
        assert_eq!(p.failure("a<b"), "<p>no: a&lt;b</p>");
    }
}
