//! Authentication for Flyte and OAuth 2.0 / OpenID Connect APIs: the facade.
#![cfg_attr(docsrs, feature(doc_cfg))]
