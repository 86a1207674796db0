//! Flyte config.yaml and FLYTE_* environment into typed settings.
#![cfg_attr(docsrs, feature(doc_cfg))]
