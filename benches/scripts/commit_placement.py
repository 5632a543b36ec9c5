#!/usr/bin/env python3
"""What the device charges for a commit's page writes, by where the pages lie.

No database: each "commit" writes K pages of 4 KiB, fdatasyncs, then writes one meta
page at offset 0 and fdatasyncs again (the two-sync protocol). The K pages go

- "written, contiguous": one run at a random place inside 32 MiB of written data;
- "written, scattered": K random pages of that data (sorted, one write each);
- "sparse tail": a fresh run past the data, in a region made by ftruncate (holes);
- "fallocated tail": the same, in a region made by posix_fallocate;
- "zero-filled tail": the same, in a region written with zeros beforehand.

Each case uses a fresh scratch file. Medians of REPS commits, microseconds.

    python3 benches/scripts/commit_placement.py [DIR]

DIR defaults to /tmp (use the filesystem the database lives on).
"""
import os
import random
import statistics
import sys
import time

PAGE = 4096
DATA_PAGES = 8192
TAIL_PAGES = 100_000


def sparse(fd):
    os.ftruncate(fd, (DATA_PAGES + TAIL_PAGES) * PAGE)


def fallocated(fd):
    os.posix_fallocate(fd, DATA_PAGES * PAGE, TAIL_PAGES * PAGE)


def zero_filled(fd):
    zeros = bytes(PAGE * 256)
    for i in range(TAIL_PAGES // 256 + 1):
        os.pwrite(fd, zeros, (DATA_PAGES + i * 256) * PAGE)


CASES = [
    ("written, contiguous", sparse),
    ("written, scattered", sparse),
    ("sparse tail", sparse),
    ("fallocated tail", fallocated),
    ("zero-filled tail", zero_filled),
]


def run(directory, name, prepare, k, reps):
    path = os.path.join(directory, "commit_placement.bin")
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        chunk = os.urandom(PAGE) * 256
        for i in range(DATA_PAGES // 256):
            os.pwrite(fd, chunk, i * PAGE * 256)
        prepare(fd)
        os.fsync(fd)
        pages = os.urandom(PAGE * k)
        times = []
        for r in range(reps):
            start = time.perf_counter()
            if name == "written, scattered":
                for p in sorted(random.sample(range(DATA_PAGES), k)):
                    os.pwrite(fd, pages[:PAGE], p * PAGE)
            elif name == "written, contiguous":
                os.pwrite(fd, pages, random.randrange(1, DATA_PAGES - k) * PAGE)
            else:
                os.pwrite(fd, pages, (DATA_PAGES + r * k) * PAGE)
            os.fdatasync(fd)
            os.pwrite(fd, pages[:PAGE], 0)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    for k, reps in ((6, 300), (1400, 15)):
        for round_ in (1, 2):
            for name, prepare in CASES:
                us = run(directory, name, prepare, k, reps)
                print(f"K={k:5d} round {round_}  {name:22s} {us:9.0f} us")


if __name__ == "__main__":
    main()
