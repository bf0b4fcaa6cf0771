//! Airtable bases, tables and records in memory. Tables with a declared
//! schema validate field names and values (and have `fld…` ids); tables
//! without one accept any field. Every write request is validated in full
//! before anything is stored, so a rejected request changes nothing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::errors::AirtableError;
use super::formula::{self, Expr, RecordView};
use crate::config::{AirtableConfig, FieldKind, NotFoundStyle, TableConfig};
use crate::random::Random;

/// One stored record, as dumped by the admin API and persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AirtableRecord {
    /// Record id (`rec` + 14 alphanumerics).
    pub id: String,
    /// ISO 8601 creation time.
    pub created_time: String,
    /// Cell values by field name (empty values are not stored).
    pub fields: BTreeMap<String, Value>,
}

/// Cells keyed by field name, plus select options to add: (field name, option).
type PreparedCells = (BTreeMap<String, Value>, Vec<(String, String)>);

/// One declared field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Field {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: FieldKind,
    pub(crate) options: Vec<String>,
    pub(crate) linked_table: Option<String>,
}

/// One table.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Declared fields; `None` for a schemaless table.
    pub(crate) schema: Option<Vec<Field>>,
    records: BTreeMap<u64, AirtableRecord>,
    by_id: HashMap<String, u64>,
    next_seq: u64,
}

impl Table {
    fn new(name: &str, config: &TableConfig, random: &mut Random) -> Self {
        let schema = config.fields.as_ref().map(|fields| {
            fields
                .iter()
                .map(|f| Field {
                    id: f.id.clone().unwrap_or_else(|| random.airtable_id("fld")),
                    name: f.name.clone(),
                    kind: f.kind,
                    options: f.options.clone(),
                    linked_table: f.linked_table.clone(),
                })
                .collect()
        });
        Self {
            id: config
                .id
                .clone()
                .unwrap_or_else(|| random.airtable_id("tbl")),
            name: name.to_owned(),
            schema,
            records: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 1,
        }
    }

    /// The declared field named or identified by `key`.
    pub(crate) fn field(&self, key: &str) -> Option<&Field> {
        self.schema
            .as_ref()?
            .iter()
            .find(|f| f.name == key || f.id == key)
    }

    /// Canonical (stored) name of a field key, or UNKNOWN_FIELD_NAME.
    pub(crate) fn canonical_name(&self, key: &str) -> Result<String, AirtableError> {
        match &self.schema {
            None => Ok(key.to_owned()),
            Some(_) => self
                .field(key)
                .map(|f| f.name.clone())
                .ok_or_else(|| AirtableError::unknown_field(key)),
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&AirtableRecord> {
        self.records.get(self.by_id.get(id)?)
    }

    fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    fn insert(&mut self, record: AirtableRecord) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(record.id.clone(), seq);
        self.records.insert(seq, record);
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut AirtableRecord> {
        self.records.get_mut(self.by_id.get(id)?)
    }

    fn remove(&mut self, id: &str) -> bool {
        match self.by_id.remove(id) {
            Some(seq) => self.records.remove(&seq).is_some(),
            None => false,
        }
    }

    /// All records in creation order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &AirtableRecord> {
        self.records.values()
    }

    /// The record JSON `{id, createdTime, fields}`: empty values omitted,
    /// keyed by field id when asked (and the table has a schema), limited to `only` fields.
    pub(crate) fn record_json(
        &self,
        record: &AirtableRecord,
        by_field_id: bool,
        only: Option<&[String]>,
    ) -> Value {
        let mut fields = Map::new();
        for (name, value) in &record.fields {
            if is_empty_value(value) {
                continue;
            }
            let declared = self.field(name);
            if let Some(only) = only {
                let listed = only
                    .iter()
                    .any(|o| o == name || declared.is_some_and(|d| &d.id == o));
                if !listed {
                    continue;
                }
            }
            let key = match declared {
                Some(field) if by_field_id => field.id.clone(),
                _ => name.clone(),
            };
            fields.insert(key, value.clone());
        }
        serde_json::json!({ "id": record.id, "createdTime": record.created_time, "fields": fields })
    }
}

/// `""`, `[]`, `false` and `null` are not shown by Airtable.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// One base.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) tables: Vec<Table>,
}

