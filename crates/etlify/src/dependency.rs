//! Dependencies: other tables whose changes make a record stale.
//!
//! The engine cannot reflect on an ORM, so every association is declared
//! explicitly as one or more join paths from the owner's table to the
//! table whose timestamp counts. Each kind of association of the original
//! gem (docs/MODELS.md, "Dependencies: what makes a record stale") is a constructor here:
//!
//! | gem association | constructor |
//! |---|---|
//! | `belongs_to :company` | [`Dependency::belongs_to`] |
//! | `has_one` / `has_many` (`as:` polymorphic) | [`Dependency::has_many`] + [`Dependency::polymorphic_as`] |
//! | `has_and_belongs_to_many` | [`Dependency::habtm`] |
//! | `has_many :through` (any depth, self-joins) | [`Dependency::through`] with [`Hop`]s |
//! | polymorphic `belongs_to` (ignored by the gem) | [`Dependency::polymorphic_belongs_to`] |

use crate::values::TimestampColumn;

/// One step of a join path: from the previous table to `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Table reached by this step.
    pub table: String,
    /// Column of `table` compared with `previous_column`.
    pub column: String,
    /// Column of the previous table (the owner for the first hop); `None`
    /// means that table's primary key.
    pub previous_column: Option<String>,
    /// Primary key of `table` (default `id`), used when the next hop joins
    /// on it.
    pub primary_key: String,
    /// Extra equality conditions (polymorphic type columns).
    pub conditions: Vec<HopCondition>,
    /// Timestamp column of `table` (meaningful for the last hop).
    pub timestamp: TimestampColumn,
}

/// `column = value` on one side of a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopCondition {
    /// Which table the column belongs to.
    pub side: HopSide,
    /// Column name.
    pub column: String,
    /// Required value (a type name such as `User`).
    pub value: String,
}

/// Side of a hop a [`HopCondition`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopSide {
    /// The table reached by the hop.
    This,
    /// The table the hop starts from.
    Previous,
}

impl Hop {
    /// To `table` through a foreign key on the previous table:
    /// `table.id = previous.foreign_key`.
    pub fn belongs_to(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            column: "id".to_owned(),
            previous_column: Some(foreign_key.into()),
            primary_key: "id".to_owned(),
            conditions: Vec::new(),
            timestamp: TimestampColumn::Auto,
        }
    }

    /// To `table` through a foreign key on `table`:
    /// `table.foreign_key = previous.<primary key>`.
    pub fn has_many(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            column: foreign_key.into(),
            previous_column: None,
            primary_key: "id".to_owned(),
            conditions: Vec::new(),
            timestamp: TimestampColumn::Auto,
        }
    }

    /// `has_one` hop: same join as [`Hop::has_many`].
    pub fn has_one(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self::has_many(table, foreign_key)
    }

    /// The referenced key of a `belongs_to` hop, when not `id`
    /// (the association's `primary_key:` option).
    pub fn references(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }

    /// Primary key of this hop's table, when not `id`.
    pub fn primary_key(mut self, column: impl Into<String>) -> Self {
        self.primary_key = column.into();
        self
    }

    /// Polymorphic `as:`: `table.type_column = type_value`.
    pub fn polymorphic_as(
        mut self,
        type_column: impl Into<String>,
        type_value: impl Into<String>,
    ) -> Self {
        self.conditions.push(HopCondition {
            side: HopSide::This,
            column: type_column.into(),
            value: type_value.into(),
        });
        self
    }

    /// Polymorphic source with `source_type:`: `previous.type_column = type_value`.
    pub fn source_type(
        mut self,
        type_column: impl Into<String>,
        type_value: impl Into<String>,
    ) -> Self {
        self.conditions.push(HopCondition {
            side: HopSide::Previous,
            column: type_column.into(),
            value: type_value.into(),
        });
        self
    }

    /// Timestamp column of this hop's table.
    pub fn timestamp(mut self, timestamp: TimestampColumn) -> Self {
        self.timestamp = timestamp;
        self
    }
}

/// A chain of hops from the owner to the table whose timestamp counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPath {
    /// The hops, owner side first; never empty.
    pub hops: Vec<Hop>,
}

impl JoinPath {
    /// The table whose timestamp counts.
    pub fn target(&self) -> &Hop {
        // Internal invariant: constructors never build an empty path.
        self.hops.last().expect("a join path has at least one hop")
    }
}

