//! Printing the API response in the chosen format, and a closed stdout.

use std::io::{self, IsTerminal, Write};

use clap::ValueEnum;
use serde_json::Value;

/// How the response envelope is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Indented JSON (the default when stdout is not a terminal).
    Json,
    /// Indented JSON, coloured on a terminal (the default there).
    Pretty,
    /// The whole response on one line.
    Jsonl,
    /// YAML.
    Yaml,
}

impl Format {
    /// `--format` if given, else pretty on a terminal and JSON otherwise.
    pub fn chosen(flag: Option<Format>) -> Format {
        flag.unwrap_or_else(|| default_for(io::stdout().is_terminal()))
    }
}

fn default_for(terminal: bool) -> Format {
    if terminal {
        Format::Pretty
    } else {
        Format::Json
    }
}

/// Writes `value` to stdout. A closed pipe (`straddle … | head -c0`) is not
/// an error: the reader wanted no more.
pub fn print(value: &Value, format: Format) -> io::Result<()> {
    let text = render(value, format, colour_wanted(format));
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Colour only for `pretty` on a terminal, unless `NO_COLOR` forbids it;
/// `CLICOLOR_FORCE` asks for it even when piped.
fn colour_wanted(format: Format) -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    format == Format::Pretty
        && !set("NO_COLOR")
        && (set("CLICOLOR_FORCE") || io::stdout().is_terminal())
}

/// The text for `value` in `format`, ending with a newline.
pub fn render(value: &Value, format: Format, colour: bool) -> String {
    match format {
        Format::Json => json_text(value, false),
        Format::Pretty => json_text(value, colour),
        Format::Jsonl => format!("{value}\n"),
        // A serde_json::Value always serialises to YAML.
        Format::Yaml => serde_norway::to_string(value).unwrap_or_default(),
    }
}

fn json_text(value: &Value, colour: bool) -> String {
    let mut text = String::new();
    if colour {
        paint(&mut text, value, 0);
    } else {
        text = serde_json::to_string_pretty(value).unwrap_or_default();
    }
    text.push('\n');
    text
}

const KEY: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const LITERAL: &str = "\x1b[35m";
const RESET: &str = "\x1b[0m";

/// Indented JSON with ANSI colours: keys blue, strings green, numbers
/// yellow, `true`/`false`/`null` magenta.
fn paint(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                separator(out, i, depth + 1);
                coloured(out, KEY, &Value::String(key.clone()).to_string());
                out.push_str(": ");
                paint(out, item, depth + 1);
            }
            closing(out, '}', depth);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, depth + 1);
                paint(out, item, depth + 1);
            }
            closing(out, ']', depth);
        }
        Value::String(_) => coloured(out, STRING, &value.to_string()),
        Value::Number(_) => coloured(out, NUMBER, &value.to_string()),
        Value::Bool(_) | Value::Null => coloured(out, LITERAL, &value.to_string()),
        empty => out.push_str(&empty.to_string()),
    }
}

fn separator(out: &mut String, index: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
}

fn closing(out: &mut String, bracket: char, depth: usize) {
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
    out.push(bracket);
}

fn coloured(out: &mut String, colour: &str, text: &str) {
    out.push_str(colour);
    out.push_str(text);
    out.push_str(RESET);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Value {
        json!({"data": {"id": "a\"b", "n": 1, "ok": true, "none": null, "list": [1, {}], "empty": []},
               "meta": {}, "response_type": "object"})
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                chars.by_ref().find(|&c| c == 'm');
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn pretty_is_indented_json_that_only_gains_colour_codes() {
        let plain = render(&sample(), Format::Json, false);
        let coloured = render(&sample(), Format::Pretty, true);
        assert!(coloured.contains("\x1b[1;34m\"data\"\x1b[0m"));
        assert_eq!(strip_ansi(&coloured), plain);
        assert_eq!(render(&sample(), Format::Pretty, false), plain);
    }

    #[test]
    fn jsonl_is_one_line_and_yaml_reads_back_the_same() {
        let line = render(&sample(), Format::Jsonl, false);
        assert_eq!(line.lines().count(), 1);
        let yaml = render(&sample(), Format::Yaml, false);
        let back: Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn terminals_get_pretty_and_pipes_get_json_by_default() {
        assert_eq!(default_for(true), Format::Pretty);
        assert_eq!(default_for(false), Format::Json);
    }
}
