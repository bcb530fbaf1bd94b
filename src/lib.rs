//! `credits`: diagnose and repair a Stripe-fed prepaid-credits ledger in
//! Supabase/PostgreSQL. `main.rs` shows the flow; each command is one file
//! under `commands/` plus its SQL under `sql/`.

pub mod audit_log;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod confirm;
pub mod connect;
pub mod contract;
pub mod db;
pub mod demo;
pub mod exit;
pub mod health;
pub mod interrupt;
pub mod kept;
pub mod migrations;
pub mod output;
pub mod packages;
pub mod profile;
pub mod reference;
pub mod repair;
pub mod replica;
pub mod rls;
pub mod scope;
pub mod sql;
pub mod stripe;
pub mod support;
pub mod trail;