/// A declared dependency: the newest timestamp over all its paths counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    name: String,
    paths: Vec<JoinPath>,
}

impl Dependency {
    /// `belongs_to`: `table.id = owner.foreign_key`.
    pub fn belongs_to(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self::single(Hop::belongs_to(table, foreign_key))
    }

    /// `has_one` / `has_many`: `MAX(table.ts)` over `table.foreign_key =
    /// owner.pk`.
    pub fn has_many(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self::single(Hop::has_many(table, foreign_key))
    }

    /// `has_one`: same rule as [`Dependency::has_many`].
    pub fn has_one(table: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self::has_many(table, foreign_key)
    }

    /// `has_and_belongs_to_many` through `join_table`.
    pub fn habtm(
        join_table: impl Into<String>,
        owner_key: impl Into<String>,
        other_key: impl Into<String>,
        table: impl Into<String>,
    ) -> Self {
        let join = Hop::has_many(join_table, owner_key).timestamp(TimestampColumn::None);
        Self::through(vec![join, Hop::belongs_to(table, other_key)])
    }

    /// `has_many :through` / `has_one :through`, any depth (G-20).
    /// Self-joins are fine: every hop gets its own alias.
    pub fn through(hops: Vec<Hop>) -> Self {
        let name = hops.last().map(|h| h.table.clone()).unwrap_or_default();
        Self {
            name,
            paths: vec![JoinPath { hops }],
        }
    }

    /// Polymorphic `belongs_to`: `owner.type_column` says which of
    /// `targets` (`(type value, table)`) `owner.id_column` points to.
    pub fn polymorphic_belongs_to<T, N>(
        id_column: impl Into<String>,
        type_column: impl Into<String>,
        targets: impl IntoIterator<Item = (T, N)>,
    ) -> Self
    where
        T: Into<String>,
        N: Into<String>,
    {
        let id_column = id_column.into();
        let type_column = type_column.into();
        let paths: Vec<JoinPath> = targets
            .into_iter()
            .map(|(type_value, table)| JoinPath {
                hops: vec![Hop::belongs_to(table, id_column.clone())
                    .source_type(type_column.clone(), type_value)],
            })
            .collect();
        Self {
            name: id_column,
            paths,
        }
    }

    fn single(hop: Hop) -> Self {
        Self {
            name: hop.table.clone(),
            paths: vec![JoinPath { hops: vec![hop] }],
        }
    }

    /// Names the dependency (for messages); the target table by default.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Polymorphic `as:` on the (single) hop of a has_one/has_many.
    pub fn polymorphic_as(
        mut self,
        type_column: impl Into<String>,
        type_value: impl Into<String>,
    ) -> Self {
        let (type_column, type_value) = (type_column.into(), type_value.into());
        for path in &mut self.paths {
            if let Some(first) = path.hops.first_mut() {
                *first = first
                    .clone()
                    .polymorphic_as(type_column.clone(), type_value.clone());
            }
        }
        self
    }

    /// Referenced key of a belongs_to (the association's `primary_key:`).
    pub fn references(mut self, column: impl Into<String>) -> Self {
        let column = column.into();
        for path in &mut self.paths {
            if let Some(last) = path.hops.last_mut() {
                last.column = column.clone();
            }
        }
        self
    }

    /// Timestamp column of the target table(s).
    pub fn timestamp(mut self, timestamp: TimestampColumn) -> Self {
        for path in &mut self.paths {
            if let Some(last) = path.hops.last_mut() {
                last.timestamp = timestamp.clone();
            }
        }
        self
    }

    /// The dependency's name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Its join paths.
    pub fn get_paths(&self) -> &[JoinPath] {
        &self.paths
    }
}

/// A dependency that must exist in the CRM before the record is sent
/// (the gem's `sync_dependencies`, G-18): the record's
/// `foreign_key` points at a record of the declared model `resource_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDependency {
    /// Declared resource type of the dependency, e.g. `Company`.
    pub resource_type: String,
    /// Column of the owner's table holding the dependency's primary key.
    pub foreign_key: String,
}

impl SyncDependency {
    /// The record's `foreign_key` references a `resource_type` record.
    pub fn new(resource_type: impl Into<String>, foreign_key: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            foreign_key: foreign_key.into(),
        }
    }
}
