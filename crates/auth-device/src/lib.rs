//! Device authorization grant (RFC 8628) for flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
