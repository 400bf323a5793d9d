#!/usr/bin/env python3
"""mdBook preprocessor: drop the labs' bookkeeping lines from the pages.

The chapters' code carries `// lab:solution-begin …` and `// lab:solution-end`
lines, from which `wharf lab gen` cuts the labs. A reader of the book wants
the code only, so once mdBook's own `links` preprocessor has pasted the code
into the pages, this one removes those lines. Run by mdBook (see book.toml):
`supports RENDERER` answers yes, otherwise it reads [context, book] as JSON on
stdin and writes the book back on stdout.
"""
import json
import re
import sys

MARKER = re.compile(r"^[ \t]*// lab:solution-(?:begin|end)\b.*\n?", re.MULTILINE)


def strip(text):
    return MARKER.sub("", text)


def walk(items):
    for item in items:
        chapter = item.get("Chapter") if isinstance(item, dict) else None
        if chapter is None:
            continue
        chapter["content"] = strip(chapter.get("content", ""))
        walk(chapter.get("sub_items", []))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "supports":
        sys.exit(0)
    _context, book = json.load(sys.stdin)
    walk(book.get("items", book.get("sections", [])))
    json.dump(book, sys.stdout)


if __name__ == "__main__":
    main()
