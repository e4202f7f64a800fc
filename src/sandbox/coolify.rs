//! Simulator of the Coolify API.
