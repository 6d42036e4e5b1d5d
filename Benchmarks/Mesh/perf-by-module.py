#!/usr/bin/env python3
"""Sums a flat `perf report --no-children --sort dso,sym --stdio` by where the time goes: the kernel, each shared
library, and inside a Swift executable each Swift module (from the mangled name: $s<len><module>...), BoringSSL
(CNIOBoringSSL_*) and the rest. Used by Scripts/bench/mesh --perf.

Usage: perf report ... | perf-by-module.py EXECUTABLE_NAME
"""
import re
import sys
from collections import defaultdict

executable = sys.argv[1] if len(sys.argv) > 1 else ""
line_re = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[[.k]\]\s+(\S+)")
swift_re = re.compile(r"^\$s(\d+)")
totals = defaultdict(float)
for line in sys.stdin:
    match = line_re.match(line)
    if not match:
        continue
    share, dso, symbol = float(match.group(1)), match.group(2), match.group(3)
    if dso != executable:
        totals[dso] += share
        continue
    if symbol.startswith("CNIOBoringSSL") or "BoringSSL" in symbol:
        key = "BoringSSL (in the executable)"
    elif symbol.startswith("$ss"):
        key = "Swift stdlib, specialized (in the executable)"
    elif (swift := swift_re.match(symbol)) is not None:
        n = int(swift.group(1))
        start = swift.end()
        key = f"Swift module {symbol[start:start + n]}"
    else:
        key = f"{executable}: other symbols"
    totals[key] += share
for key, share in sorted(totals.items(), key=lambda item: -item[1]):
    if share >= 0.1:
        print(f"{share:7.2f}%  {key}")
