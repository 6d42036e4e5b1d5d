#!/usr/bin/env python3
# pfan.py PERFDATA BINARY(stripped, mapped) FULL(unstripped, same layout): page faults inside BINARY by section of the
# faulting address, and the functions whose instructions caused them.
import subprocess, re, sys, collections, bisect
data, binpath, full = sys.argv[1:4]
pid = sys.argv[4] if len(sys.argv) > 4 else None
ev = subprocess.run(['perf', 'script', '-i', data, '--show-mmap-events', '-F', 'pid,time,addr,ip'] + (['--pid', pid] if pid else []), capture_output=True, text=True).stdout
base = None
for line in ev.splitlines():
    if 'PERF_RECORD_MMAP' in line and binpath.split('/')[-1] in line and base is None:
        m = re.search(r'\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0)', line)
        if m: base = int(m.group(1), 16) - int(m.group(3), 16)
out = subprocess.run(['readelf', '-SW', full], capture_output=True, text=True).stdout
S = []
for m in re.finditer(r'\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)', out):
    a = int(m.group(3), 16); s = int(m.group(5), 16)
    if a: S.append((a, a + s, m.group(1)))
def sec(a):
    for lo, hi, n in S:
        if lo <= a < hi: return n
    return '?'
syms = []
for line in subprocess.run(['nm', '--defined-only', '-n', full], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in 'tTwW': syms.append((int(p[0], 16), p[2]))
addrs = [s[0] for s in syms]
def fn(a):
    i = bisect.bisect_right(addrs, a) - 1
    return syms[i][1] if i >= 0 else '?'
times = []; bysec = collections.Counter(); byfn = collections.Counter(); total = 0; pages = collections.defaultdict(set)
for line in ev.splitlines():
    p = line.split()
    if len(p) != 4 or 'PERF' in line: continue
    try: addr, ip = int(p[2], 16), int(p[3], 16); t = float(p[1].rstrip(':'))
    except ValueError: continue
    total += 1
    if base is None: continue
    ra = addr - base
    s = sec(ra) if 0 <= ra < 0x10000000 else None
    if s is None: bysec['(outside binary)'] += 1; continue
    bysec[s] += 1
    times.append((t, s))
    ri = ip - base
    who = fn(ri) if 0 <= ri < 0x10000000 else '(ip outside: ld.so/libc/kernel)'
    byfn[(s, who)] += 1
print('base', hex(base) if base else None, 'faults', total)
for s, n in bysec.most_common(): print(f'  {n:6} {s}')
print('top causes (section, function):')
names = [w for (_, w), _ in byfn.most_common(40)]
dem = subprocess.run(['swift', 'demangle', '--simplified', '--compact'], input='\n'.join(names), capture_output=True, text=True).stdout.splitlines()
dm = dict(zip(names, dem))
for (s, w), n in byfn.most_common(40): print(f'  {n:6} {s:28} {dm.get(w, w)[:120]}')

if times:
    t0 = times[0][0]
    buckets = collections.Counter()
    for t, s in times: buckets[(int(t - t0), s == '.text')] += 1
    print('faults in binary per second since first (text, other):')
    for sec_ in sorted({k[0] for k in buckets}): print(f'  t+{sec_:3}s text {buckets[(sec_, True)]:5} other {buckets[(sec_, False)]:5}')
