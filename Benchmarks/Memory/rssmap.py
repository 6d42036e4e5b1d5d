#!/usr/bin/env python3
"""Per-ELF-section resident pages of a running process, from /proc/PID/maps + /proc/PID/pagemap (root).
usage: rssmap.py PID [--all]   prints, for the main executable, resident KiB per section (file-backed vs COW/anon),
and Rss per mapped file."""
import os, re, struct, subprocess, sys, collections
pid = sys.argv[1]
PAGE = os.sysconf('SC_PAGE_SIZE')
exe = os.readlink(f'/proc/{pid}/exe')
maps = []
for line in open(f'/proc/{pid}/maps'):
    parts = line.split(None, 5)
    lo, hi = (int(x, 16) for x in parts[0].split('-'))
    path = parts[5].strip() if len(parts) > 5 else ''
    maps.append((lo, hi, parts[1], int(parts[2], 16), path))
pm = open(f'/proc/{pid}/pagemap', 'rb')
def pages(lo, hi):
    pm.seek(lo // PAGE * 8)
    data = pm.read((hi - lo) // PAGE * 8)
    for i in range(len(data) // 8):
        v = struct.unpack_from('<Q', data, i * 8)[0]
        yield lo + i * PAGE, bool(v >> 63 & 1), bool(v >> 61 & 1)   # present, file-page/shared
# sections of the executable (file offsets)
secs = []
out = subprocess.run(['readelf', '-S', '-W', exe], capture_output=True, text=True).stdout
for m in re.finditer(r'\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)', out):
    name, typ, addr, off, size = m.group(1), m.group(2), int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16)
    if typ == 'NOBITS' or size == 0 or addr == 0: continue
    secs.append((off, off + size, name))
secs.sort()
def section_of(off):
    best = None
    for lo, hi, name in secs:
        if lo <= off < hi: return name
        if lo <= off: best = name
    return f'(between, after {best})'
file_kib = collections.Counter(); anon_kib = collections.Counter(); size_kib = collections.Counter()
per_file = collections.Counter()
for lo, hi, perms, off, path in maps:
    if not path.startswith('/'): continue
    for addr, present, filepg in pages(lo, hi):
        if not present: continue
        per_file[(path, 'file' if filepg else 'anon')] += PAGE // 1024
        if path == exe:
            fo = off + (addr - lo)
            # attribute a page to every section overlapping it (first one wins for counting)
            s = section_of(fo)
            (file_kib if filepg else anon_kib)[s] += PAGE // 1024
for lo, hi, name in secs:
    size_kib[name] = (hi - lo) / 1024
print(f'exe {exe}')
print(f'{"section":32} {"size_KiB":>10} {"res_file_KiB":>13} {"res_anon_KiB":>13}')
names = [s[2] for s in secs] + sorted(set(list(file_kib) + list(anon_kib)) - {s[2] for s in secs})
for n in names:
    if size_kib.get(n, 0) or file_kib[n] or anon_kib[n]:
        print(f'{n:32} {size_kib.get(n, 0):10.0f} {file_kib[n]:13} {anon_kib[n]:13}')
print(f'{"TOTAL exe":32} {"":10} {sum(file_kib.values()):13} {sum(anon_kib.values()):13}')
print('per mapped file (resident KiB):')
for (path, kind), k in sorted(per_file.items(), key=lambda x: -x[1]):
    print(f'  {k:8} {kind:4} {path}')
