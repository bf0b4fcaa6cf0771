//! A subset of Airtable formulas for `filterByFormula` (AIRTABLE-9):
//! field references `{Name}` (`\}` escapes a brace), string literals in
//! single or double quotes with backslash escapes, numbers, comparisons
//! `= != < <= > >=`, concatenation `&`, and the functions `AND`, `OR`,
//! `NOT`, `IF`, `LOWER`, `UPPER`, `TRIM`, `LEN`, `FIND`, `SEARCH`,
//! `TRUE`, `FALSE`, `BLANK`, `RECORD_ID`.

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Field(String),
    Text(String),
    Number(f64),
    Call(String, Vec<Expr>),
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A formula value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FormulaValue {
    Text(String),
    Number(f64),
    Bool(bool),
    Blank,
    List(Vec<FormulaValue>),
}

/// Why a formula cannot be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FormulaError(pub(crate) String);

fn error<T>(message: impl Into<String>) -> Result<T, FormulaError> {
    Err(FormulaError(message.into()))
}

// ---- parsing ----

struct Parser<'a> {
    chars: Vec<char>,
    position: usize,
    source: &'a str,
}

/// Parses a whole formula.
pub(crate) fn parse(source: &str) -> Result<Expr, FormulaError> {
    let mut parser = Parser {
        chars: source.chars().collect(),
        position: 0,
        source,
    };
    let expr = parser.comparison()?;
    parser.skip_spaces();
    if parser.position < parser.chars.len() {
        return error(format!(
            "Unexpected text at position {} in formula: {}",
            parser.position, parser.source
        ));
    }
    Ok(expr)
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_spaces();
        if self.peek() == Some(expected) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn comparison(&mut self) -> Result<Expr, FormulaError> {
        let left = self.concat()?;
        self.skip_spaces();
        let rest: String = self.chars[self.position..].iter().take(2).collect();
        let (op, width) = if rest.starts_with("!=") {
            (CompareOp::Ne, 2)
        } else if rest.starts_with("<=") {
            (CompareOp::Le, 2)
        } else if rest.starts_with(">=") {
            (CompareOp::Ge, 2)
        } else if rest.starts_with('=') {
            (CompareOp::Eq, 1)
        } else if rest.starts_with('<') {
            (CompareOp::Lt, 1)
        } else if rest.starts_with('>') {
            (CompareOp::Gt, 1)
        } else {
            return Ok(left);
        };
        self.position += width;
        let right = self.concat()?;
        Ok(Expr::Compare(op, Box::new(left), Box::new(right)))
    }

    fn concat(&mut self) -> Result<Expr, FormulaError> {
        let mut left = self.primary()?;
        while self.eat('&') {
            let right = self.primary()?;
            left = Expr::Concat(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, FormulaError> {
        self.skip_spaces();
        match self.peek() {
            Some('{') => self.field(),
            Some(quote @ ('"' | '\'')) => self.text(quote),
            Some('(') => {
                self.position += 1;
                let inner = self.comparison()?;
                if !self.eat(')') {
                    return error("Missing closing parenthesis in formula");
                }
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.call(),
            Some(c) => error(format!("Unexpected character '{c}' in formula")),
            None => error("Unexpected end of formula"),
        }
    }

    fn field(&mut self) -> Result<Expr, FormulaError> {
        self.position += 1; // `{`
        let mut name = String::new();
        loop {
            match self.peek() {
                None => return error("Unterminated field reference in formula"),
                Some('\\') if self.chars.get(self.position + 1) == Some(&'}') => {
                    name.push('}');
                    self.position += 2;
                }
                Some('}') => {
                    self.position += 1;
                    return Ok(Expr::Field(name));
                }
                Some(c) => {
                    name.push(c);
                    self.position += 1;
                }
            }
        }
    }

    fn text(&mut self, quote: char) -> Result<Expr, FormulaError> {
        self.position += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return error("Unterminated string in formula"),
                Some('\\') => {
                    let escaped = self.chars.get(self.position + 1).copied();
                    match escaped {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some(c) => text.push(c),
                        None => return error("Unterminated string in formula"),
                    }
                    self.position += 2;
                }
                Some(c) if c == quote => {
                    self.position += 1;
                    return Ok(Expr::Text(text));
                }
                Some(c) => {
                    text.push(c);
                    self.position += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Expr, FormulaError> {
        let start = self.position;
        if self.peek() == Some('-') {
            self.position += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.position += 1;
        }
        let literal: String = self.chars[start..self.position].iter().collect();
        literal
            .parse::<f64>()
            .map(Expr::Number)
            .map_err(|_| FormulaError(format!("Invalid number {literal} in formula")))
    }

    fn call(&mut self) -> Result<Expr, FormulaError> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.position += 1;
        }
        let name: String = self.chars[start..self.position]
            .iter()
            .collect::<String>()
            .to_uppercase();
        if !self.eat('(') {
            return error(format!(
                "Unknown name {name} in formula (field names need braces)"
            ));
        }
        let mut arguments = Vec::new();
        if !self.eat(')') {
            loop {
                arguments.push(self.comparison()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return error(format!("Expected ',' or ')' in call to {name}"));
                }
            }
        }
        Ok(Expr::Call(name, arguments))
    }
}

/// Field names referenced by a formula.
pub(crate) fn field_names(expr: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    collect_fields(expr, &mut names);
    names
}

fn collect_fields(expr: &Expr, names: &mut Vec<String>) {
    match expr {
        Expr::Field(name) => names.push(name.clone()),
        Expr::Call(_, arguments) => arguments.iter().for_each(|a| collect_fields(a, names)),
        Expr::Compare(_, left, right) | Expr::Concat(left, right) => {
            collect_fields(left, names);
            collect_fields(right, names);
        }
        Expr::Text(_) | Expr::Number(_) => {}
    }
}

// ---- evaluation ----

/// What a formula can read from the record being tested.
pub(crate) trait RecordView {
    /// Cell value of a field (by the name or id written in the formula).
    fn field(&self, name: &str) -> Option<&Value>;
    /// The record id.
    fn record_id(&self) -> &str;
}

impl FormulaValue {
    fn from_json(value: Option<&Value>) -> Self {
        match value {
            None | Some(Value::Null) => Self::Blank,
            Some(Value::String(text)) => Self::Text(text.clone()),
            Some(Value::Number(n)) => n.as_f64().map_or(Self::Blank, Self::Number),
            Some(Value::Bool(flag)) => Self::Bool(*flag),
            Some(Value::Array(items)) => {
                Self::List(items.iter().map(|i| Self::from_json(Some(i))).collect())
            }
            Some(Value::Object(fields)) => {
                // Linked records / collaborators: compare by their name or id.
                let label = fields.get("name").or_else(|| fields.get("id"));
                Self::from_json(label)
            }
        }
    }

    /// Text form, as Airtable shows a cell (lists joined with ", ").
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Self::Number(n) => n.to_string(),
            Self::Bool(true) => "1".to_owned(),
            Self::Bool(false) => "0".to_owned(),
            Self::Blank => String::new(),
            Self::List(items) => items.iter().map(Self::text).collect::<Vec<_>>().join(", "),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Bool(flag) => Some(if *flag { 1.0 } else { 0.0 }),
            Self::Text(text) => text.trim().parse().ok(),
            Self::Blank => Some(0.0),
            Self::List(_) => None,
        }
    }

    /// Airtable truthiness: false for 0, false, "", blank, NaN and [].
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Self::Text(text) => !text.is_empty(),
            Self::Number(n) => *n != 0.0 && !n.is_nan(),
            Self::Bool(flag) => *flag,
            Self::Blank => false,
            Self::List(items) => !items.is_empty(),
        }
    }
}