impl Base {
    fn table_index(&self, key: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.id == key)
            .or_else(|| self.tables.iter().position(|t| t.name == key))
    }
}

/// A record to write: an existing id (update) or none (create / upsert).
#[derive(Debug)]
pub(crate) struct RecordInput {
    pub(crate) id: Option<String>,
    pub(crate) fields: Map<String, Value>,
}

/// Result of an upsert: every written record, plus which were created.
#[derive(Debug)]
pub(crate) struct UpsertOutcome {
    pub(crate) records: Vec<AirtableRecord>,
    pub(crate) created: Vec<String>,
    pub(crate) updated: Vec<String>,
}

/// Options of a list request.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub(crate) page_size: Option<usize>,
    pub(crate) max_records: Option<usize>,
    pub(crate) offset: Option<String>,
    pub(crate) formula: Option<String>,
    pub(crate) sort: Vec<(String, bool)>,
}

/// All bases.
#[derive(Debug)]
pub(crate) struct AirtableStore {
    bases: BTreeMap<String, Base>,
    random: Random,
    auto_create: bool,
    merge_case_insensitive: bool,
    pub(crate) formula_case_insensitive: bool,
    pub(crate) not_found_style: NotFoundStyle,
    max_page_size: usize,
}

/// Declared fields, base id → table name → fields (persisted).
pub(crate) type AirtableSchemas = BTreeMap<String, BTreeMap<String, Vec<Field>>>;

/// The persisted form: base id → table name → records.
pub(crate) type AirtableSnapshot = BTreeMap<String, BTreeMap<String, Vec<AirtableRecord>>>;

struct Located {
    base: String,
    table: usize,
}

impl AirtableStore {
    pub(crate) fn new(config: &AirtableConfig, seed: Option<u64>) -> Self {
        // A distinct stream from the fault draws, still reproducible from one seed.
        let mut random = Random::new(seed.map(|s| s.wrapping_add(0x005e_eda1)));
        let bases = config
            .bases
            .iter()
            .map(|(base_id, base)| {
                let tables = base
                    .tables
                    .iter()
                    .map(|(name, table)| Table::new(name, table, &mut random))
                    .collect();
                (base_id.clone(), Base { tables })
            })
            .collect();
        Self {
            bases,
            random,
            auto_create: config.auto_create_tables,
            merge_case_insensitive: config.merge_case_insensitive,
            formula_case_insensitive: config.formula_case_insensitive,
            not_found_style: config.not_found_style,
            max_page_size: config.max_page_size,
        }
    }

    /// Finds (or, with `auto_create_tables`, creates) a table.
    fn locate(&mut self, base_id: &str, table_key: &str) -> Result<Located, AirtableError> {
        if !self.bases.contains_key(base_id) {
            if !self.auto_create || !base_id.starts_with("app") {
                return Err(AirtableError::base_not_found());
            }
            self.bases
                .insert(base_id.to_owned(), Base { tables: Vec::new() });
        }
        let auto_create = self.auto_create;
        let random = &mut self.random;
        let base = self
            .bases
            .get_mut(base_id)
            .ok_or_else(AirtableError::base_not_found)?;
        let table = match base.table_index(table_key) {
            Some(index) => index,
            None if auto_create && !table_key.is_empty() => {
                base.tables
                    .push(Table::new(table_key, &TableConfig::default(), random));
                base.tables.len() - 1
            }
            None => return Err(AirtableError::table_not_found(base_id, table_key)),
        };
        Ok(Located {
            base: base_id.to_owned(),
            table,
        })
    }

    fn base(&self, located: &Located) -> Result<&Base, AirtableError> {
        self.bases
            .get(&located.base)
            .ok_or_else(AirtableError::base_not_found)
    }

