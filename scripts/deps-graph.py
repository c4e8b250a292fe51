#!/usr/bin/env python3
"""Regenerates the library/binary dependency graph in docs/architecture.md.

Runs CMake's --graphviz on the build tree, keeps the project's own targets
(not tests, not system libraries, which it lists per target instead), drops
edges implied by others (transitive reduction) and writes a Mermaid graph
between the markers in docs/architecture.md.

    python3 scripts/deps-graph.py [BUILD_DIR]     (default: build)
"""
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build"
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- deps-graph:begin -->", "<!-- deps-graph:end -->"

# Binaries and libraries shown, bottom layer first.
SHOWN = ["xen_abi", "pvshared", "pvnetlink",
         "pv_state_proto", "pv_state",
         "pvhv", "pv-hv",
         "pvbackcommon", "pvblkback", "pvnetback", "pvbackd", "pv-backd",
         "pv_proto", "domain_config", "xenstore", "pvnet", "pv_admin", "pvd_core", "pvd", "pvctl", "xenstored-test",
         "pvguest.elf"]
SYSTEM = {"PkgConfig::URING": "liburing", "PkgConfig::LIBMNL": "libmnl", "PkgConfig::LIBNFTABLES": "libnftables",
          "protobuf::libprotobuf": "libprotobuf", "protobuf::libprotobuf-lite": "protobuf-lite", "Boost::headers": "Boost.Asio"}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        dot = pathlib.Path(tmp) / "deps.dot"
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(BUILD), f"--graphviz={dot}"], check=True,
                       stdout=subprocess.DEVNULL)
        text = dot.read_text()
    labels = dict(re.findall(r'"(node\d+)" \[ label = "([^"]+)"', text))
    edges = set()
    for a, b in re.findall(r'"(node\d+)" -> "(node\d+)"', text):
        edges.add((labels[a], labels[b]))
    deps = {t: {b for a, b in edges if a == t and b in SHOWN} for t in SHOWN}
    system = {t: sorted({SYSTEM[b] for a, b in edges if a == t and b in SYSTEM}) for t in SHOWN}

    def reach(t, seen=None):
        seen = set() if seen is None else seen
        for d in deps[t]:
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    reduced = {t: {d for d in deps[t] if not any(d in reach(o) for o in deps[t] if o != d)} for t in SHOWN}
    ident = lambda t: re.sub(r"[^A-Za-z0-9_]", "_", t)
    lines = ["```mermaid", "graph BT"]
    for t in SHOWN:
        label = t + ("<br/><small>" + ", ".join(system[t]) + "</small>" if system[t] else "")
        shape = f'(["{label}"])' if t in ("pv-hv", "pv-backd", "pvd", "pvctl", "xenstored-test", "pvguest.elf") \
            else f'["{label}"]'
        lines.append(f"  {ident(t)}{shape}")
    for t in SHOWN:
        for d in sorted(reduced[t]):
            lines.append(f"  {ident(t)} --> {ident(d)}")
    lines.append("```")
    block = "\n".join(lines)
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + block + "\n" + doc[end:])
    print(f"{DOC.relative_to(ROOT)}: {sum(len(v) for v in reduced.values())} edges")


if __name__ == "__main__":
    main()
