#!/usr/bin/env python3
"""Replay the page writes of recorded single-insert commits through one protocol.

Separates *where* an engine's commits write from *how* it syncs. Record each engine's
individual-writes phase with strace, then replay both recordings on the same scratch
file, alternating, so both see the same device:

    strace -f -T -e trace=fdatasync,pwrite64 -o /tmp/mdbx-lite.T \\
        target/release/compare --child mdbx-lite --n 200000 --dir /tmp
    strace -f -T -e trace=fdatasync,pwrite64 -o /tmp/lmdb.T \\
        target/release/compare --child lmdb --n 200000 --dir /tmp
    python3 benches/scripts/replay_commits.py /tmp/mdbx-lite.T /tmp/lmdb.T

Each commit's 4 KiB data-page writes (file descriptor guessed as the one with most
4 KiB writes) are replayed, then fdatasync; then the meta, either as a 4 KiB write plus
fdatasync (mdbx-lite's way) or as one 120-byte write on an O_DSYNC descriptor (LMDB's).
The first 1,000 commits after the bulk load's are used (the individual-writes phase).
"""
import collections
import os
import re
import statistics
import sys
import tempfile
import time

WRITE = re.compile(r'pwrite64\((\d+), .*, 4096, (\d+)\) = 4096')


def commits(trace):
    lines = open(trace).read().splitlines()
    fds = collections.Counter(m.group(1) for l in lines for m in [WRITE.search(l)] if m)
    data_fd = fds.most_common(1)[0][0]
    out, current, syncs = [], [], 0
    for line in lines:
        m = WRITE.search(line)
        if m and m.group(1) == data_fd:
            page = int(m.group(2)) // 4096
            if page > 1:  # pages 0 and 1 are metas
                current.append(page)
        elif 'fdatasync' in line:
            syncs += 1
            if current:
                out.append(sorted(current))
                current = []
    # Skip the load's commit(s): keep the phase of 1,000 small commits after them.
    small = [c for c in out if len(c) <= 16]
    return small[:1000]


def replay(fd, mfd, pattern, style, meta_page=[0]):
    page, meta = b'\x07' * 4096, b'\x03' * 120
    first = []
    start = time.perf_counter()
    for pages in pattern:
        for p in pages:
            os.pwrite(fd, page, p * 4096)
        t = time.perf_counter()
        os.fdatasync(fd)
        first.append(time.perf_counter() - t)
        meta_page[0] ^= 1
        if style == 'write+fdatasync':
            os.pwrite(fd, page, 4096 * meta_page[0])
            os.fdatasync(fd)
        else:
            os.pwrite(mfd, meta, 32 + 4096 * meta_page[0])
    per = (time.perf_counter() - start) / len(pattern) * 1e6
    return per, statistics.median(first) * 1e6


def main():
    patterns = {os.path.basename(t): commits(t) for t in sys.argv[1:]}
    top = max(p for c in patterns.values() for pages in c for p in pages) + 1
    with tempfile.TemporaryDirectory(dir='/tmp') as d:
        path = os.path.join(d, 'replay')
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        chunk = b'\x01' * (1 << 20)
        for i in range(0, top * 4096, 1 << 20):
            os.pwrite(fd, chunk, i)
        os.fsync(fd)
        mfd = os.open(path, os.O_WRONLY | os.O_DSYNC)
        for rnd in range(3):
            for name, pattern in patterns.items():
                for style in ('write+fdatasync', 'O_DSYNC 120 B'):
                    per, first = replay(fd, mfd, pattern, style)
                    pages = sum(map(len, pattern)) / len(pattern)
                    print(f'round {rnd + 1}: {name:<14} meta {style:<16} {per:5.0f} µs/commit, '
                          f'first fdatasync median {first:4.0f} µs, {pages:.2f} pages/commit')


if __name__ == '__main__':
    main()
