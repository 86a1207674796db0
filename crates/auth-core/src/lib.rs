//! The Authenticator trait, credentials, secret types and the shared token engine of flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
