#!/usr/bin/env python3
"""Fails when the engine's top-level modules import each other in a circle.

The engine's layers must form a DAG (docs/ARCHITECTURE.md, "Layers"):
declarations -> catalog / store / adapters -> finding (stale/) and sending
(sync/) -> runs -> jobs -> the face. A module here is a top-level module of
the crate: `src/sync/batch.rs` belongs to `sync`, `src/engine.rs` to
`engine`. An edge A -> B is any `crate::B` path written in A's code
(comments and doc comments aside; `super::` stays inside a module).

`error` is left out by default: it is the crate-wide error type every
module returns, and it names the foreign errors it wraps.

Usage: scripts/module-cycles.py [SRC_DIR] [--ignore MODULE ...]
       scripts/module-cycles.py --self-test
Exit 0 without cycles, 1 with (each printed with the files behind each edge).
"""

import os
import re
import sys
import tempfile

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def strip_comments(text):
    """Source without comments and string literals (paths there are prose)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def module_of(src, path):
    rel = os.path.relpath(path, src).split(os.sep)
    if len(rel) == 1:
        stem = rel[0][:-3]
        return None if stem in ("lib", "main") else stem
    return rel[0]


def edges(src, ignore):
    found = {}
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            here = module_of(src, path)
            if here is None or here in ignore:
                continue
            with open(path, encoding="utf-8") as f:
                code = strip_comments(f.read())
            targets = set(PATH.findall(code))
            for group in GROUP.findall(code):
                targets.update(re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", group))
            for target in targets:
                if target != here and target not in ignore and target != "self":
                    found.setdefault((here, target), set()).add(os.path.relpath(path, src))
    return found


def cycles(found):
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return graph, out


def report(src, ignore):
    found = edges(src, ignore)
    graph, circles = cycles(found)
    for component in circles:
        print("cycle: " + " <-> ".join(component))
        for a in component:
            for b in sorted(graph[a]):
                if b in component:
                    print(f"  {a} -> {b}: {', '.join(sorted(found[(a, b)]))}")
    print(f"modules={len(graph)} cycles={len(circles)}")
    return 1 if circles else 0


def self_test():
    """The check passes on a DAG and fails once a cycle is written."""
    with tempfile.TemporaryDirectory() as src:
        os.makedirs(os.path.join(src, "sync"))

        def write(rel, text):
            with open(os.path.join(src, rel), "w", encoding="utf-8") as f:
                f.write(text)

        write("lib.rs", "mod store;\nmod sync;\n")
        write("store.rs", "// crate::sync is only named in a comment\nlet s = \"crate::sync\";\n")
        write("sync/mod.rs", "use crate::store::Store;\nuse crate::{error::Error, store};\n")
        write("error.rs", "use crate::sync::X;\n")
        dag = report(src, {"error"})
        write("store.rs", "use crate::{sync::Page};\n")
        cyclic = report(src, {"error"})
    if dag != 0 or cyclic != 1:
        print(f"self-test failed: a DAG gave {dag}, a cycle gave {cyclic}")
        return 1
    print("self-test passed: a DAG passes, a cycle fails")
    return 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    ignore, src, args = {"error"}, "crates/etlify/src", list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--ignore" and args:
            ignore.add(args.pop(0))
        else:
            src = arg
    return report(src, ignore)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
