#!/usr/bin/env python3
"""Writes benchmark tables into a markdown document (scripts/bench.sh runs it).

Usage: python3 scripts/bench-tables.py DOC NAME=OUTPUT [NAME=OUTPUT ...]

OUTPUT is what the benchmark NAME printed on stdout. DOC marks where each table goes:

    <!-- bench:NAME:start -->      the first table NAME printed
    <!-- bench:NAME:end -->
    <!-- bench:NAME#2:start -->    its second table
    <!-- bench:NAME#2:end -->

Everything between a start and its end marker is replaced by a line naming the run (date
and commit), the table's caption, the table and its notes, exactly as printed. The caption
is the paragraph right above the table (markdown heading marks removed); its notes are the
paragraphs after it up to the next table's caption (the last paragraph before the next
table). Text outside the markers is never touched. Regions whose NAME was not given keep
their content; a region asking for a table the output lacks, or a start without its end, is
an error and nothing is written.
"""

import datetime
import re
import subprocess
import sys
from pathlib import Path

MARKER = re.compile(r"^<!-- bench:([A-Za-z0-9_.-]+)(?:#(\d+))?:(start|end) -->\s*$")


def paragraphs_and_tables(text):
    """The output as a list of ("table" | "text", [lines]) blocks, in order."""
    blocks = []
    kind, lines = None, []
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            if lines:
                blocks.append((kind, lines))
            kind, lines = None, []
            continue
        this = "table" if line.startswith("|") else "text"
        if kind is not None and this != kind:
            blocks.append((kind, lines))
            lines = []
        kind = this
        lines.append(line.lstrip("#").strip() if this == "text" else line)
    if lines:
        blocks.append((kind, lines))
    return blocks


def tables(text):
    """Each table of the output with its caption and notes: a list of markdown strings."""
    blocks = paragraphs_and_tables(text)
    positions = [i for i, (kind, _) in enumerate(blocks) if kind == "table"]
    result = []
    for n, at in enumerate(positions):
        start = positions[n - 1] + 1 if n > 0 else 0
        between = [lines for kind, lines in blocks[start:at]]
        caption = between[-1:] if between else []
        end = positions[n + 1] if n + 1 < len(positions) else len(blocks)
        after = [lines for kind, lines in blocks[at + 1 : end]]
        notes = after[:-1] if n + 1 < len(positions) else after
        parts = caption + [blocks[at][1]] + notes
        result.append("\n\n".join("\n".join(lines) for lines in parts))
    return result


def run_label():
    date = datetime.date.today().isoformat()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        where = f"commit {commit}{' with local changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        where = "outside git"
    return f"_Run of {date} ({where}), written here by `scripts/bench-tables.py`._"


def splice(doc, outputs, label):
    """The document with every region of a given benchmark replaced; the ids replaced."""
    found = {name: tables(text) for name, text in outputs.items()}
    out, replaced, region = [], [], None
    for number, line in enumerate(doc.splitlines(keepends=True), 1):
        match = MARKER.match(line)
        if match and match.group(3) == "start":
            if region:
                raise SystemExit(f"line {number}: bench marker inside region {region[0]}")
            name, index = match.group(1), int(match.group(2) or 1)
            region = (f"{name}#{index}" if match.group(2) else name, name, index, number)
            out.append(line)
            if name in found:
                if index < 1 or index > len(found[name]):
                    raise SystemExit(
                        f"line {number}: {region[0]} asks for table {index}, but {name} "
                        f"printed {len(found[name])}"
                    )
                out.append(f"{label}\n\n{found[name][index - 1]}\n\n")
                replaced.append(region[0])
            continue
        if match and match.group(3) == "end":
            ident = f"{match.group(1)}#{match.group(2)}" if match.group(2) else match.group(1)
            if not region or region[0] != ident:
                raise SystemExit(f"line {number}: end of {ident} without its start")
            region = None
            out.append(line)
            continue
        if region and region[1] in found:
            continue  # old content of a region being replaced
        out.append(line)
    if region:
        raise SystemExit(f"line {region[3]}: {region[0]} has no end marker")
    return "".join(out), replaced


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        raise SystemExit(__doc__)
    path = Path(sys.argv[1])
    outputs = {}
    for arg in sys.argv[2:]:
        name, file = arg.split("=", 1)
        outputs[name] = Path(file).read_text()
    text, replaced = splice(path.read_text(), outputs, run_label())
    unused = sorted(set(outputs) - {r.split("#")[0] for r in replaced})
    path.write_text(text)
    print(f"{path}: wrote {', '.join(replaced) or 'nothing'}", file=sys.stderr)
    if unused:
        print(f"{path}: no region for {', '.join(unused)}", file=sys.stderr)


if __name__ == "__main__":
    main()
