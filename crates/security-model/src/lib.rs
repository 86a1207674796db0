//! Flyte's security models (flyteidl core/security.proto and service/auth.proto), byte-compatible with flyteidl.
#![cfg_attr(docsrs, feature(doc_cfg))]
