//! HTTP probes of production: health, version SHA, web app, smoke steps.
