#!/usr/bin/env python3
"""Prints the SQL that makes a gem-synced MySQL database out of one of the
repository's gem fixtures (crates/etlify/tests/fixtures/rails-gem-*.sqlite3).

    scripts/gem-fixture-to-mysql.py crates/etlify/tests/fixtures/rails-gem-synced.sqlite3 \
      | mariadb -h127.0.0.1 -P<port> -u<user> -p<password> <database>

The tables get the types Rails 6.1's mysql2 adapter gives the gem's
migrations and the application's (`bigint` keys, `varchar(255)`,
`datetime(6)` timestamps, and the gem's plain `datetime` `last_synced_at`,
which keeps whole seconds, truncated), with the same indexes; every row is
copied as it is, the gem's stored digests included. The tests run it
(`tests/interop_mysql.rs`).
"""

import re
import sqlite3
import sys


def column_type(declared):
    declared = declared.strip()
    lowered = declared.lower()
    if lowered.startswith("varchar") and "(" not in lowered:
        return "varchar(255)" + declared[len("varchar"):]
    if lowered.startswith("integer"):
        return "int" + declared[len("integer"):]
    return declared


def table_sql(sql):
    sql = sql.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE")
    sql = sql.replace('"id" integer PRIMARY KEY AUTOINCREMENT NOT NULL',
                      "`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY")
    head, body = sql.split("(", 1)
    body = body.rsplit(")", 1)[0]
    columns = []
    for column in re.split(r",\s*(?=\")", body):
        name, _, rest = column.strip().partition(" ")
        if rest.startswith("bigint NOT NULL AUTO_INCREMENT"):
            columns.append(f"{name} {rest}")
        else:
            columns.append(f"{name} {column_type(rest)}")
    return (head.strip() + " (" + ", ".join(columns) + ") ENGINE=InnoDB").replace('"', "`")


def literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def main(path):
    db = sqlite3.connect(path)
    out = ["SET NAMES utf8mb4;", "SET time_zone = '+00:00';"]
    tables = [row for row in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    for name, sql in tables:
        out.append(table_sql(sql) + ";")
    for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid"):
        out.append(sql.replace('"', "`") + ";")
    for name, _ in tables:
        cursor = db.execute(f'SELECT * FROM "{name}"')
        columns = ", ".join(f"`{d[0]}`" for d in cursor.description)
        rows = cursor.fetchall()
        for start in range(0, len(rows), 500):
            values = ", ".join(
                "(" + ", ".join(literal(v) for v in row) + ")" for row in rows[start:start + 500])
            out.append(f"INSERT INTO `{name}` ({columns}) VALUES {values};")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/gem-fixture-to-mysql.py FIXTURE.sqlite3")
    main(sys.argv[1])
