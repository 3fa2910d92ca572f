#!/usr/bin/env python3
"""The module map of the workspace and its cycles.

Builds, from the `use crate::…`, `crate::…`, `super::…` and `self::…` paths
of every source file (test modules after `#[cfg(test)]` left out), the graph
of which module uses which, and reports the cycles (strongly connected
components of more than one node) at three levels:

  * the library's top-level modules (`data`, `loss`, `train`, …);
  * the files of each library directory (`train::epoch`, `train::resume`, …);
  * the CLI's modules.

A path through a directory's `mod.rs` to a re-exported item
(`super::Checkpoint`) counts as a use of the file that defines it
(`train::checkpoint`), found from the `pub use` lines of that `mod.rs`.

Exit status 1 if a cycle is found outside `ALLOWED` (the graph types of
`tensor`, `autograd` and `ops`, left to the performance issue).

    python3 tools/module_cycles.py [--edges] [--root DIR]

`--root` reads another workspace laid out the same way (the self-test,
`tools/test_module_cycles.py`, builds small ones with and without cycles).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRATES = {"downhill": "crates/downhill/src", "downhill-cli": "crates/downhill-cli/src"}
ALLOWED = [{"tensor", "autograd", "ops"}]
PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::\w+)*)::\{([^;]*)\};", re.S)


def modules(src):
    """{module path tuple: file} for every .rs file under src."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            out[tuple(parts)] = os.path.join(dirpath, f)
    return out


def code_of(path):
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    # Drop comments (doc examples name paths that are not uses).
    return re.sub(r"//[^\n]*", "", text)


def reexports(mods):
    """{(module, item): defining module} from `pub use …::{…}` and
    `pub use …::Item;` lines (`sub::…`, `super::…`, `crate::…`, `self::…`)."""
    out = {}
    for m, path in mods.items():
        code = code_of(path)
        uses = []
        for head, items in re.findall(r"pub(?:\([^)]*\))?\s+use\s+((?:\w+::)*\w+)::\{([^}]*)\}", code):
            for it in re.findall(r"\b(\w+)\b(?!\s*::)", items):
                uses.append((head, it))
        uses += re.findall(r"pub(?:\([^)]*\))?\s+use\s+((?:\w+::)*\w+)::(\w+)\s*;", code)
        for head, it in uses:
            segs = head.split("::")
            if segs[0] in ("crate", "super", "self"):
                out[(m, it)] = resolve(m, segs[0], segs[1:], mods, {})
            elif m + (segs[0],) in mods:
                out[(m, it)] = resolve(m, "self", segs, mods, {})
    return out


def resolve(mod, head, rest, mods, rex):
    """The module a path `head::rest…` written in module `mod` lands in."""
    if head == "crate":
        base = ()
    elif head == "super":
        base = mod[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        base = mod
    target = base
    for seg in rest:
        if target + (seg,) in mods:
            target = target + (seg,)
        else:
            target = rex.get((target, seg), target)
            break
    return target


def edges_of(mods):
    rex = reexports(mods)
    edges = set()
    for m, path in mods.items():
        code = code_of(path)
        found = [(h, [s for s in r.split("::") if s]) for h, r in PATH.findall(code)]
        for h, prefix, group in USE_GROUP.findall(code):
            pre = [s for s in prefix.split("::") if s]
            for item in re.split(r",", group):
                item = item.strip().split(" as ")[0]
                if item:
                    found.append((h, pre + [s for s in item.split("::") if s and s != "{"]))
        for h, rest in found:
            t = resolve(m, h, rest, mods, rex)
            if t != m and t:
                edges.add((m, t))
    return edges


def sccs(nodes, edges):
    """Tarjan's strongly connected components with more than one node."""
    adj = {n: sorted({b for a, b in edges if a == n}) for n in nodes}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return out


def report(title, nodes, edges, allowed=()):
    bad = 0
    for comp in sccs(nodes, edges):
        names = {"::".join(c) for c in comp}
        known = any(names <= a for a in allowed)
        inner = sorted(f"{'::'.join(a)} → {'::'.join(b)}" for a, b in edges if a in comp and b in comp)
        print(f"{title}: cycle {sorted(names)}{' (known, left to another issue)' if known else ''}")
        for e in inner:
            print(f"    {e}")
        bad += not known
    return bad


def main(argv):
    show = "--edges" in argv
    root = argv[argv.index("--root") + 1] if "--root" in argv else ROOT
    bad = 0
    for crate, src in CRATES.items():
        mods = modules(os.path.join(root, src))
        edges = edges_of(mods)
        if show:
            for a, b in sorted(edges):
                print(f"{crate}: {'::'.join(a) or 'crate'} → {'::'.join(b) or 'crate'}")
        if crate == "downhill":
            top = {(m[0],) for m in mods if m}
            top_edges = {((a[0],), (b[0],)) for a, b in edges if a and b and a[0] != b[0]}
            bad += report("downhill top-level", top, top_edges, ALLOWED)
            for d in sorted({m[0] for m in mods if len(m) > 1}):
                inner = {m for m in mods if len(m) == 2 and m[0] == d}
                ie = {(a[:2], b[:2]) for a, b in edges
                      if a[:2] in inner and b[:2] in inner and a[:2] != b[:2]}
                bad += report(f"downhill {d}/", inner, ie)
        else:
            nodes = {m[:1] for m in mods if m}
            ce = {(a[:1], b[:1]) for a, b in edges if a[:1] in nodes and b[:1] in nodes and a[:1] != b[:1]}
            bad += report("downhill-cli", nodes, ce)
    print("no cycles" if bad == 0 else f"{bad} cycle(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
