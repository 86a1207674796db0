//! The OAuth 2.0 wire protocol, discovery and HTTP transport of flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
