//! The TOML walker under the config schema: positioned errors (key, line,
//! column; the first [`MAX_ERRORS`], then a count), notices for keys this
//! build does not act on, and one table read at a time with typed getters
//! that mark keys used and report the rest as unknown. Nothing here knows
//! what a livepush config holds (that is `parse.rs`).

use core::fmt;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A config error, positioned at the offending key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `video.width`; empty for TOML syntax errors.
    pub key: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(
                f,
                "line {}, column {}: {}",
                self.line,
                self.column,
                crate::text::printable(&self.message)
            )
        } else {
            write!(
                f,
                "line {}, column {}: key `{}`: {}",
                self.line,
                self.column,
                crate::text::printable(&self.key),
                crate::text::printable(&self.message)
            )
        }
    }
}

/// A key that was accepted but that this build does not act on (yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Dotted key.
    pub key: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What happens instead.
    pub message: String,
    /// `livepush run` refuses to start with this setting.
    pub blocks_run: bool,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: key `{}`: not yet supported: {}",
            self.line, self.column, self.key, self.message
        )
    }
}

/// At most this many errors are reported (positioned); the rest are counted.
pub const MAX_ERRORS: usize = 100;

pub(super) struct Cx<'t> {
    pub(super) text: &'t str,
    /// (byte offset, key, message): positioned when reported.
    pub(super) errors: Vec<(usize, String, String)>,
    pub(super) notices: Vec<Notice>,
    /// Byte offset of each line's start, made at the first position asked.
    pub(super) lines: Vec<usize>,
}

impl Cx<'_> {
    /// 1-based line and column (in characters) of a byte offset: a binary
    /// search in the line index, then the characters of that line before it
    /// (linear in the text, not quadratic in the number of errors).
    pub(super) fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let text = self.text;
        if self.lines.is_empty() {
            self.lines = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
        }
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.lines.partition_point(|&start| start <= offset);
        let start = self.lines[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }
    /// The first [`MAX_ERRORS`] errors in file order, positioned, with a
    /// last one saying how many more there were.
    pub(super) fn into_errors(mut self) -> Vec<ConfigError> {
        let mut raw = std::mem::take(&mut self.errors);
        raw.sort_by_key(|e| e.0);
        let dropped = raw.len().saturating_sub(MAX_ERRORS);
        let mut out: Vec<ConfigError> = raw
            .into_iter()
            .take(MAX_ERRORS)
            .map(|(offset, key, message)| {
                let (line, column) = self.line_col(offset);
                ConfigError {
                    key,
                    line,
                    column,
                    message,
                }
            })
            .collect();
        if dropped > 0 {
            out.push(ConfigError {
                key: String::new(),
                line: out.last().map_or(1, |e| e.line),
                column: 1,
                message: format!(
                    "and {dropped} more errors not shown (the first {MAX_ERRORS} are)"
                ),
            });
        }
        out
    }
    pub(super) fn error(&mut self, key: &str, offset: usize, message: String) {
        self.errors.push((offset, key.to_string(), message));
    }
    pub(super) fn notice(&mut self, key: &str, offset: usize, message: &str, blocks_run: bool) {
        let (line, column) = self.line_col(offset);
        self.notices.push(Notice {
            key: key.to_string(),
            line,
            column,
            message: message.to_string(),
            blocks_run,
        });
    }
}

/// One table being read: typed getters mark keys used; `finish` reports the rest.
pub(super) struct Section<'a, 'i> {
    pub(super) prefix: std::borrow::Cow<'static, str>,
    pub(super) entries: Vec<(
        &'a Spanned<std::borrow::Cow<'i, str>>,
        &'a Spanned<DeValue<'i>>,
        bool,
    )>,
}

pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i> Section<'a, 'i> {
    pub(super) fn new(prefix: &'static str, t: &'a DeTable<'i>, _at: usize) -> Self {
        Section::named(prefix.into(), t)
    }

    /// A section whose key prefix is made at run time (a nested table:
    /// "leds.status.red.").
    pub(super) fn named(prefix: std::borrow::Cow<'static, str>, t: &'a DeTable<'i>) -> Self {
        Section {
            prefix,
            entries: t.iter().map(|(k, v)| (k, v, false)).collect(),
        }
    }

    pub(super) fn take(&mut self, name: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        let e = self
            .entries
            .iter_mut()
            .find(|(k, _, _)| k.get_ref() == name)?;
        e.2 = true;
        Some(e.1)
    }

    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub(super) fn wrong_type(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        v: &Spanned<DeValue<'_>>,
        want: &str,
    ) {
        cx.error(
            &self.key(name),
            v.span().start,
            format!("expected {want}, got {}", type_name(v.get_ref())),
        );
    }

    /// Whether `name` is there and is a table (nothing is taken).
    pub(super) fn has_table(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, v, _)| k.get_ref() == name && matches!(v.get_ref(), DeValue::Table(_)))
    }

    pub(super) fn has_array(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, v, _)| k.get_ref() == name && matches!(v.get_ref(), DeValue::Array(_)))
    }

    pub(super) fn string(&mut self, cx: &mut Cx<'_>, name: &str) -> Option<(String, usize)> {
        let v = self.take(name)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span().start)),
            _ => {
                self.wrong_type(cx, name, v, "a string");
                None
            }
        }
    }

    /// An array of strings, each with its position; None (and an error) otherwise.
    pub(super) fn strings(&mut self, cx: &mut Cx<'_>, name: &str) -> Option<Vec<(String, usize)>> {
        let v = self.take(name)?;
        let DeValue::Array(a) = v.get_ref() else {
            self.wrong_type(cx, name, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in a.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span().start)),
                _ => {
                    self.wrong_type(cx, name, item, "a string");
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(super) fn boolean(&mut self, cx: &mut Cx<'_>, name: &str) -> Option<(bool, usize)> {
        let v = self.take(name)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some((*b, v.span().start)),
            _ => {
                self.wrong_type(cx, name, v, "true or false");
                None
            }
        }
    }

    pub(super) fn int(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        lo: i64,
        hi: i64,
    ) -> Option<(i64, usize)> {
        let v = self.take(name)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if (lo..=hi).contains(&n) => Some((n, v.span().start)),
                _ => {
                    cx.error(
                        &self.key(name),
                        v.span().start,
                        format!("must be {lo}..{hi}, got {}", i.as_str()),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(cx, name, v, &format!("an integer {lo}..{hi}"));
                None
            }
        }
    }

    pub(super) fn number(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        lo: f64,
        hi: f64,
    ) -> Option<(f64, usize)> {
        let v = self.take(name)?;
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.wrong_type(cx, name, v, &format!("a number {lo}..{hi}"));
                return None;
            }
        };
        match n {
            Some(n) if n >= lo && n <= hi => Some((n, v.span().start)),
            _ => {
                cx.error(
                    &self.key(name),
                    v.span().start,
                    format!("must be a number {lo}..{hi}"),
                );
                None
            }
        }
    }

    pub(super) fn choice<T: Copy>(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let (s, at) = self.string(cx, name)?;
        match options.iter().find(|(o, _)| o.eq_ignore_ascii_case(&s)) {
            Some((_, t)) => Some(*t),
            None => {
                let allowed: Vec<String> =
                    options.iter().map(|(o, _)| format!("\"{o}\"")).collect();
                cx.error(
                    &self.key(name),
                    at,
                    format!("must be one of {}, got {s:?}", allowed.join(", ")),
                );
                None
            }
        }
    }

    pub(super) fn table(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
    ) -> Option<(&'a DeTable<'i>, usize)> {
        let v = self.take(name)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span().start)),
            _ => {
                self.wrong_type(cx, name, v, "a table");
                None
            }
        }
    }

    pub(super) fn finish(self, cx: &mut Cx<'_>) {
        for (k, _, used) in &self.entries {
            if *used {
                continue;
            }
            let name = k.get_ref();
            let hint = if name.contains('_') {
                format!(" (keys are kebab-case: `{}`?)", name.replace('_', "-"))
            } else {
                String::new()
            };
            cx.error(
                &self.key(name),
                k.span().start,
                format!("unknown key{hint}"),
            );
        }
    }
}
