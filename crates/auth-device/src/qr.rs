//! A presenter that adds a QR code of the verification URL, for users who approve on a phone.

use std::io::Write;
use std::time::Duration;

use auth_core::AuthError;
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

use crate::presenter::{DevicePresenter, DevicePrompt, TextPresenter};

/// Writes a QR code of the URL to open (`verification_uri_complete` when there is one),
/// drawn with Unicode half blocks (two modules per character cell), followed by the text of
/// [`TextPresenter`]: the URL and the user code stay readable for those who cannot scan.
///
/// By default the code is drawn for terminals with a dark background (light modules are
/// printed as blocks); [`with_dark_on_light`](Self::with_dark_on_light) draws it for light
/// ones. A URL too long for a QR code is shown as text only.
#[derive(Debug)]
pub struct QrPresenter {
    text: TextPresenter,
    dark_on_light: bool,
}

impl QrPresenter {
    /// A presenter writing to stderr.
    pub fn new() -> Self {
        Self {
            text: TextPresenter::new(),
            dark_on_light: false,
        }
    }

    /// A presenter writing to `writer`.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            text: TextPresenter::with_writer(writer),
            dark_on_light: false,
        }
    }

    /// Draws dark modules as blocks, for terminals with a light background.
    pub fn with_dark_on_light(mut self, dark_on_light: bool) -> Self {
        self.dark_on_light = dark_on_light;
        self
    }

    /// The QR code of `data` as lines of Unicode half blocks, with the quiet zone; `None`
    /// when `data` does not fit in a QR code.
    pub fn render(data: &str, dark_on_light: bool) -> Option<String> {
        let code = match QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L) {
            Ok(code) => code,
            Err(e) => {
                tracing::debug!(error = %e, "the verification URL does not fit in a QR code");
                return None;
            }
        };
        let (dark, light) = if dark_on_light {
            (Dense1x2::Dark, Dense1x2::Light)
        } else {
            (Dense1x2::Light, Dense1x2::Dark)
        };
        Some(
            code.render::<Dense1x2>()
                .dark_color(dark)
                .light_color(light)
                .quiet_zone(true)
                .build(),
        )
    }
}

impl Default for QrPresenter {
    fn default() -> Self {
        Self::new()
    }
}

impl DevicePresenter for QrPresenter {
    fn device_authorization(&self, prompt: &DevicePrompt) {
        let mut out = String::new();
        if let Some(qr) = Self::render(prompt.url(), self.dark_on_light) {
            out.push_str(&qr);
            out.push_str("\n\n");
        }
        out.push_str(&TextPresenter::render(prompt));
        self.text.write_raw(&out);
    }

    fn waiting(&self, remaining: Duration) {
        self.text.waiting(remaining);
    }

    fn approved(&self) {
        self.text.approved();
    }

    fn failed(&self, error: &AuthError) {
        self.text.failed(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the half-block rendering back into a module grid (true = dark module).
    fn modules(rendered: &str, dark_on_light: bool) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in rendered.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for ch in line.chars() {
                let (t, b) = match ch {
                    ' ' => (false, false),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    '\u{2588}' => (true, true),
                    other => panic!("unexpected character {other:?}"),
                };
                // A block is a dark module when drawing dark on light, a light one otherwise.
                top.push(t == dark_on_light);
                bottom.push(b == dark_on_light);
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn renders_the_code_modules_exactly() {
        let url = "https://idp.example/device?user_code=WDJB-MJHT";
        let code = QrCode::with_error_correction_level(url, EcLevel::L).unwrap();
        let width = code.width();
        for dark_on_light in [false, true] {
            let rendered = QrPresenter::render(url, dark_on_light).unwrap();
            let grid = modules(&rendered, dark_on_light);
            // Quiet zone of 4 modules on every side.
            let quiet = 4;
            assert_eq!(grid[0].len(), width + 2 * quiet);
            for y in 0..width {
                for x in 0..width {
                    let expected = code[(x, y)] == qrcode::Color::Dark;
                    assert_eq!(grid[y + quiet][x + quiet], expected, "module ({x},{y})");
                }
            }
            assert!(grid[0].iter().all(|dark| !dark), "the quiet zone is light");
        }
    }

    #[test]
    fn presenter_writes_qr_then_text() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, d: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(d);
                Ok(d.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let p = QrPresenter::with_writer(buf.clone());
        let prompt = DevicePrompt::new("https://a/device", None, "ABCD", Duration::from_secs(300));
        p.device_authorization(&prompt);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let qr = QrPresenter::render("https://a/device", false).unwrap();
        assert!(out.starts_with(&qr), "{out}");
        assert!(out.ends_with(&TextPresenter::render(&prompt)), "{out}");
    }

    #[test]
    fn too_long_for_a_qr_code_is_text_only() {
        let long = "x".repeat(10_000);
        assert_eq!(QrPresenter::render(&long, false), None);
    }
}
