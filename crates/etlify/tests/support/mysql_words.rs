//! The tests' setup SQL, written once for SQLite and PostgreSQL, in
//! MySQL's words: the same tables and times, so that a test declared once
//! in `on_each_backend.rs` runs on MariaDB too.
//!
//! Only the forms the tests write are handled: SQLite's integer keys,
//! its other `integer` columns (64-bit, MySQL's `bigint`), `varchar`
//! without a length, `strftime(…, 'now'[, '±N seconds|minutes|hours'])`,
//! casts to `text` and `group_concat(x, sep)`.

/// `sql` (SQLite's or PostgreSQL's form) as MySQL reads it.
pub fn in_mysql_words(sql: &str) -> String {
    let mut sql = sql.to_owned();
    for key in [
        "integer PRIMARY KEY AUTOINCREMENT NOT NULL",
        "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL",
        "integer PRIMARY KEY AUTOINCREMENT",
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "integer PRIMARY KEY NOT NULL",
        "integer PRIMARY KEY",
        "INTEGER PRIMARY KEY",
        "bigserial PRIMARY KEY",
    ] {
        sql = sql.replace(key, "bigint NOT NULL AUTO_INCREMENT PRIMARY KEY");
    }
    let mut sql = sixty_four_bit_integers(&sql);
    for cast in ["AS text)", "AS TEXT)"] {
        sql = sql.replace(cast, "AS CHAR)");
    }
    let sql = sized_varchars(&sql);
    let sql = replace_calls(&sql, "strftime(", strftime);
    replace_calls(&sql, "group_concat(", group_concat)
}

/// SQLite's `integer` columns hold 64 bits, MySQL's 32: each is a
/// `bigint` (keys are replaced before).
fn sixty_four_bit_integers(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.to_ascii_lowercase().find(" integer") {
        let after = &rest[at + " integer".len()..];
        out.push_str(&rest[..at]);
        if after.is_empty() || after.starts_with([' ', ',', ')']) {
            out.push_str(" bigint");
        } else {
            out.push_str(&rest[at..at + " integer".len()]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `varchar` without a length gets Rails' 255.
fn sized_varchars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.to_ascii_lowercase().find("varchar") {
        let (before, after) = rest.split_at(at + "varchar".len());
        out.push_str(before);
        if !after.trim_start().starts_with('(') {
            out.push_str("(255)");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Every call `name…)` in `sql` replaced by `with(arguments)`.
fn replace_calls(sql: &str, name: &str, with: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(name) {
        out.push_str(&rest[..at]);
        let args_start = at + name.len();
        let mut depth = 1;
        let mut end = None;
        for (i, c) in rest[args_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(args_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&with(&rest[args_start..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `strftime('<format>', 'now'[, '±N seconds'])` as the server's UTC time.
fn strftime(args: &str) -> String {
    let args: Vec<&str> = args
        .split(',')
        .map(|a| a.trim().trim_matches('\''))
        .collect();
    let now = if args.first().is_some_and(|format| format.contains("%f")) {
        "UTC_TIMESTAMP(6)"
    } else {
        "UTC_TIMESTAMP()"
    };
    match args.get(2).and_then(|shift| shift.split_once(' ')) {
        Some((amount, unit)) => {
            let amount: f64 = amount
                .parse()
                .expect("a number of seconds, minutes or hours");
            let unit_seconds = match unit.trim_end_matches('s') {
                "second" => 1.0,
                "minute" => 60.0,
                "hour" => 3_600.0,
                other => panic!("strftime shift in {other} is not read in MySQL's words"),
            };
            format!(
                "({now} + INTERVAL {} MICROSECOND)",
                (amount * unit_seconds * 1_000_000.0).round() as i64
            )
        }
        None => now.to_owned(),
    }
}

/// `group_concat(x, 'sep')` as `GROUP_CONCAT(x SEPARATOR 'sep')`.
fn group_concat(args: &str) -> String {
    match args.rsplit_once(',') {
        Some((value, separator)) => {
            format!("GROUP_CONCAT({value} SEPARATOR {})", separator.trim())
        }
        None => format!("GROUP_CONCAT({args})"),
    }
}
