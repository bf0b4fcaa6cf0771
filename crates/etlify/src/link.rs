//! Links: a record's relation to records of another declared model, kept
//! in the CRM as the CRM links objects (docs/MODELS.md, "Links").
//!
//! A link is declared on a binding ([`crate::Binding::link`]): the target
//! model, how the record's targets are found in the database, and, on a
//! CRM with associations (HubSpot), the association type. On a CRM without
//! them (Airtable), the link is a payload field holding the targets' CRM
//! ids (a linked-record field), named after the link.
//!
//! | how the targets are found | constructor |
//! |---|---|
//! | `belongs_to :company` (a foreign key on the record's table) | [`Link::belongs_to`] |
//! | `has_many` (a foreign key on the target's table) | [`Link::has_many`] |
//! | `has_and_belongs_to_many`, or `has_many :through` one join table | [`Link::join_table`] |
//! | polymorphic `belongs_to` (a type and id pair) | [`Link::polymorphic`] |

use std::fmt;

/// How a record's targets are found in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkVia {
    /// The record's `foreign_key` holds the target's primary key.
    BelongsTo {
        /// Column of the record's table.
        foreign_key: String,
    },
    /// The target's table has `foreign_key` holding the record's primary key.
    HasMany {
        /// Column of the target's table.
        foreign_key: String,
    },
    /// A join table pairs records and targets.
    JoinTable {
        /// The join table.
        table: String,
        /// Its column holding the record's primary key.
        owner_column: String,
        /// Its column holding the target's primary key.
        target_column: String,
    },
    /// The record's `type_column` names the target's model (its declared
    /// resource type, or `type_value`) and `id_column` holds its key.
    Polymorphic {
        /// Column of the record's table holding the target's type.
        type_column: String,
        /// Column of the record's table holding the target's key.
        id_column: String,
        /// The value of `type_column` that means this target model.
        type_value: String,
    },
}

/// Who defined a HubSpot association type (HubSpot's `associationCategory`).
// HubSpot's own names, which all end so.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssociationCategory {
    /// `HUBSPOT_DEFINED`.
    HubSpotDefined,
    /// `USER_DEFINED`: a label made in the portal.
    UserDefined,
    /// `INTEGRATOR_DEFINED`: a label made by an app.
    IntegratorDefined,
}

impl AssociationCategory {
    /// The spelling of the API and of the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubSpotDefined => "HUBSPOT_DEFINED",
            Self::UserDefined => "USER_DEFINED",
            Self::IntegratorDefined => "INTEGRATOR_DEFINED",
        }
    }

    /// Every category.
    pub const ALL: [AssociationCategory; 3] = [
        Self::HubSpotDefined,
        Self::UserDefined,
        Self::IntegratorDefined,
    ];

    /// The category spelled `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text.trim())
    }
}

/// The kind of association a link makes in a CRM that has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssociationType {
    /// The CRM's default (most generic, unlabeled) association between the
    /// two object types.
    #[default]
    Default,
    /// A labelled (or a specific HubSpot-defined) type, by its id.
    Typed {
        /// Who defined it.
        category: AssociationCategory,
        /// Its `associationTypeId`.
        type_id: u32,
    },
}

impl AssociationType {
    /// The type as `etlify_links` records it (its `Display`), read back.
    pub(crate) fn from_recorded(text: &str) -> Option<Self> {
        if text == "default" {
            return Some(Self::Default);
        }
        let (category, type_id) = text.split_once(':')?;
        Some(Self::Typed {
            category: AssociationCategory::parse(category)?,
            type_id: type_id.parse().ok()?,
        })
    }
}

impl fmt::Display for AssociationType {
    /// `default`, or `CATEGORY:type_id` (as recorded in `etlify_links`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Typed { category, type_id } => write!(f, "{}:{type_id}", category.as_str()),
        }
    }
}

/// A link declared on a binding: the record's targets, records of the
/// declared model `target`, linked to the record's CRM object.
///
/// ```
/// use etlify::{AssociationType, Binding, Link, Model, SqlPayload};
///
/// let companies = Model::new("Company", "companies").bind(
///     "hubspot",
///     Binding::new("companies", "domain")
///         .payload(SqlPayload::new("SELECT id, domain, name FROM companies")),
/// );
/// let users = Model::new("User", "users").bind(
///     "hubspot",
///     Binding::new("contacts", "email")
///         .payload(SqlPayload::new("SELECT id, email FROM users"))
///         .link(Link::belongs_to("Company", "company_id")),
/// );
/// let link = &users.get_binding("hubspot").unwrap().get_links()[0];
/// assert_eq!(link.get_target(), "Company");
/// assert_eq!(link.get_association(), AssociationType::Default);
/// # let _ = companies;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub(crate) name: String,
    pub(crate) target: String,
    pub(crate) via: LinkVia,
    pub(crate) association: AssociationType,
    /// A label named instead of a type id: the CRM says its type.
    pub(crate) label: Option<String>,
}

