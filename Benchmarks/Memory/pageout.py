#!/usr/bin/env python3
# pageout.py PID: process_madvise(MADV_PAGEOUT) over every file-backed mapping of PID (pidfd_open + process_madvise).
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1]); MADV_PAGEOUT = 21
pidfd = libc.syscall(434, pid, 0)
class iovec(ctypes.Structure): _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
done = 0
for line in open(f'/proc/{pid}/maps'):
    p = line.split()
    if len(p) < 6 or not p[5].startswith('/'): continue
    lo, hi = (int(x, 16) for x in p[0].split('-'))
    v = iovec(lo, hi - lo)
    r = libc.syscall(440, pidfd, ctypes.byref(v), 1, MADV_PAGEOUT, 0)
    if r < 0: print('process_madvise', p[5], os.strerror(ctypes.get_errno()))
    else: done += r
print('advised bytes', done)