    /// The table, for reading (creates it when allowed).
    pub(crate) fn table(
        &mut self,
        base_id: &str,
        table_key: &str,
    ) -> Result<&Table, AirtableError> {
        let located = self.locate(base_id, table_key)?;
        self.base(&located)?
            .tables
            .get(located.table)
            .ok_or_else(|| AirtableError::table_not_found(base_id, table_key))
    }

    fn table_mut(&mut self, located: &Located) -> Result<&mut Table, AirtableError> {
        self.bases
            .get_mut(&located.base)
            .and_then(|b| b.tables.get_mut(located.table))
            .ok_or_else(AirtableError::base_not_found)
    }

    /// Tables of a declared or auto-created base.
    pub(crate) fn base_tables(&self, base_id: &str) -> Option<&[Table]> {
        self.bases.get(base_id).map(|b| b.tables.as_slice())
    }

    /// The table `table_key` (id or name) of a base, to change its schema,
    /// and a fresh field id for it.
    pub(crate) fn schema_table_mut(
        &mut self,
        base_id: &str,
        table_key: &str,
    ) -> Result<(&mut Table, String), AirtableError> {
        let field_id = self.random.airtable_id("fld");
        let base = self
            .bases
            .get_mut(base_id)
            .ok_or_else(AirtableError::base_not_found)?;
        let index = base
            .table_index(table_key)
            .ok_or_else(|| AirtableError::table_not_found(base_id, table_key))?;
        Ok((&mut base.tables[index], field_id))
    }

    /// The declared fields of every table (base id → table name → fields),
    /// for the state file: fields created through the API survive a restart.
    pub(crate) fn schemas(&self) -> AirtableSchemas {
        self.per_table(|t| t.schema.clone())
    }

    /// Adds saved fields that a table's configuration lacks.
    pub(crate) fn restore_schemas(&mut self, schemas: AirtableSchemas) {
        self.give_tables(schemas, |table, fields| {
            let schema = table.schema.get_or_insert_with(Vec::new);
            for field in fields {
                if !schema.iter().any(|f| f.name == field.name) {
                    schema.push(field);
                }
            }
        });
    }

    /// What `read` says of each table, base id → table name → it.
    fn per_table<T>(
        &self,
        read: impl Fn(&Table) -> Option<T>,
    ) -> BTreeMap<String, BTreeMap<String, T>> {
        self.bases
            .iter()
            .map(|(base_id, base)| {
                let tables = base
                    .tables
                    .iter()
                    .filter_map(|t| Some((t.name.clone(), read(t)?)))
                    .collect();
                (base_id.clone(), tables)
            })
            .collect()
    }

    /// Hands each table of `saved` (located, or created when allowed) its
    /// saved part.
    fn give_tables<T>(
        &mut self,
        saved: BTreeMap<String, BTreeMap<String, T>>,
        mut write: impl FnMut(&mut Table, T),
    ) {
        for (base_id, tables) in saved {
            for (table_name, part) in tables {
                let Ok(located) = self.locate(&base_id, &table_name) else {
                    continue;
                };
                if let Ok(table) = self.table_mut(&located) {
                    write(table, part);
                }
            }
        }
    }

    fn now() -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Validates input cells and returns them keyed by field name, plus
    /// select options to add (typecast).
    fn prepare(
        base: &Base,
        table: &Table,
        input: &Map<String, Value>,
        typecast: bool,
    ) -> Result<PreparedCells, AirtableError> {
        let mut cells = BTreeMap::new();
        let mut new_options = Vec::new();
        for (key, value) in input {
            let name = table.canonical_name(key)?;
            let value = match table.field(key) {
                None => value.clone(),
                Some(field) => check_cell(base, field, value, typecast, &mut new_options)?,
            };
            cells.insert(name, value);
        }
        Ok((cells, new_options))
    }