/// Evaluates `expr` for one record.
pub(crate) fn evaluate(
    expr: &Expr,
    record: &dyn RecordView,
    case_insensitive: bool,
) -> Result<FormulaValue, FormulaError> {
    let eval = |e: &Expr| evaluate(e, record, case_insensitive);
    Ok(match expr {
        Expr::Field(name) => FormulaValue::from_json(record.field(name)),
        Expr::Text(text) => FormulaValue::Text(text.clone()),
        Expr::Number(n) => FormulaValue::Number(*n),
        Expr::Concat(left, right) => FormulaValue::Text(eval(left)?.text() + &eval(right)?.text()),
        Expr::Compare(op, left, right) => {
            let ordering = compare(&eval(left)?, &eval(right)?, case_insensitive);
            FormulaValue::Bool(match op {
                CompareOp::Eq => ordering == Ordering::Equal,
                CompareOp::Ne => ordering != Ordering::Equal,
                CompareOp::Lt => ordering == Ordering::Less,
                CompareOp::Le => ordering != Ordering::Greater,
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
            })
        }
        Expr::Call(name, arguments) => call(name, arguments, record, case_insensitive)?,
    })
}

fn compare(left: &FormulaValue, right: &FormulaValue, case_insensitive: bool) -> Ordering {
    use FormulaValue::{Blank, Bool, Number, Text};
    match (left, right) {
        (Blank, Blank) => Ordering::Equal,
        (Number(_) | Bool(_), _) | (_, Number(_) | Bool(_)) => {
            match (left.number(), right.number()) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Less),
                _ => left.text().cmp(&right.text()),
            }
        }
        (Text(_), _) | (_, Text(_)) | (_, _) => {
            let (a, b) = (left.text(), right.text());
            if case_insensitive {
                a.to_lowercase().cmp(&b.to_lowercase())
            } else {
                a.cmp(&b)
            }
        }
    }
}

