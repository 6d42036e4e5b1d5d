#!/usr/bin/env python3
"""Picks fields out of JSON for Scripts/demo, so the demo never prints walls of JSON.

    pick.py EXPR            < doc.json      d is the parsed document
    pick.py --lines EXPR    < file          d is the list of JSON lines in the file (other lines skipped)

EXPR is a Python expression. A str result prints as is, None prints nothing and exits 1, anything else prints as
compact JSON. Helpers: `only(obj, *keys)` keeps the keys that are present (in that order), `last(iterable)` the
last item or None, `first(iterable)` the first or None.
"""
import json
import sys


def only(obj, *keys):
    return {k: obj[k] for k in keys if obj is not None and k in obj}


def last(items):
    items = list(items)
    return items[-1] if items else None


def first(items):
    for item in items:
        return item
    return None


def main():
    args = sys.argv[1:]
    lines = bool(args) and args[0] == "--lines"
    if lines:
        args = args[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    text = sys.stdin.read()
    if lines:
        d = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    d.append(json.loads(line))
                except ValueError:
                    pass
    else:
        try:
            d = json.loads(text)
        except ValueError:
            sys.exit(1)
    try:
        result = eval(args[0], {"only": only, "last": last, "first": first, "d": d})
    except (KeyError, IndexError, TypeError, ValueError):
        sys.exit(1)
    if result is None:
        sys.exit(1)
    print(result if isinstance(result, str) else json.dumps(result, separators=(", ", ": ")))


main()
