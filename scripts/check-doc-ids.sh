#!/usr/bin/env bash
# Fails when a comment points at something the repository does not hold.
#
# Comments under crates/ cite promises and facts by id: `G-n` / `X-n`
# (docs/BEHAVIOUR.md) and `HUBSPOT-n` / `AIRTABLE-n` (docs/CRM-APIS.md). An
# id is defined by a docs/*.md table row starting with it (`| X-1 | …`) or
# a heading starting with it (`### HUBSPOT-5: …`). This script fails if a
# comment under crates/ (or a line of docs/*.md or README.md):
#   * names SPEC, REFERENCE or CONTRACTS, or cites a numbered section
#     (`§`): documents that are not in the repository;
#   * cites an id (`ABC-12`) that no docs/*.md defines;
#   * names a `docs/NAME.md` that does not exist, or a section of it
#     (`docs/NAME.md, "Title"`) that no heading or bold list item of that
#     file starts with.
# Standard names that look like ids (SHA-256, UTF-8) are allowed.
#
# Needs only bash and python3. Usage: scripts/check-doc-ids.sh
set -euo pipefail
cd "$(dirname "$0")/.."

exec python3 - <<'PY'
import pathlib
import re
import subprocess
import sys

NOT_IDS = {"SHA-1", "SHA-256", "SHA-512", "UTF-8", "UTF-16", "ISO-8601"}
ID = re.compile(r"\b[A-Z][A-Z0-9]*-[0-9]+\b")
FORBIDDEN = re.compile(r"\b(SPEC|REFERENCE|CONTRACTS)\b|§")
DOC_REF = re.compile(r'\bdocs/([A-Za-z0-9_-]+\.md)(?:, "([^"]+)")?')

docs = sorted(pathlib.Path("docs").glob("*.md"))
defined = set()
headings = {}
for doc in docs:
    titles = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        row = re.match(r"\|\s*([A-Z][A-Z0-9]*-[0-9]+)\s*\|", line)
        heading = re.match(r"#+\s+(.*?)\s*$", line)
        run_in = re.match(r"\s*[-*]\s+\*\*(.+?)\*\*", line)  # a bold list item
        if run_in:
            titles.add(run_in.group(1))
        if row:
            defined.add(row.group(1))
        if heading:
            titles.add(heading.group(1))
            head_id = re.match(r"([A-Z][A-Z0-9]*-[0-9]+)\b", heading.group(1))
            if head_id:
                defined.add(head_id.group(1))
    headings[doc.name] = titles


def rust_comments(text):
    """(line number, text) of every comment of a Rust source."""
    out, i, line, n = [], 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append((line, text[i:end]))
            i = end
        elif text.startswith("/*", i):
            depth, j, start_line = 1, i + 2, line
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            for k, part in enumerate(text[i:j].split("\n")):
                out.append((start_line + k, part))
            line += text.count("\n", i, j)
            i = j
        elif re.match(r'b?r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            raw = re.match(r'b?r(#*)"', text[i:])
            close = '"' + raw.group(1)
            end = text.find(close, i + raw.end())
            end = n if end < 0 else end + len(close)
            line += text.count("\n", i, end)
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j + 1
        elif c == "'":
            char = re.match(r"'(\\.[^']*|[^\\'\n])'", text[i:])
            i += char.end() if char else 1  # else a lifetime
        else:
            i += 1
    return out


def tracked(*paths):
    listed = subprocess.run(["git", "ls-files", "--", *paths], check=True,
                            capture_output=True, text=True).stdout
    return [pathlib.Path(p) for p in listed.splitlines() if pathlib.Path(p).is_file()]


lines = []  # (path, line number, text to check)
for path in tracked("crates"):
    if path.suffix == ".rs":
        text = path.read_text(encoding="utf-8")
        lines += [(path, no, comment) for no, comment in rust_comments(text)]
    elif path.suffix in {".toml", ".md"}:
        text = path.read_text(encoding="utf-8")
        lines += [(path, no, l) for no, l in enumerate(text.splitlines(), 1)]
for path in tracked("docs", "README.md"):
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8")
        lines += [(path, no, l) for no, l in enumerate(text.splitlines(), 1)]

problems = []
for path, no, text in lines:
    where = f"{path}:{no}"
    for hit in FORBIDDEN.finditer(text):
        problems.append(f"{where}: cites {hit.group(0)!r}, which is not in the repository")
    for hit in ID.finditer(text):
        name = hit.group(0)
        if name not in NOT_IDS and name not in defined:
            problems.append(f"{where}: cites {name}, which no docs/*.md defines")
    for hit in DOC_REF.finditer(text):
        name, title = hit.group(1), hit.group(2)
        if name not in headings:
            problems.append(f"{where}: names docs/{name}, which does not exist")
        elif title is not None and not any(t.startswith(title) for t in headings[name]):
            problems.append(f"{where}: docs/{name} has no section {title!r}")

for problem in problems:
    print(problem)
if problems:
    print(f"check-doc-ids: {len(problems)} comment(s) point nowhere "
          "(ids are defined in docs/BEHAVIOUR.md and docs/CRM-APIS.md)", file=sys.stderr)
    sys.exit(1)
print(f"check-doc-ids: ok ({len(defined)} ids defined, {len(lines)} lines checked)")
PY
