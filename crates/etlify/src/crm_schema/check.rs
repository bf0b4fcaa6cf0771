//! The one rule of the schema check: what a binding's payload asks of an
//! object type that the CRM's schema refuses. Pure, tested as a table.

use std::fmt;

use crate::adapters::{CrmField, FieldKind, ObjectSchema};
use crate::catalog::suggest::did_you_mean;
use crate::values::{ColumnMapping, ColumnType};

/// What a binding sends, as far as can be told without reading data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PayloadShape<'a> {
    /// The properties the payload sends, when the source can tell.
    pub(crate) properties: Option<&'a [String]>,
    /// The columns' declared types, when the source has them.
    pub(crate) mapping: Option<&'a ColumnMapping>,
    /// The property objects are matched by (external id, else id
    /// property); empty when none.
    pub(crate) match_property: &'a str,
}

/// One thing the CRM's schema refuses of a binding's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldProblem {
    /// The payload field (CRM property) it is about.
    pub field: String,
    /// What is wrong.
    pub kind: FieldProblemKind,
    /// What the CRM expects, in words: the nearest property, the field's
    /// type and options, or what makes a property matchable.
    pub expected: String,
}

/// What a [`FieldProblem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldProblemKind {
    /// The payload sends a field the object type does not have.
    NotAProperty,
    /// The column's declared type cannot be written to the field.
    TypeMismatch,
    /// The CRM computes or keeps the field: a write is refused.
    ReadOnly,
    /// The CRM requires the field and the payload never sets it.
    RequiredMissing,
    /// Objects are matched by a field whose values are not unique.
    MatchNotUnique,
}

impl FieldProblemKind {
    /// How `--json` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldProblemKind::NotAProperty => "not_a_property",
            FieldProblemKind::TypeMismatch => "type_mismatch",
            FieldProblemKind::ReadOnly => "read_only",
            FieldProblemKind::RequiredMissing => "required_missing",
            FieldProblemKind::MatchNotUnique => "match_not_unique",
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        let expected = &self.expected;
        match self.kind {
            FieldProblemKind::NotAProperty => write!(f, "`{field}` is not a property{expected}"),
            FieldProblemKind::TypeMismatch => write!(f, "`{field}`: {expected}"),
            FieldProblemKind::ReadOnly => {
                write!(
                    f,
                    "`{field}` is read-only ({expected}): the CRM refuses writes to it"
                )
            }
            FieldProblemKind::RequiredMissing => write!(
                f,
                "`{field}` is required ({expected}) and the payload never sets it"
            ),
            FieldProblemKind::MatchNotUnique => write!(
                f,
                "objects are matched by `{field}`, which is not unique ({expected})"
            ),
        }
    }
}

/// Everything `schema` refuses of `shape`, in payload order, then the
/// required fields, then the match property.
pub(crate) fn problems(shape: PayloadShape<'_>, schema: &ObjectSchema) -> Vec<FieldProblem> {
    let mut found = Vec::new();
    let names = || schema.fields.iter().map(|f| f.name.as_str());
    for property in shape.properties.into_iter().flatten() {
        let Some(field) = schema.field(property) else {
            found.push(FieldProblem {
                field: property.clone(),
                kind: FieldProblemKind::NotAProperty,
                expected: did_you_mean(property, names()),
            });
            continue;
        };
        if field.read_only && property != shape.match_property {
            found.push(FieldProblem {
                field: property.clone(),
                kind: FieldProblemKind::ReadOnly,
                expected: field.crm_type.clone(),
            });
            continue;
        }
        let declared = shape.mapping.and_then(|m| m.get_column_type(property));
        if let Some(mismatch) = declared.and_then(|declared| mismatch(declared, field)) {
            found.push(FieldProblem {
                field: property.clone(),
                kind: FieldProblemKind::TypeMismatch,
                expected: mismatch,
            });
        }
    }
    if let Some(sent) = shape.properties {
        for field in schema.fields.iter().filter(|f| f.required) {
            if !sent.contains(&field.name) {
                found.push(FieldProblem {
                    field: field.name.clone(),
                    kind: FieldProblemKind::RequiredMissing,
                    expected: field.crm_type.clone(),
                });
            }
        }
    }
    if let Some(field) = schema.field(shape.match_property).filter(|f| !f.unique) {
        found.push(FieldProblem {
            field: field.name.clone(),
            kind: FieldProblemKind::MatchNotUnique,
            expected: format!("{}, without unique values", field.crm_type),
        });
    }
    found
}

