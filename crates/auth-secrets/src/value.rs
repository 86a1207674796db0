//! The resolved secret values: redacted in `Debug`, zeroed on drop.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret read as text. `Debug` prints `[redacted]`; there is no `Display`; the memory is
/// zeroed when it drops. Read it with [`secret`](Self::secret).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// A secret read as bytes (`encode_mode="rb"` in flytekit). `Debug` prints `[redacted]`;
/// the memory is zeroed when it drops. Read it with [`secret`](Self::secret).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps a secret value.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", SecretString::new("hunter2")),
            "SecretString([redacted])"
        );
        assert_eq!(
            format!("{:?}", SecretBytes::new(b"hunter2".to_vec())),
            "SecretBytes([redacted])"
        );
        assert_eq!(SecretString::new("x").secret(), "x");
        assert_eq!(SecretBytes::new(vec![1u8]).secret(), &[1u8]);
    }
}
