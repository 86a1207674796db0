//! The output parser, for the fuzz targets in `fuzz/` (feature `fuzzing`; not a public API).

use std::time::SystemTime;

use auth_core::{AuthError, Credentials};

/// Reads a command's stdout as the authenticator does, with times without an offset read in
/// UTC (the authenticator uses the system time zone).
pub fn command_output(stdout: &[u8], now: SystemTime) -> Result<Credentials, AuthError> {
    crate::parse::parse_output_in(stdout, now, &jiff::tz::TimeZone::UTC)
}
