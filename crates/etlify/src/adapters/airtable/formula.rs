//! Building `filterByFormula` expressions (AIRTABLE-9, the gem's forms
//! made safe for any field name: X-16).
//!
//! Unlike the gem, which accepted only ASCII `[\w\s-]` field names
//! (X-16), any field name is accepted and escaped: Unicode,
//! emoji, dots, parentheses and braces are common in Airtable. Inside a
//! field reference `{…}` only a closing brace ends the reference, so `}`
//! is written `\}`, the one escape Airtable documents for references
//! (AIRTABLE-9). A backslash there is kept as is: doubling it would
//! change the name Airtable looks up. Values may be strings (double
//! quoted, `\` and `"` backslash-escaped), numbers, or booleans
//! (`TRUE()` / `FALSE()`).

use std::fmt;

use serde_json::Value;

/// Why a formula cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormulaError {
    /// The field name is empty.
    EmptyFieldName,
    /// The field name ends with a backslash, which would escape the
    /// closing brace of the reference: Airtable cannot reference it.
    UnreferenceableFieldName(String),
    /// The value has no formula literal (null, array, object).
    UnsupportedValue(&'static str),
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormulaError::EmptyFieldName => f.write_str("Airtable field name must not be empty"),
            FormulaError::UnreferenceableFieldName(name) => write!(
                f,
                "Airtable field name {name:?} ends with a backslash and cannot be referenced in a formula"
            ),
            FormulaError::UnsupportedValue(kind) => write!(
                f,
                "formula value must be a string, a number or a boolean (got {kind})"
            ),
        }
    }
}

impl std::error::Error for FormulaError {}

/// A field reference, `{Name}`, with `}` escaped as `\}`.
pub fn field_reference(name: &str) -> Result<String, FormulaError> {
    if name.is_empty() {
        return Err(FormulaError::EmptyFieldName);
    }
    if name.ends_with('\\') {
        return Err(FormulaError::UnreferenceableFieldName(name.to_owned()));
    }
    Ok(format!("{{{}}}", name.replace('}', "\\}")))
}

/// A double-quoted string literal: `\` becomes `\\`, then `"` becomes `\"`
/// (as the gem escaped them).
pub fn string_literal(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The formula literal of a JSON value: strings quoted, numbers bare
/// (never in exponent notation), booleans `TRUE()` / `FALSE()`.
pub fn value_literal(value: &Value) -> Result<String, FormulaError> {
    match value {
        Value::String(text) => Ok(string_literal(text)),
        Value::Number(number) => Ok(number_literal(number)),
        Value::Bool(true) => Ok("TRUE()".to_owned()),
        Value::Bool(false) => Ok("FALSE()".to_owned()),
        Value::Null => Err(FormulaError::UnsupportedValue("null")),
        Value::Array(_) => Err(FormulaError::UnsupportedValue("an array")),
        Value::Object(_) => Err(FormulaError::UnsupportedValue("an object")),
    }
}

/// `{field} = value` (the gem's lookup).
pub fn eq(field: &str, value: &Value) -> Result<String, FormulaError> {
    Ok(format!(
        "{} = {}",
        field_reference(field)?,
        value_literal(value)?
    ))
}

fn number_literal(number: &serde_json::Number) -> String {
    if let Some(n) = number.as_i64() {
        n.to_string()
    } else if let Some(n) = number.as_u64() {
        n.to_string()
    } else {
        // `f64`'s Display writes plain decimals (`100000000000000000000`,
        // `0.000025`), which formulas parse; `1e20` they may not.
        number
            .as_f64()
            .map_or_else(|| number.to_string(), |n| n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ascii_names_and_strings_match_the_gem() {
        assert_eq!(
            eq("Email", &json!("john@example.com")).unwrap(),
            r#"{Email} = "john@example.com""#
        );
        assert_eq!(eq("Age", &json!(25)).unwrap(), "{Age} = 25");
        assert_eq!(
            eq("First Name-2", &json!("x")).unwrap(),
            r#"{First Name-2} = "x""#
        );
    }

    #[test]
    fn unicode_and_emoji_names_are_accepted_verbatim() {
        assert_eq!(eq("Prénom", &json!("Zoë")).unwrap(), r#"{Prénom} = "Zoë""#);
        assert_eq!(eq("🔑 Clé", &json!("k")).unwrap(), r#"{🔑 Clé} = "k""#);
        assert_eq!(eq("電子メール", &json!(1)).unwrap(), "{電子メール} = 1");
    }

    #[test]
    fn dotted_and_parenthesised_names_are_accepted() {
        assert_eq!(
            eq("e.mail", &json!("a@b.c")).unwrap(),
            r#"{e.mail} = "a@b.c""#
        );
        assert_eq!(
            eq("Email (work)", &json!("a")).unwrap(),
            r#"{Email (work)} = "a""#
        );
        assert_eq!(eq("a\"b'c", &json!("a")).unwrap(), r#"{a"b'c} = "a""#);
    }

    #[test]
    fn closing_braces_in_names_are_escaped() {
        assert_eq!(field_reference("a}b").unwrap(), r"{a\}b}");
        assert_eq!(field_reference("{x}").unwrap(), r"{{x\}}");
        // An injection attempt stays inside the reference.
        assert_eq!(
            field_reference("} = 1) OR 1=1; //").unwrap(),
            r"{\} = 1) OR 1=1; //}"
        );
        // A backslash not before `}` is literal; before `}` it stays and
        // the brace gets its own escape.
        assert_eq!(field_reference(r"a\b").unwrap(), r"{a\b}");
        assert_eq!(field_reference(r"a\}b").unwrap(), r"{a\\}b}");
    }

    #[test]
    fn unreferenceable_names_are_errors() {
        assert_eq!(field_reference(""), Err(FormulaError::EmptyFieldName));
        assert!(matches!(
            field_reference(r"trailing\"),
            Err(FormulaError::UnreferenceableFieldName(_))
        ));
    }

    #[test]
    fn quotes_and_backslashes_in_values_are_escaped() {
        assert_eq!(string_literal(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(string_literal(r"back\slash"), r#""back\\slash""#);
        assert_eq!(string_literal(r#"\""#), r#""\\\"""#);
        assert_eq!(string_literal("it's"), r#""it's""#);
    }

    #[test]
    fn numbers_and_booleans_are_bare() {
        assert_eq!(value_literal(&json!(-42)).unwrap(), "-42");
        assert_eq!(
            value_literal(&json!(u64::MAX)).unwrap(),
            u64::MAX.to_string()
        );
        assert_eq!(value_literal(&json!(2.5)).unwrap(), "2.5");
        assert_eq!(
            value_literal(&json!(1.0e20)).unwrap(),
            "100000000000000000000"
        );
        assert_eq!(value_literal(&json!(true)).unwrap(), "TRUE()");
        assert_eq!(eq("Active", &json!(false)).unwrap(), "{Active} = FALSE()");
    }

    #[test]
    fn null_arrays_and_objects_are_not_values() {
        for (value, kind) in [
            (json!(null), "null"),
            (json!([1]), "an array"),
            (json!({"a": 1}), "an object"),
        ] {
            assert_eq!(
                value_literal(&value),
                Err(FormulaError::UnsupportedValue(kind))
            );
        }
    }
}