    fn add_options(table: &mut Table, new_options: Vec<(String, String)>) {
        let Some(schema) = table.schema.as_mut() else {
            return;
        };
        for (field_name, option) in new_options {
            if let Some(field) = schema.iter_mut().find(|f| f.name == field_name) {
                if !field.options.contains(&option) {
                    field.options.push(option);
                }
            }
        }
    }

    fn new_record(&mut self, cells: BTreeMap<String, Value>) -> AirtableRecord {
        AirtableRecord {
            id: self.random.airtable_id("rec"),
            created_time: Self::now(),
            fields: cells.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        }
    }

    /// Creates records (all or none).
    pub(crate) fn create(
        &mut self,
        base_id: &str,
        table_key: &str,
        inputs: Vec<Map<String, Value>>,
        typecast: bool,
    ) -> Result<Vec<AirtableRecord>, AirtableError> {
        let located = self.locate(base_id, table_key)?;
        let mut prepared = Vec::with_capacity(inputs.len());
        {
            let base = self.base(&located)?;
            let table = base
                .tables
                .get(located.table)
                .ok_or_else(|| AirtableError::table_not_found(base_id, table_key))?;
            for input in &inputs {
                prepared.push(Self::prepare(base, table, input, typecast)?);
            }
        }
        let mut created = Vec::with_capacity(prepared.len());
        for (cells, new_options) in prepared {
            let record = self.new_record(cells);
            let table = self.table_mut(&located)?;
            Self::add_options(table, new_options);
            table.insert(record.clone());
            created.push(record);
        }
        Ok(created)
    }

    /// Updates existing records by id (all or none); `replace` clears unspecified fields (PUT).
    pub(crate) fn update(
        &mut self,
        base_id: &str,
        table_key: &str,
        inputs: Vec<RecordInput>,
        replace: bool,
        typecast: bool,
    ) -> Result<Vec<AirtableRecord>, AirtableError> {
        let outcome = self.upsert(base_id, table_key, None, inputs, replace, typecast)?;
        Ok(outcome.records)
    }

