//! Live / mixed / not yet (SPEC §7.4).
