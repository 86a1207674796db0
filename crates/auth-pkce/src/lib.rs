//! Authorization code + PKCE flow with a loopback redirect for flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