    /// Update-or-create by `fields_to_merge_on` (when given) or by id (all or none).
    pub(crate) fn upsert(
        &mut self,
        base_id: &str,
        table_key: &str,
        fields_to_merge_on: Option<&[String]>,
        inputs: Vec<RecordInput>,
        replace: bool,
        typecast: bool,
    ) -> Result<UpsertOutcome, AirtableError> {
        let located = self.locate(base_id, table_key)?;
        // Plan: (target id or None for create, cells, options).
        let mut plan = Vec::with_capacity(inputs.len());
        {
            let base = self.base(&located)?;
            let table = base
                .tables
                .get(located.table)
                .ok_or_else(|| AirtableError::table_not_found(base_id, table_key))?;
            let merge_names = match fields_to_merge_on {
                None => None,
                Some(keys) => {
                    if keys.is_empty() || keys.len() > 3 {
                        return Err(AirtableError::invalid_request(
                            "performUpsert.fieldsToMergeOn must contain between 1 and 3 field names or ids",
                        ));
                    }
                    Some(
                        keys.iter()
                            .map(|k| table.canonical_name(k))
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                }
            };
            for (index, input) in inputs.iter().enumerate() {
                let (cells, options) = Self::prepare(base, table, &input.fields, typecast)?;
                let target = match (&input.id, &merge_names) {
                    (Some(id), _) => {
                        if !table.contains(id) {
                            return Err(AirtableError::row_does_not_exist(id));
                        }
                        Some(id.clone())
                    }
                    (None, Some(merge_names)) => {
                        self.find_merge_target(table, merge_names, &cells, index)?
                    }
                    (None, None) => {
                        return Err(AirtableError::invalid_records_detail(format!(
                            "Record at index {index} needs an id (or use performUpsert)"
                        )))
                    }
                };
                plan.push((target, cells, options));
            }
        }
        let mut outcome = UpsertOutcome {
            records: Vec::with_capacity(plan.len()),
            created: Vec::new(),
            updated: Vec::new(),
        };
        for (target, cells, options) in plan {
            let record = match target {
                Some(id) => {
                    let table = self.table_mut(&located)?;
                    Self::add_options(table, options);
                    let record = table
                        .get_mut(&id)
                        .ok_or_else(|| AirtableError::row_does_not_exist(&id))?;
                    if replace {
                        record.fields.clear();
                    }
                    for (name, value) in cells {
                        if value.is_null() {
                            record.fields.remove(&name);
                        } else {
                            record.fields.insert(name, value);
                        }
                    }
                    outcome.updated.push(id);
                    record.clone()
                }
                None => {
                    let record = self.new_record(cells);
                    let table = self.table_mut(&located)?;
                    Self::add_options(table, options);
                    table.insert(record.clone());
                    outcome.created.push(record.id.clone());
                    record
                }
            };
            outcome.records.push(record);
        }
        Ok(outcome)
    }

    /// The single record matching the merge values, none, or an error when several match.
    fn find_merge_target(
        &self,
        table: &Table,
        merge_names: &[String],
        cells: &BTreeMap<String, Value>,
        index: usize,
    ) -> Result<Option<String>, AirtableError> {
        let mut wanted = Vec::with_capacity(merge_names.len());
        for name in merge_names {
            match cells.get(name).filter(|v| !is_empty_value(v)) {
                Some(value) => wanted.push((name, value)),
                None => {
                    return Err(AirtableError::invalid_records_detail(format!(
                        "Record at index {index} is missing a value for the fieldsToMergeOn field \"{name}\""
                    )))
                }
            }
        }
        let mut matches = table.records().filter(|record| {
            wanted.iter().all(|(name, value)| {
                record
                    .fields
                    .get(*name)
                    .is_some_and(|stored| self.merge_equal(stored, value))
            })
        });
        let first = matches.next().map(|r| r.id.clone());
        if matches.next().is_some() {
            return Err(AirtableError::invalid_records_detail(format!(
                "Cannot upsert record at index {index}: more than one record in table {} matches its fieldsToMergeOn values",
                table.name
            )));
        }
        Ok(first)
    }

    fn merge_equal(&self, stored: &Value, wanted: &Value) -> bool {
        match (stored, wanted) {
            (Value::String(a), Value::String(b)) if self.merge_case_insensitive => {
                a.to_lowercase() == b.to_lowercase()
            }
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
                s.trim().parse::<f64>().ok() == n.as_f64()
            }
            (a, b) => a == b,
        }
    }

    /// Deletes records (all or none).
    pub(crate) fn delete(
        &mut self,
        base_id: &str,
        table_key: &str,
        ids: &[String],
    ) -> Result<(), AirtableError> {
        let located = self.locate(base_id, table_key)?;
        let style = self.not_found_style;
        let table = self.table_mut(&located)?;
        if let Some(missing) = ids.iter().find(|id| !table.contains(id)) {
            return Err(AirtableError::record_not_found(style, missing));
        }
        for id in ids {
            table.remove(id);
        }
        Ok(())
    }

