//! Simulator of the GitHub REST endpoints almarel uses.