fn call(
    name: &str,
    arguments: &[Expr],
    record: &dyn RecordView,
    case_insensitive: bool,
) -> Result<FormulaValue, FormulaError> {
    let eval = |e: &Expr| evaluate(e, record, case_insensitive);
    let arity = |expected: usize| {
        if arguments.len() == expected {
            Ok(())
        } else {
            error(format!(
                "{name}() takes {expected} argument(s), got {}",
                arguments.len()
            ))
        }
    };
    let first = || arguments.first().map_or(Ok(FormulaValue::Blank), eval);
    Ok(match name {
        "AND" | "OR" => {
            if arguments.is_empty() {
                return error(format!("{name}() needs at least one argument"));
            }
            let mut values = Vec::with_capacity(arguments.len());
            for argument in arguments {
                values.push(eval(argument)?.truthy());
            }
            FormulaValue::Bool(if name == "AND" {
                values.iter().all(|v| *v)
            } else {
                values.iter().any(|v| *v)
            })
        }
        "NOT" => {
            arity(1)?;
            FormulaValue::Bool(!first()?.truthy())
        }
        "IF" => {
            if !(2..=3).contains(&arguments.len()) {
                return error("IF() takes 2 or 3 arguments");
            }
            let branch = if first()?.truthy() {
                arguments.get(1)
            } else {
                arguments.get(2)
            };
            branch.map_or(Ok(FormulaValue::Blank), eval)?
        }
        "LOWER" => {
            arity(1)?;
            FormulaValue::Text(first()?.text().to_lowercase())
        }
        "UPPER" => {
            arity(1)?;
            FormulaValue::Text(first()?.text().to_uppercase())
        }
        "TRIM" => {
            arity(1)?;
            FormulaValue::Text(first()?.text().trim().to_owned())
        }
        "LEN" => {
            arity(1)?;
            FormulaValue::Number(first()?.text().chars().count() as f64)
        }
        "FIND" | "SEARCH" => {
            if !(2..=3).contains(&arguments.len()) {
                return error(format!("{name}() takes 2 or 3 arguments"));
            }
            let mut needle = first()?.text();
            let mut haystack = arguments
                .get(1)
                .map_or(Ok(FormulaValue::Blank), eval)?
                .text();
            if name == "SEARCH" {
                needle = needle.to_lowercase();
                haystack = haystack.to_lowercase();
            }
            let position = haystack
                .find(&needle)
                .map_or(0, |byte| haystack[..byte].chars().count() + 1);
            FormulaValue::Number(position as f64)
        }
        "TRUE" => {
            arity(0)?;
            FormulaValue::Bool(true)
        }
        "FALSE" => {
            arity(0)?;
            FormulaValue::Bool(false)
        }
        "BLANK" => {
            arity(0)?;
            FormulaValue::Blank
        }
        "RECORD_ID" => {
            arity(0)?;
            FormulaValue::Text(record.record_id().to_owned())
        }
        other => return error(format!("Unknown function {other}()")),
    })
}
