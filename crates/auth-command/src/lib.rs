//! Tokens from an external command (and proxy authorization) for flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
