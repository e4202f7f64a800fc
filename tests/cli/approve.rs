//! `almarel approve` tests.
