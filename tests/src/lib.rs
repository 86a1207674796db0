//! End-to-end tests of flyte-auth against real servers (identity provider, keyring).
