//! `almarel deploy` tests.
