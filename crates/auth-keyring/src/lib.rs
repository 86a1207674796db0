//! A CredentialStore on the OS keyring, compatible with flytekit.
#![cfg_attr(docsrs, feature(doc_cfg))]
