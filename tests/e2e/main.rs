//! End-to-end tests: the real `credits` binary against real PostgreSQL.

mod bad_input;
mod bench;
mod bulk_fix;
mod cli;
mod contract;
mod debug;
mod demo;
mod fake_stripe;
mod harness;
mod health;
mod install;
mod log;
mod packages;
mod pooler;
mod race;
mod reference;
mod repair;
mod replica;
mod retry_failed;
mod rls;
mod security;
mod server_loss;
mod shapes;
mod stripe;
mod support;
mod tls;
