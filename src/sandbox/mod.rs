//! Stateful simulators of GitHub, Coolify and the production app on loopback, used by the tests and by `almarel rehearse`.