/// Why a column declared `declared` cannot be written to `field`, or
/// `None` when it can (or when only the values can tell: text).
fn mismatch(declared: ColumnType, field: &CrmField) -> Option<String> {
    use ColumnType as C;
    let numeric = matches!(declared, C::Integer | C::Float | C::Decimal);
    let fits = match field.kind {
        FieldKind::Text | FieldKind::Link | FieldKind::Other => true,
        FieldKind::Number => numeric || declared == C::String,
        FieldKind::Boolean => matches!(declared, C::Boolean | C::String),
        FieldKind::Date => matches!(declared, C::Date | C::String),
        FieldKind::Datetime => matches!(declared, C::Date | C::Timestamp | C::String | C::Integer),
        FieldKind::Enumeration => match declared {
            C::String => true,
            C::Boolean => ["true", "false"]
                .iter()
                .all(|b| field.options.iter().any(|o| o == b)),
            // A number fits an enumeration whose options are numbers.
            _ if numeric => field.options.iter().any(|o| o.parse::<f64>().is_ok()),
            _ => false,
        },
        FieldKind::MultiSelect => matches!(declared, C::String | C::Json),
    };
    if fits {
        return None;
    }
    let options = match field.kind {
        FieldKind::Enumeration | FieldKind::MultiSelect if !field.options.is_empty() => {
            format!(" with options {}", field.options.join(", "))
        }
        _ => String::new(),
    };
    Some(format!(
        "the column is declared {}, the CRM expects {} ({}){options}",
        declared.as_str(),
        field.kind.as_str(),
        field.crm_type
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind) -> CrmField {
        CrmField::new(name, kind, "t")
    }

    fn schema() -> ObjectSchema {
        let mut stage = field("stage", FieldKind::Enumeration);
        stage.options = vec!["lead".into(), "customer".into()];
        let mut score = field("score", FieldKind::Number);
        score.read_only = true;
        let mut lastname = field("lastname", FieldKind::Text);
        lastname.required = true;
        let mut email = field("email", FieldKind::Text);
        email.unique = true;
        ObjectSchema::new(vec![
            email,
            field("company", FieldKind::Text),
            stage,
            score,
            lastname,
            field("birthday", FieldKind::Date),
            field("tags", FieldKind::MultiSelect),
            field("name", FieldKind::Text),
        ])
    }

    fn check(
        properties: &[&str],
        mapping: ColumnMapping,
        match_property: &str,
    ) -> Vec<(String, FieldProblemKind)> {
        let properties: Vec<String> = properties.iter().map(|p| (*p).to_owned()).collect();
        let shape = PayloadShape {
            properties: Some(&properties),
            mapping: Some(&mapping),
            match_property,
        };
        problems(shape, &schema())
            .into_iter()
            .map(|p| (p.field, p.kind))
            .collect()
    }

    #[test]
    fn schema_problems_of_each_kind_are_found_and_a_clean_payload_has_none() {
        let clean = ColumnMapping::new()
            .column_type("birthday", ColumnType::Date)
            .column_type("stage", ColumnType::String);
        assert!(check(&["email", "lastname", "stage", "birthday"], clean, "email").is_empty());
        let kinds = check(
            &["email", "compnay", "score", "stage", "birthday", "tags"],
            ColumnMapping::new()
                .column_type("stage", ColumnType::Integer)
                .column_type("birthday", ColumnType::Timestamp)
                .column_type("tags", ColumnType::Boolean),
            "name",
        );
        assert_eq!(
            kinds,
            [
                ("compnay".to_owned(), FieldProblemKind::NotAProperty),
                ("score".to_owned(), FieldProblemKind::ReadOnly),
                ("stage".to_owned(), FieldProblemKind::TypeMismatch),
                ("birthday".to_owned(), FieldProblemKind::TypeMismatch),
                ("tags".to_owned(), FieldProblemKind::TypeMismatch),
                ("lastname".to_owned(), FieldProblemKind::RequiredMissing),
                ("name".to_owned(), FieldProblemKind::MatchNotUnique),
            ]
        );
    }

    #[test]
    fn schema_problems_say_what_the_crm_expects() {
        let properties = vec!["compnay".to_owned(), "stage".to_owned()];
        let mapping = ColumnMapping::new().column_type("stage", ColumnType::Integer);
        let shape = PayloadShape {
            properties: Some(&properties),
            mapping: Some(&mapping),
            match_property: "",
        };
        let messages: Vec<String> = problems(shape, &schema())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages[0],
            "`compnay` is not a property; did you mean `company`?"
        );
        assert_eq!(
            messages[1],
            "`stage`: the column is declared integer, the CRM expects enumeration (t) with options lead, customer"
        );
    }

    #[test]
    fn schema_unknown_properties_skip_the_field_checks_but_not_the_match() {
        let shape = PayloadShape {
            properties: None,
            mapping: None,
            match_property: "name",
        };
        let found = problems(shape, &schema());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FieldProblemKind::MatchNotUnique);
    }
}
