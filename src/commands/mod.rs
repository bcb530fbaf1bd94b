//! One file per subcommand, each with a `run` entry point.

pub mod audit;
pub mod bulk_fix;
pub mod completions;
pub mod debug;
pub mod demo;
pub mod fix_user;
pub mod health;
pub mod install;
pub mod log;
pub mod packages;
pub mod pause;
pub mod profile;
pub mod resume;
pub mod retry_failed;
pub mod rls_fix;
pub mod status;
pub mod stripe;
pub mod support;
