//! The Stripe Dashboard's Payments export (Payments > Export, CSV) as
//! evidence: one [`Payment`] per row that names a payment intent.
//!
//! Exports vary by account and date, so columns are matched by name (case
//! and surrounding spaces aside) and extra ones are ignored. Amounts are in
//! major units, with a decimal point or a decimal comma. The file's SHA-256
//! is computed as it is read, for the audit row of a repair that relies on it.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::exit::{Code, fail};
use crate::stripe::key::Mode;
use crate::stripe::verify::Payment;

const PAYMENT_INTENT: &str = "PaymentIntent ID";
const STATUS: &str = "Status";
const AMOUNT: &str = "Amount";
const AMOUNT_REFUNDED: &str = "Amount Refunded";
const CURRENCY: &str = "Currency";
/// `Test` or `Live`, where the export has it.
const MODE: &str = "Mode";
/// Newer exports say `Created date (UTC)`, older ones `Created (UTC)`.
const CREATED: [&str; 2] = ["Created date (UTC)", "Created (UTC)"];

/// Currencies without minor units, and with three decimals (Stripe's lists).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// A reader that hashes what it reads.
struct Hashing {
    file: File,
    hasher: Sha256,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Where each needed column is.
struct Columns {
    payment_intent: usize,
    status: usize,
    amount: usize,
    amount_refunded: usize,
    currency: usize,
    created: Option<usize>,
    mode: Option<usize>,
    metadata: Option<usize>,
}

/// An export being read, a page of rows at a time.
pub struct Export {
    path: PathBuf,
    reader: csv::Reader<Hashing>,
    columns: Columns,
    since: DateTime<Utc>,
    record: csv::StringRecord,
}

impl Export {
    /// Opens `path` and checks its header. A missing needed column is a
    /// usage error naming every one missing. Rows created before `since`
    /// (when the export has a creation date) are skipped; `metadata_key` is
    /// read from its `<key> (metadata)` column when there is one.
    pub fn open(path: &Path, metadata_key: &str, since: DateTime<Utc>) -> Result<Export> {
        let file = File::open(path).map_err(|e| {
            fail(
                Code::Usage,
                format!("could not read --stripe-export {}: {e}", path.display()),
            )
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(Hashing {
                file,
                hasher: Sha256::new(),
            });
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| unreadable(path, &e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
            .collect();
        let find = |name: &str| header.iter().position(|h| *h == name.to_lowercase());
        let required = [PAYMENT_INTENT, STATUS, AMOUNT, AMOUNT_REFUNDED, CURRENCY];
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|name| find(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(fail(
                Code::Usage,
                format!(
                    "--stripe-export {} lacks the column(s) {}: export it from the Dashboard's \
                     Payments page (Export, all columns) as CSV",
                    path.display(),
                    missing
                        .iter()
                        .map(|m| format!("\"{m}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let column = |name: &str| find(name).expect("checked above");
        let columns = Columns {
            payment_intent: column(PAYMENT_INTENT),
            status: column(STATUS),
            amount: column(AMOUNT),
            amount_refunded: column(AMOUNT_REFUNDED),
            currency: column(CURRENCY),
            created: CREATED.iter().find_map(|name| find(name)),
            mode: find(MODE),
            metadata: find(&format!("{metadata_key} (metadata)")),
        };
        Ok(Export {
            path: path.to_path_buf(),
            reader,
            columns,
            since,
            record: csv::StringRecord::new(),
        })
    }

    /// Whether the export has the metadata column.
    pub fn has_metadata(&self) -> bool {
        self.columns.metadata.is_some()
    }

    /// The next (at most) `max` payments; empty at the end of the file.
    pub fn next_page(&mut self, max: usize) -> Result<Vec<Payment>> {
        let mut page = Vec::new();
        while page.len() < max {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| unreadable(&self.path, &e))?;
            if !more {
                break;
            }
            let line = self.record.position().map_or(0, |p| p.line());
            if let Some(payment) = self.payment(line)? {
                page.push(payment);
            }
        }
        Ok(page)
    }

    /// The SHA-256 of the whole file (hex), once every row has been read.
    pub fn sha256(self) -> Result<String> {
        let mut hashing = self.reader.into_inner();
        // Whatever the CSV reader did not need (nothing, at the end).
        std::io::copy(&mut hashing, &mut std::io::sink())?;
        Ok(hex(&hashing.hasher.finalize()))
    }

    /// The row as a payment; None for a row without a payment intent (a
    /// charge made without one) or created before the window.
    fn payment(&self, line: u64) -> Result<Option<Payment>> {
        let cell = |i: usize| self.record.get(i).unwrap_or("").trim();
        let id = cell(self.columns.payment_intent);
        if id.is_empty() {
            return Ok(None);
        }
        if let Some(i) = self.columns.created
            && let Ok(created) = NaiveDateTime::parse_from_str(cell(i), "%Y-%m-%d %H:%M:%S")
            && created.and_utc() < self.since
        {
            return Ok(None);
        }
        let bad = |what: &str, value: &str| {
            fail(
                Code::Usage,
                format!(
                    "--stripe-export {} line {line}: {what} {value:?} is not an amount",
                    self.path.display()
                ),
            )
        };
        let currency = cell(self.columns.currency).to_lowercase();
        let amount = minor_units(cell(self.columns.amount), &currency)
            .ok_or_else(|| bad(AMOUNT, cell(self.columns.amount)))?;
        let refunded = minor_units(cell(self.columns.amount_refunded), &currency)
            .ok_or_else(|| bad(AMOUNT_REFUNDED, cell(self.columns.amount_refunded)))?;
        let status = cell(self.columns.status);
        // The export's statuses are the charge's: Paid (also when partly
        // refunded), Refunded, Failed, ...; a refunded payment had succeeded.
        let (status, fully_refunded) = match status.to_lowercase().as_str() {
            "paid" => ("succeeded".to_string(), false),
            "refunded" => ("succeeded".to_string(), true),
            other => (other.to_string(), false),
        };
        Ok(Some(Payment {
            id: id.to_string(),
            status,
            amount_received: amount,
            currency,
            amount_refunded: refunded,
            refunded: fully_refunded,
            disputed: false,
            mode: self.columns.mode.and_then(|i| Mode::parse(cell(i))),
            recharge_ref: self
                .columns
                .metadata
                .map(|i| cell(i).to_string())
                .filter(|v| !v.is_empty()),
        }))
    }
}

fn unreadable(path: &Path, error: &csv::Error) -> anyhow::Error {
    fail(
        Code::Usage,
        format!(
            "--stripe-export {} is not a readable CSV file: {error}",
            path.display()
        ),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An amount in major units (`12.34`, `12,34`, `1,234.56`, `1.234,56`,
/// `1000`) as an integer of the currency's minor unit.
pub fn minor_units(text: &str, currency: &str) -> Option<i64> {
    let decimals = if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    };
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // The last separator is the decimal one when both appear; a lone comma
    // is a decimal comma; a repeated one separates thousands.
    let decimal = match (text.rfind('.'), text.rfind(',')) {
        (Some(dot), Some(comma)) => Some(dot.max(comma)),
        (Some(dot), None) if text.matches('.').count() == 1 => Some(dot),
        (None, Some(comma)) if text.matches(',').count() == 1 => Some(comma),
        _ => None,
    };
    let (whole, fraction) = match decimal {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, ""),
    };
    let whole: String = whole.chars().filter(|c| *c != ',' && *c != '.').collect();
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    // Trailing zeros beyond the currency's decimals are harmless (39.990).
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > decimals {
        return None;
    }
    let scale = 10i64.pow(decimals as u32);
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i64>().ok()? * 10i64.pow((decimals - fraction.len()) as u32)
    };
    let value = whole.checked_mul(scale)?.checked_add(fraction)?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_major_units_become_minor_units() {
        for (text, currency, expected) in [
            ("9.99", "usd", Some(999)),
            ("9,99", "eur", Some(999)),
            ("1,234.50", "usd", Some(123_450)),
            ("1.234,50", "eur", Some(123_450)),
            ("1,234,567", "usd", Some(123_456_700)),
            ("39.990", "usd", Some(3999)),
            ("0.00", "usd", Some(0)),
            ("1500", "jpy", Some(1500)),
            ("1.500", "kwd", Some(1500)),
            ("-5.00", "usd", Some(-500)),
            ("9.999", "usd", None),
            ("12.5", "jpy", None),
            ("abc", "usd", None),
            ("", "usd", None),
        ] {
            assert_eq!(minor_units(text, currency), expected, "{text} {currency}");
        }
    }
}
