//! Rendering results: tables for people, JSON and CSV for scripts.
//!
//! A command builds a [`Report`]: top-level fields plus named sections of rows.
//! JSON is one document per run; CSV is one section (the first, unless the
//! command names another); a table
//! prints every section. Data goes to stdout, everything else to stderr.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
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
}

/// A section in JSON: an array of objects, keys in column order. Written
/// straight from the rows, without a copy of them (a debug at a million
/// recharges has a hundred thousand findings).
impl Serialize for Section {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut rows = serializer.serialize_seq(Some(self.rows.len()))?;
        for row in &self.rows {
            rows.serialize_element(&JsonRow {
                columns: &self.columns,
                values: row,
            })?;
        }
        rows.end()
    }
}

struct JsonRow<'a> {
    columns: &'a [&'static str],
    values: &'a [Value],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, value) in self.columns.iter().zip(self.values) {
            object.serialize_entry(column, value)?;
        }
        object.end()
    }
}

/// The JSON document of a report: the command, its fields, its sections.
struct JsonDocument<'a>(&'a Report);

impl Serialize for JsonDocument<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let mut document = serializer.serialize_map(None)?;
        document.serialize_entry("command", report.command)?;
        for (key, value) in &report.fields {
            document.serialize_entry(key, value)?;
        }
        for section in &report.sections {
            document.serialize_entry(section.name, section)?;
        }
        document.end()
    }
}

/// One section of a report written as its rows arrive (JSON and CSV), for
/// output that grows with the data (debug's findings at a million
/// recharges): memory stays flat. The fields and sections known only at the
/// end follow it ([`Streamed::finish`]). Tables are never streamed: they
/// size their columns from every row, and people get few rows.
pub struct Streamed {
    sink: Sink,
    columns: Vec<&'static str>,
    /// The fields written before the section.
    head_fields: Vec<String>,
    rows: usize,
    /// The first write that failed; the rest are skipped, `finish` says it.
    failed: Option<anyhow::Error>,
}

enum Sink {
    Json(std::io::BufWriter<std::io::Stdout>),
    Csv(Box<csv::Writer<std::io::BufWriter<std::io::Stdout>>>),
    Table,
}

impl Streamed {
    /// Starts the document: in JSON, the command, the fields `report` has
    /// so far and the opening of section `name`; in CSV, the header row.
    pub fn start(
        format: Format,
        report: &Report,
        name: &str,
        columns: &[&'static str],
    ) -> Streamed {
        let out = || std::io::BufWriter::new(std::io::stdout());
        let mut streamed = Streamed {
            sink: match format {
                Format::Json => Sink::Json(out()),
                Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out()))),
                Format::Table => Sink::Table,
            },
            columns: columns.to_vec(),
            head_fields: report.fields.keys().cloned().collect(),
            rows: 0,
            failed: None,
        };
        let head = match &mut streamed.sink {
            Sink::Json(out) => (|| -> Result<()> {
                write!(
                    out,
                    "{{\n  \"command\": {}",
                    serde_json::to_string(report.command)?
                )?;
                for (key, value) in &report.fields {
                    json_entry(out, key, value)?;
                }
                write!(out, ",\n  {}: [", serde_json::to_string(name)?)?;
                Ok(())
            })(),
            Sink::Csv(writer) => writer.write_record(columns).map_err(anyhow::Error::from),
            Sink::Table => Ok(()),
        };
        streamed.failed = head.err();
        streamed
    }

    pub fn push(&mut self, row: &[Value]) {
        if self.failed.is_some() {
            return;
        }
        let separator = if self.rows == 0 { "" } else { "," };
        let written = match &mut self.sink {
            Sink::Json(out) => (|| -> Result<()> {
                let object = JsonRow {
                    columns: &self.columns,
                    values: row,
                };
                write!(out, "{separator}\n    {}", serde_json::to_string(&object)?)?;
                Ok(())
            })(),
            Sink::Csv(writer) => writer
                .write_record(row.iter().map(plain))
                .map_err(anyhow::Error::from),
            Sink::Table => Ok(()),
        };
        self.rows += 1;
        self.failed = written.err();
    }

    /// Ends the document with what `report` holds now (JSON: its fields not
    /// written yet, and its sections; CSV: nothing more).
    pub fn finish(mut self, report: &Report) -> Result<()> {
        let written = match self.failed.take() {
            Some(error) => Err(error),
            None => self.tail(report),
        };
        reader_gone_is_fine(written)
    }

    /// Ends a document cut short by `error`: in JSON, the section closed
    /// and an `error` field, so a script still reads JSON and the exit code
    /// says the rest. A reader gone meanwhile is not reported again.
    pub fn abort(mut self, error: &anyhow::Error) {
        if self.failed.is_none() {
            let _ = self.end(|out| json_entry(out, "error", &format!("{error:#}")));
        }
    }

    fn tail(&mut self, report: &Report) -> Result<()> {
        let head_fields = std::mem::take(&mut self.head_fields);
        self.end(|out| {
            for (key, value) in &report.fields {
                if !head_fields.contains(key) {
                    json_entry(out, key, value)?;
                }
            }
            for section in &report.sections {
                json_entry(out, section.name, section)?;
            }
            Ok(())
        })
    }

    /// Closes the section, writes the document's last `entries` (JSON) and
    /// flushes.
    fn end(
        &mut self,
        entries: impl FnOnce(&mut std::io::BufWriter<std::io::Stdout>) -> Result<()>,
    ) -> Result<()> {
        match &mut self.sink {
            Sink::Json(out) => {
                write!(out, "{}]", if self.rows == 0 { "" } else { "\n  " })?;
                entries(out)?;
                writeln!(out, "\n}}")?;
                out.flush()?;
            }
            Sink::Csv(writer) => writer.flush()?,
            Sink::Table => {}
        }
        Ok(())
    }
}

