//! `almarel init`.
