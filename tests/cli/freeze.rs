//! `almarel freeze` tests.