/// `,\n  "key": value`, the value indented as the rest of the document.
fn json_entry(out: &mut impl Write, key: &str, value: &impl Serialize) -> Result<()> {
    let pretty = serde_json::to_string_pretty(value)?.replace('\n', "\n  ");
    write!(out, ",\n  {}: {pretty}", serde_json::to_string(key)?)?;
    Ok(())
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
        // Buffered: stdout alone writes each line with its own system call.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        match format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &JsonDocument(self))?;
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
                // Cells never wrap (an id, URL or command must stay whole, to
                // be copied): a table wider than the terminal is shown as
                // one block per record instead, as psql's \x auto does.
                let width = Table::new().width().map(usize::from);
                for section in &self.sections {
                    writeln!(out, "{}", section.title)?;
                    if section.rows.is_empty() {
                        writeln!(out, "(none)\n")?;
                        continue;
                    }
                    let cells = cells(section);
                    let fitted = match width {
                        Some(width) if terminal => fit(section, cells, width),
                        _ => Some(cells),
                    };
                    match fitted {
                        Some(cells) if !EXPANDED.load(Ordering::Relaxed) => {
                            writeln!(out, "{}\n", render_table(section, cells, terminal))?;
                        }
                        _ => write_expanded(&mut out, section)?,
                    }
                }
            }
        }
        out.flush()?;
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
                writeln!(out, "{}\n", render_table(section, cells(section), false))?;
            }
        }
        Ok(())
    }
}

/// A time as the tool prints it: UTC, to the second (RFC 3339).
pub fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A value as a person reads it: strings without quotes, null as empty.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `--expanded`: one block per record, whatever the terminal's width.
static EXPANDED: AtomicBool = AtomicBool::new(false);

pub fn set_expanded(expanded: bool) {
    EXPANDED.store(expanded, Ordering::Relaxed);
}

/// One block per record: `column: value` lines, values whole.
fn write_expanded(out: &mut impl Write, section: &Section) -> Result<()> {
    let label = section.columns.iter().map(|c| c.len()).max().unwrap_or(0) + 1;
    for (n, row) in section.rows.iter().enumerate() {
        writeln!(out, "-[ {} {} ]-", section.name, n + 1)?;
        for (column, value) in section.columns.iter().zip(row) {
            let value = plain(value);
            if !value.is_empty() {
                writeln!(out, "{:<label$} {value}", format!("{column}:"))?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// Columns of free text, which may be shortened to fit; nothing else is.
const FREE_TEXT: &[&str] = &["title", "detail", "why", "reason", "error_message"];

fn cells(section: &Section) -> Vec<Vec<String>> {
    section
        .rows
        .iter()
        .map(|row| row.iter().map(plain).collect())
        .collect()
}

/// The cells with free text shortened (ending in …) so the table fits
/// `width` columns, or None when it cannot fit without cutting an id, a URL
/// or a command.
fn fit(section: &Section, mut cells: Vec<Vec<String>>, width: usize) -> Option<Vec<Vec<String>>> {
    let widths: Vec<usize> = (0..section.columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([section.columns[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Borders and padding: "│ a ┆ b │".
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + 3 * widths.len() + 1;
    if total(&widths) <= width {
        return Some(cells);
    }
    let free: Vec<usize> = (0..section.columns.len())
        .filter(|i| FREE_TEXT.contains(&section.columns[*i]))
        .collect();
    let fixed: usize = (0..widths.len())
        .filter(|i| !free.contains(i))
        .map(|i| widths[i])
        .sum::<usize>()
        + 3 * widths.len()
        + 1;
    let room = width.checked_sub(fixed)? / free.len().max(1);
    if free.is_empty() || room < 16 {
        return None;
    }
    for row in &mut cells {
        for &i in &free {
            if row[i].chars().count() > room {
                let short: String = row[i].chars().take(room - 1).collect();
                row[i] = format!("{short}…");
            }
        }
    }
    Some(cells)
}

fn render_table(section: &Section, cells: Vec<Vec<String>>, terminal: bool) -> Table {
    let mut table = Table::new();
    if terminal {
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
    } else {
        // Plain ASCII when piped or logged: greps well and pastes into tickets.
        table.load_preset(presets::ASCII_MARKDOWN).force_no_tty();
    }
    table.set_header(&section.columns);
    for row in cells {
        table.add_row(row);
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
