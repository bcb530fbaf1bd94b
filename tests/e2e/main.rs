//! End-to-end tests: the real `credits` binary against real PostgreSQL.

mod cli;
mod contract;
mod debug;
mod demo;
mod harness;
mod health;
mod install;
mod packages;
mod reference;
mod repair;
mod support;