    /// One page of a list request: records and the next offset.
    pub(crate) fn list(
        &mut self,
        base_id: &str,
        table_key: &str,
        query: &ListQuery,
    ) -> Result<(Vec<AirtableRecord>, Option<String>), AirtableError> {
        let max_page = self.max_page_size;
        let case_insensitive = self.formula_case_insensitive;
        let table = self.table(base_id, table_key)?;
        let page_size = query.page_size.unwrap_or(max_page);
        if page_size == 0 || page_size > max_page {
            return Err(AirtableError::invalid_request(format!(
                "pageSize must be between 1 and {max_page}"
            )));
        }
        let (after_seq, already_returned) = match query.offset.as_deref() {
            None | Some("") => (0, 0),
            Some(offset) => parse_offset(offset).ok_or_else(|| {
                AirtableError::unprocessable(
                    "INVALID_OFFSET_VALUE",
                    format!("The offset {offset} is invalid"),
                )
            })?,
        };
        let formula = query.formula.as_deref().filter(|f| !f.trim().is_empty());
        let expr = match formula {
            None => None,
            Some(text) => Some(parse_formula(table, text)?),
        };
        let mut matching: Vec<(u64, &AirtableRecord)> = Vec::new();
        for (seq, record) in table.records.range(after_seq + 1..) {
            if let Some(expr) = &expr {
                let view = RecordWithSchema { table, record };
                let value = formula::evaluate(expr, &view, case_insensitive).map_err(|e| {
                    AirtableError::invalid_formula(format!(
                        "The formula for filtering records is invalid: {e}"
                    ))
                })?;
                if !value.truthy() {
                    continue;
                }
            }
            matching.push((*seq, record));
        }
        if !query.sort.is_empty() {
            // Sorted lists are returned in one pass of pages over the sorted order.
            sort_records(&mut matching, &query.sort, table);
        }
        let remaining_allowed = query
            .max_records
            .map_or(usize::MAX, |max| max.saturating_sub(already_returned));
        let take = page_size.min(remaining_allowed);
        let page: Vec<(u64, &AirtableRecord)> = matching.iter().take(take).copied().collect();
        let more = matching.len() > page.len() && page.len() == page_size && query.sort.is_empty();
        let next_offset = match (more, page.last()) {
            (true, Some((seq, record))) => Some(format!(
                "itr{seq}x{}/{}",
                already_returned + page.len(),
                record.id
            )),
            _ => None,
        };
        Ok((
            page.into_iter().map(|(_, r)| r.clone()).collect(),
            next_offset,
        ))
    }

    /// All records of a table, for the admin API.
    pub(crate) fn dump(&self, base_id: &str, table_key: &str) -> Option<Vec<AirtableRecord>> {
        let base = self.bases.get(base_id)?;
        let table = base.tables.get(base.table_index(table_key)?)?;
        Some(table.records().cloned().collect())
    }

    pub(crate) fn clear(&mut self) {
        for base in self.bases.values_mut() {
            for table in &mut base.tables {
                table.records.clear();
                table.by_id.clear();
            }
        }
    }

    pub(crate) fn snapshot(&self) -> AirtableSnapshot {
        self.per_table(|t| Some(t.records().cloned().collect()))
    }

    /// Loads persisted records (tables are created schemaless when unknown).
    pub(crate) fn restore(&mut self, snapshot: AirtableSnapshot) {
        self.give_tables(snapshot, |table, records| {
            for record in records {
                table.insert(record);
            }
        });
    }
}

impl AirtableError {
    /// 422 INVALID_RECORDS with a specific message.
    pub(crate) fn invalid_records_detail(message: String) -> Self {
        Self::unprocessable("INVALID_RECORDS", message)
    }
}

fn parse_offset(offset: &str) -> Option<(u64, usize)> {
    let rest = offset.strip_prefix("itr")?;
    let (position, _record) = rest.split_once('/')?;
    let (seq, returned) = position.split_once('x')?;
    Some((seq.parse().ok()?, returned.parse().ok()?))
}

/// Parses a formula and checks its field names against the schema.
fn parse_formula(table: &Table, text: &str) -> Result<Expr, AirtableError> {
    let expr = formula::parse(text).map_err(|e| {
        AirtableError::invalid_formula(format!("The formula for filtering records is invalid: {e}"))
    })?;
    if table.schema.is_some() {
        let unknown: Vec<String> = formula::field_names(&expr)
            .into_iter()
            .filter(|name| table.field(name).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(AirtableError::invalid_formula(format!(
                "Unknown field names: {}",
                unknown.join(", ")
            )));
        }
    }
    Ok(expr)
}

