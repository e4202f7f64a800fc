//! `almarel verify` tests.
