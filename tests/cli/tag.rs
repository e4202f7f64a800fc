//! `almarel tag` tests.
