//! Simulator of the production app: health, version, web page, login + one authenticated endpoint.
