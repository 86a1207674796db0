//! The one source of randomness: the operating system's generator, through the TLS stack's
//! crypto provider (ring), so that no other random-number crate is compiled for it.

use auth_core::AuthError;
use zeroize::Zeroizing;

/// `N` bytes from the operating system's generator, zeroized on drop: PKCE verifiers, the
/// `state` and `nonce` of a login attempt, the `jti` of a client assertion.
pub(crate) fn bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, AuthError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(bytes.as_mut_slice())
        .map_err(|_| {
            AuthError::configuration(
                "the operating system's random number generator failed; \
                 no login or client assertion can be made safely without it",
            )
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ_and_fill_the_buffer() {
        let a = super::bytes::<32>().unwrap();
        let b = super::bytes::<32>().unwrap();
        assert_ne!(*a, *b);
        assert_ne!(*a, [0u8; 32]);
    }
}