impl Link {
    fn new(name: String, target: impl Into<String>, via: LinkVia) -> Self {
        Self {
            name,
            target: target.into(),
            via,
            association: AssociationType::Default,
            label: None,
        }
    }

    /// The record's `foreign_key` points at a record of `target`
    /// (`users.company_id` → `Company`). Named after the foreign key.
    pub fn belongs_to(target: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        let foreign_key = foreign_key.into();
        Self::new(
            foreign_key.clone(),
            target,
            LinkVia::BelongsTo { foreign_key },
        )
    }

    /// Records of `target` whose `foreign_key` points at the record
    /// (`companies` → the `users` whose `company_id` is the company's id).
    /// Named after the target model.
    pub fn has_many(target: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        let target = target.into();
        Self::new(
            target.clone(),
            target,
            LinkVia::HasMany {
                foreign_key: foreign_key.into(),
            },
        )
    }

    /// Records of `target` paired with the record in `table`
    /// (`has_and_belongs_to_many`): `owner_column` holds the record's key,
    /// `target_column` the target's. Named after the join table.
    pub fn join_table(
        target: impl Into<String>,
        table: impl Into<String>,
        owner_column: impl Into<String>,
        target_column: impl Into<String>,
    ) -> Self {
        let table = table.into();
        Self::new(
            table.clone(),
            target,
            LinkVia::JoinTable {
                table,
                owner_column: owner_column.into(),
                target_column: target_column.into(),
            },
        )
    }

    /// A polymorphic `belongs_to`: the record points at a record of
    /// `target` when its `type_column` holds `target` (the declared
    /// resource type; see [`Link::type_value`]) and `id_column` its key.
    /// Declare one link per possible target model. Named after `id_column`.
    pub fn polymorphic(
        target: impl Into<String>,
        type_column: impl Into<String>,
        id_column: impl Into<String>,
    ) -> Self {
        let target = target.into();
        let id_column = id_column.into();
        Self::new(
            format!("{id_column}:{target}"),
            target.clone(),
            LinkVia::Polymorphic {
                type_column: type_column.into(),
                id_column,
                type_value: target,
            },
        )
    }

    /// The value of a polymorphic link's type column that means its target
    /// model, when not the target's resource type.
    pub fn type_value(mut self, value: impl Into<String>) -> Self {
        if let LinkVia::Polymorphic { type_value, .. } = &mut self.via {
            *type_value = value.into();
        }
        self
    }

    /// Names the link: what `etlify_links` records it under, and, on a CRM
    /// without associations (Airtable), the linked-record field it fills.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The association type ([`AssociationType::Default`] unless set).
    pub fn association(mut self, association: AssociationType) -> Self {
        self.association = association;
        self.label = None;
        self
    }

    /// The association type named by its label in the CRM (HubSpot's
    /// association labels, e.g. `"Decision maker"`): its category and type
    /// id are read from the CRM once per engine, when first needed.
    pub fn association_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The association label, when the type is named by one.
    pub fn get_association_label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The link's name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// The target model's resource type.
    pub fn get_target(&self) -> &str {
        &self.target
    }

    /// How the targets are found.
    pub fn get_via(&self) -> &LinkVia {
        &self.via
    }

    /// The association type.
    pub fn get_association(&self) -> AssociationType {
        self.association
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_constructors_name_their_links_after_what_finds_them() {
        assert_eq!(
            Link::belongs_to("Company", "company_id").get_name(),
            "company_id"
        );
        assert_eq!(Link::has_many("User", "company_id").get_name(), "User");
        assert_eq!(
            Link::join_table("Deal", "contacts_deals", "contact_id", "deal_id").get_name(),
            "contacts_deals"
        );
        let polymorphic = Link::polymorphic("Company", "owner_type", "owner_id").type_value("Org");
        assert_eq!(polymorphic.get_name(), "owner_id:Company");
        assert!(matches!(
            polymorphic.get_via(),
            LinkVia::Polymorphic { type_value, .. } if type_value == "Org"
        ));
    }

    #[test]
    fn link_association_types_display_as_recorded() {
        assert_eq!(AssociationType::Default.to_string(), "default");
        let typed = AssociationType::Typed {
            category: AssociationCategory::UserDefined,
            type_id: 12,
        };
        assert_eq!(typed.to_string(), "USER_DEFINED:12");
        assert_eq!(
            AssociationType::from_recorded("USER_DEFINED:12"),
            Some(typed)
        );
        assert_eq!(
            AssociationType::from_recorded("default"),
            Some(AssociationType::Default)
        );
        assert_eq!(AssociationType::from_recorded("USER_DEFINED:x"), None);
        assert_eq!(
            AssociationCategory::parse("INTEGRATOR_DEFINED"),
            Some(AssociationCategory::IntegratorDefined)
        );
        assert_eq!(AssociationCategory::parse("OTHER"), None);
    }
}
