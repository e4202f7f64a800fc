//! `almarel status` tests.
