//! Reads on a streaming replica (`--read-url`): the diagnosis scans the
//! ledger, and on a busy primary those scans compete with the live webhook.
//! A replica answers them from data a little behind; how far behind is
//! measured before anything is read, and past `--max-lag` the command
//! refuses (exit 4) rather than report a past state as the present one.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::GlobalOpts;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::note;
use crate::sql;

/// Connects to the replica at `url` and checks its lag.
pub fn open(opts: &GlobalOpts, url: &str) -> Result<Db> {
    let mut db = Db::connect_to(opts, Some(url)).context("connecting to --read-url")?;
    let row = {
        let mut tx = db.read_only()?;
        let row = tx.query_one(sql::SESSION_REPLICA_LAG, &[])?;
        tx.commit()?;
        row
    };
    let standby: bool = row.get("standby");
    let lag: Option<f64> = row.get("lag_seconds");
    match (standby, lag) {
        (false, _) => note(format!(
            "--read-url {} is not a standby (it is not in recovery): reading there anyway",
            db.target
        )),
        (true, Some(lag)) if lag > opts.max_lag.as_secs_f64() => {
            return Err(fail(
                Code::Contract,
                format!(
                    "the replica {} is {} behind its primary, more than --max-lag {}; nothing was read. \
                     Check its replication (pg_stat_wal_receiver on the replica, pg_stat_replication \
                     on the primary), raise --max-lag, or drop --read-url to read the primary",
                    db.target,
                    seconds(lag),
                    humantime::format_duration(opts.max_lag)
                ),
            ));
        }
        (true, lag) => note(format!(
            "reading from the replica {} ({} behind its primary)",
            db.target,
            lag.map_or("an unknown time".to_string(), seconds)
        )),
    }
    Ok(db)
}

fn seconds(lag: f64) -> String {
    humantime::format_duration(Duration::from_millis((lag * 1000.0) as u64)).to_string()
}
