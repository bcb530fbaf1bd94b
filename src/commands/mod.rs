//! One file per subcommand, each with a `run` entry point.

pub mod debug;
pub mod demo;
pub mod install;
pub mod status;
