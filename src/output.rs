//! Rendering results: tables for people, JSON and CSV for scripts.
//!
//! A command builds a [`Report`]: top-level fields plus named sections of rows.
//! JSON is one document per run; CSV is one section (the first, unless the
//! command names another); a table
//! prints every section. Data goes to stdout, everything else to stderr.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Map, Value};

use crate::cli::Format;

/// One table of a report: a name (its JSON key), column names, and rows.
pub struct Section {
    pub name: &'static str,
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

impl Section {
    pub fn new(name: &'static str, title: impl Into<String>, columns: &[&'static str]) -> Self {
        Section {
            name,
            title: title.into(),
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    fn to_json(&self) -> Value {
        let rows = self.rows.iter().map(|row| {
            let object: Map<String, Value> = self
                .columns
                .iter()
                .map(|column| column.to_string())
                .zip(row.iter().cloned())
                .collect();
            Value::Object(object)
        });
        Value::Array(rows.collect())
    }
}

/// What a command prints on stdout.
pub struct Report {
    pub command: &'static str,
    pub fields: Map<String, Value>,
    pub sections: Vec<Section>,
    /// The section CSV prints; the first one when empty.
    pub csv_section: &'static str,
}

impl Report {
    pub fn new(command: &'static str) -> Self {
        Report {
            command,
            fields: Map::new(),
            sections: Vec::new(),
            csv_section: "",
        }
    }

    pub fn field(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_string(), value.into());
    }

    /// Prints the report on stdout. A reader that went away (`| head`) is
    /// not an error: the command goes on to its own exit code.
    pub fn print(&self, format: Format) -> Result<()> {
        reader_gone_is_fine(self.write(format))
    }

    fn write(&self, format: Format) -> Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match format {
            Format::Json => {
                let mut document = Map::new();
                document.insert("command".into(), self.command.into());
                document.extend(self.fields.clone());
                for section in &self.sections {
                    document.insert(section.name.into(), section.to_json());
                }
                serde_json::to_writer_pretty(&mut out, &Value::Object(document))?;
                writeln!(out)?;
            }
            Format::Csv => {
                let chosen = self.sections.iter().find(|s| s.name == self.csv_section);
                if let Some(section) = chosen.or(self.sections.first()) {
                    let mut writer = csv::Writer::from_writer(&mut out);
                    writer.write_record(&section.columns)?;
                    for row in &section.rows {
                        writer.write_record(row.iter().map(plain))?;
                    }
                    writer.flush()?;
                }
            }
            Format::Table => {
                let terminal = std::io::stdout().is_terminal();
                for section in &self.sections {
                    writeln!(out, "{}", section.title)?;
                    if section.rows.is_empty() {
                        writeln!(out, "(none)\n")?;
                        continue;
                    }
                    writeln!(out, "{}\n", render_table(section, terminal))?;
                }
            }
        }
        Ok(())
    }
}

impl Report {
    /// Every section as a Markdown table under a heading, to paste into a
    /// ticket.
    pub fn print_markdown(&self, heading: &str) -> Result<()> {
        reader_gone_is_fine(self.write_markdown(heading))
    }

    fn write_markdown(&self, heading: &str) -> Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "# {heading}\n")?;
        for section in &self.sections {
            writeln!(out, "## {}\n", section.title)?;
            if section.rows.is_empty() {
                writeln!(out, "(none)\n")?;
            } else {
                writeln!(out, "{}\n", render_table(section, false))?;
            }
        }
        Ok(())
    }
}

/// A value as a person reads it: strings without quotes, null as empty.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn render_table(section: &Section, terminal: bool) -> Table {
    let mut table = Table::new();
    if terminal {
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        // Plain ASCII when piped or logged: greps well and pastes into tickets.
        table.load_preset(presets::ASCII_MARKDOWN).force_no_tty();
    }
    table.set_header(&section.columns);
    for row in &section.rows {
        table.add_row(row.iter().map(plain));
    }
    table
}

/// A message for the person at the terminal: stderr, never mixed with data.
/// A closed stderr (`2>&1 | head`) silences it; it never ends the command.
pub fn note(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Data on stdout, as `println!` but without its panic when the reader went
/// away (`| head`): what follows is simply not read.
pub fn say(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Bytes for stdout (a completion script, a man page), likewise.
pub fn say_bytes(bytes: &[u8]) {
    let _ = std::io::stdout().write_all(bytes);
}

/// Whether an error is only that stdout's reader closed the pipe.
pub fn reader_gone(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            .or_else(
                || match cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                    Some(csv::ErrorKind::Io(io)) => Some(io.kind()),
                    _ => None,
                },
            );
        io == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn reader_gone_is_fine(result: Result<()>) -> Result<()> {
    match result {
        Err(error) if reader_gone(&error) => Ok(()),
        other => other,
    }
}