fn sort_records(records: &mut [(u64, &AirtableRecord)], sort: &[(String, bool)], table: &Table) {
    records.sort_by(|(_, a), (_, b)| {
        for (field, descending) in sort {
            let name = table
                .canonical_name(field)
                .unwrap_or_else(|_| field.clone());
            let ordering = compare_cells(a.fields.get(&name), b.fields.get(&name));
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != std::cmp::Ordering::Equal {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
}

fn compare_cells(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// A record seen by a formula: field references may use names or field ids.
struct RecordWithSchema<'a> {
    table: &'a Table,
    record: &'a AirtableRecord,
}

impl RecordView for RecordWithSchema<'_> {
    fn field(&self, name: &str) -> Option<&Value> {
        let canonical = self
            .table
            .field(name)
            .map_or(name, |declared| declared.name.as_str());
        self.record.fields.get(canonical)
    }

    fn record_id(&self) -> &str {
        &self.record.id
    }
}

/// Validates (and with `typecast`, converts) one cell of a declared field.
fn check_cell(
    base: &Base,
    field: &Field,
    value: &Value,
    typecast: bool,
    new_options: &mut Vec<(String, String)>,
) -> Result<Value, AirtableError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let bad = || AirtableError::invalid_value(&field.name, value);
    match field.kind {
        FieldKind::SingleLineText | FieldKind::MultilineText | FieldKind::Email => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(_) | Value::Bool(_) if typecast => Ok(Value::String(value.to_string())),
            _ => Err(bad()),
        },
        FieldKind::Number => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(text) if typecast => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(bad),
            _ => Err(bad()),
        },
        FieldKind::Checkbox => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(text) if typecast => Ok(Value::Bool(matches!(
                text.as_str(),
                "true" | "1" | "yes" | "checked"
            ))),
            _ => Err(bad()),
        },
        FieldKind::Date => match value {
            Value::String(text)
                if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
                    || chrono::DateTime::parse_from_rfc3339(text).is_ok() =>
            {
                Ok(value.clone())
            }
            _ => Err(bad()),
        },
        FieldKind::DateTime => match value {
            Value::String(text) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
                Ok(value.clone())
            }
            _ => Err(bad()),
        },
        FieldKind::Formula => Err(AirtableError::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!(
                "Field \"{}\" cannot accept a value because the field is computed",
                field.name
            ),
        )),
        FieldKind::SingleSelect => match value {
            Value::String(choice) => {
                check_choice(field, choice, typecast, new_options)?;
                Ok(value.clone())
            }
            _ => Err(bad()),
        },
        FieldKind::MultipleSelects => {
            let choices: Vec<String> = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned).ok_or_else(bad))
                    .collect::<Result<_, _>>()?,
                Value::String(text) if typecast => {
                    text.split(',').map(|c| c.trim().to_owned()).collect()
                }
                _ => return Err(bad()),
            };
            for choice in &choices {
                check_choice(field, choice, typecast, new_options)?;
            }
            Ok(Value::Array(
                choices.into_iter().map(Value::String).collect(),
            ))
        }
        FieldKind::MultipleRecordLinks => {
            let ids: Vec<String> = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(id) => Ok(id.clone()),
                        Value::Object(o) => o
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .ok_or_else(bad),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(bad()),
            };
            let linked = field
                .linked_table
                .as_deref()
                .and_then(|name| base.tables.iter().find(|t| t.name == name));
            for id in &ids {
                if !linked.is_some_and(|table| table.contains(id)) {
                    return Err(AirtableError::unprocessable(
                        "ROW_DOES_NOT_EXIST",
                        format!("Record ID {id} does not exist"),
                    ));
                }
            }
            Ok(Value::Array(ids.into_iter().map(Value::String).collect()))
        }
    }
}

fn check_choice(
    field: &Field,
    choice: &str,
    typecast: bool,
    new_options: &mut Vec<(String, String)>,
) -> Result<(), AirtableError> {
    if field.options.iter().any(|o| o == choice) {
        return Ok(());
    }
    if typecast {
        new_options.push((field.name.clone(), choice.to_owned()));
        return Ok(());
    }
    Err(AirtableError::unprocessable(
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        format!("Insufficient permissions to create new select option \"\"{choice}\"\""),
    ))
}
