//! ctl-format
#![forbid(unsafe_code)]
