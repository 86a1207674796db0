//! Test support for flyte-auth: conformance suite, mock IdP helpers, test identity provider launcher.
#![cfg_attr(docsrs, feature(doc_cfg))]
