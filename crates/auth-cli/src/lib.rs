//! The flyte-auth command.
#![cfg_attr(docsrs, feature(doc_cfg))]
