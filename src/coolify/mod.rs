//! The Coolify API client (reqwest).
