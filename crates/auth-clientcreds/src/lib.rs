//! Client credentials grant for flyte-auth.
#![cfg_attr(docsrs, feature(doc_cfg))]
