#!/usr/bin/env python3
"""Regenerate the LMDB dup-sort reference dumps in this directory.

Every *.dump file here is exactly what LMDB's own `mdb_dump` printed; this script
only invents the data.  For each fixture it

  1. builds (key, value) pairs from a fixed seed (standard library `random`),
  2. writes them, in shuffled order, as `mdb_load` input text (VERSION=3 header
     with the table's flag lines, one line per key and per value),
  3. runs `mdb_load -f INPUT ENVDIR` into a fresh temporary environment directory,
  4. runs `mdb_dump [-p] -s NAME ENVDIR` and keeps its output as the fixture,

and then checks the result:

  * `mdb_dump -a ENVDIR` prints the same text as `mdb_dump -s NAME ENVDIR`;
  * the dump holds exactly the generated pairs, in the order LMDB's comparators
    define (keys bytewise; values bytewise, as integers, or from the last byte,
    depending on the flags), recomputed here in Python;
  * `mdb_load -f FIXTURE ENVDIR2 && mdb_dump [-p] -s NAME ENVDIR2` reproduces the
    fixture byte for byte;
  * how LMDB stored each key's duplicates (single node, sub-page or sub-database),
    read from the environment's pages (see `storage_report`).

Usage:
  python3 make_fixtures.py            regenerate the fixtures in this directory
  python3 make_fixtures.py --check    regenerate into a temp dir, compare, write nothing
  python3 make_fixtures.py --probe    rerun the behaviour experiments quoted in README.md

Needs /usr/bin/mdb_load and /usr/bin/mdb_dump (Debian/Ubuntu: apt-get install lmdb-utils).
Python 3.8+, standard library only.
"""

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0x6D6462  # "mdb"; change it and every fixture changes
MAPSIZE = 268435456  # 256 MiB, as in the other LMDB-made sample dumps
MDB_LOAD = shutil.which("mdb_load") or "/usr/bin/mdb_load"
MDB_DUMP = shutil.which("mdb_dump") or "/usr/bin/mdb_dump"


# --------------------------------------------------------------------------
# data generation


def rand_bytes(rng, lo, hi):
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(lo, hi)))


def unique_values(rng, count, make, taken=()):
    """`count` distinct values from `make()`, none of them in `taken`."""
    seen = set(taken)
    out = []
    while len(out) < count:
        v = make()
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def few(rng):
    """Skewed small count: 1..5 values, mostly 1 or 2."""
    return rng.choices([1, 2, 3, 4, 5], weights=[40, 25, 15, 12, 8])[0]


def new_key(rng, used, lo=1, hi=30):
    while True:
        k = rand_bytes(rng, lo, hi)
        if k not in used:
            used.add(k)
            return k


def gen_dupsort(rng):
    """Fixture 1: plain dupsort, binary keys 1..30 bytes, values 0..60 bytes."""
    used = set()
    table = {}
    # Special keys first, so random keys cannot take their names.
    # an empty value; LMDB keeps it only as a key's sole value (see README)
    table[b"empty-only"] = [b""]
    # values that are prefixes of one another: shorter sorts first
    table[b"prefixes"] = [b"a", b"ab", b"abc", b"abcd", b"abcde", b"a\x00", b"\x00", b"b", b"abd"]
    table[b"max-len"] = [b"\xff" * 60, b"\x00" * 60, b"\x00" * 59, b"\x01"]
    # the 3,000-value key (a 1-byte key and 1..12-byte values keep the dump small)
    table[b"\x7f"] = unique_values(rng, 3000, lambda: rand_bytes(rng, 1, 12))
    used.update(table)
    # A few medium keys (each ends up as a sub-database, see README).
    for n in (50, 120, 280):
        table[new_key(rng, used, 1, 6)] = unique_values(rng, n, lambda: rand_bytes(rng, 1, 60))
    # Many small keys.
    for _ in range(110):
        table[new_key(rng, used)] = unique_values(rng, few(rng), lambda: rand_bytes(rng, 1, 60))
    return table


def gen_fixed(rng, width, big, mids, nsmall, special_values):
    used = set()
    table = {}
    bigkey = b"\x01"
    used.add(bigkey)
    table[bigkey] = unique_values(rng, big, lambda: rand_bytes(rng, width, width))
    for n in mids:
        table[new_key(rng, used, 1, 8)] = unique_values(rng, n, lambda: rand_bytes(rng, width, width))
    for _ in range(nsmall):
        table[new_key(rng, used)] = unique_values(rng, few(rng), lambda: rand_bytes(rng, width, width))
    k = b"edge-values"
    used.add(k)
    table[k] = list(special_values)
    return table


def gen_dupfixed(rng):
    """Fixture 2: dupsort+dupfixed, every value 8 bytes, one key with 2,000."""
    edges = [b"\x00" * 8, b"\xff" * 8, b"\x00" * 7 + b"\x01", b"\x01" + b"\x00" * 7,
             b"\x00" * 7 + b"\x02", b"\x80" + b"\x00" * 7]
    return gen_fixed(rng, 8, 2000, (40, 130), 60, edges)


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def gen_integer(rng, pack, bits, big, mids, nsmall, edges):
    """Values are little-endian unsigned integers drawn from mixed magnitudes so
    that byte order and numeric order disagree (e.g. 256 = 00 01 .. sorts before
    1 = 01 00 .. bytewise)."""
    def make():
        b = rng.choice([8, 16, 24, bits])  # magnitude bucket
        return pack(rng.getrandbits(b))
    used = set()
    table = {}
    bigkey = b"\x01"
    used.add(bigkey)
    table[bigkey] = unique_values(rng, big, make)
    for n in mids:
        table[new_key(rng, used, 1, 8)] = unique_values(rng, n, make)
    for _ in range(nsmall):
        table[new_key(rng, used)] = unique_values(rng, few(rng), make)
    k = b"edge-values"
    used.add(k)
    table[k] = [pack(n) for n in edges]
    return table


def gen_integerdup(rng):
    """Fixture 3: dupsort+dupfixed+integerdup, u32 LE values, one key with 1,000."""
    edges = [0, 1, 2, 255, 256, 257, 65535, 65536, 0x00FFFFFF, 0x01000000,
             0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
    return gen_integer(rng, u32, 32, 1000, (60,), 50, edges)


def gen_integerdup64(rng):
    """Fixture 5: like 3 with u64 LE values; 'edge-values' also holds pairs that
    agree in their low 32 bits (5 and 5 + 2**32), which a 4-byte comparator
    would wrongly call equal."""
    edges = [0, 1, 256, 2**32 - 1, 2**32, 5, 5 + 2**32, 2**40, 2**56, 2**63,
             2**64 - 2, 2**64 - 1]
    table = gen_integer(rng, u64, 64, 500, (), 30, edges)
    table[b"low-32-equal"] = [u64(7), u64(7 + 2**32)]
    return table


def gen_reversedup(rng, nsmall=40):
    """Fixture 4: dupsort+reversedup; short lowercase text values, compared from
    the last byte, so e.g. "ba" < "b" < "ab" (reversed: "ab" < "b" < "ba")."""
    def word(lo=1, hi=10):
        return bytes(rng.choice(b"abcde") for _ in range(rng.randint(lo, hi)))
    used = set()
    table = {}
    table[b"suffixes"] = [b"a", b"ba", b"cba", b"dcba", b"b", b"ab", b"cab", b"bb", b"ca"]
    table[b"bytes"] = [b"\x00", b"\x01\x00", b"\x00\x01", b"\xff", b"x\xff", b"\xff\x00", b"a b", b"a\tb"]
    used.update(table)
    used.add(b"many")
    table[b"many"] = unique_values(rng, 300, lambda: word(1, 12))
    for _ in range(nsmall):
        k = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(1, 20)))
        if k in used:
            continue
        used.add(k)
        table[k] = unique_values(rng, few(rng) + 1, lambda: word(1, 10))
    return table


# name, database name, flag lines given to mdb_load, generator, dump flags,
# value order key for the Python cross-check
FIXTURES = [
    ("dupsort.dump", "dupsort", ["dupsort=1"], gen_dupsort, [], "bytes"),
    ("dupfixed.dump", "dupfixed", ["dupsort=1", "dupfixed=1"], gen_dupfixed, [], "bytes"),
    ("integerdup.dump", "integerdup", ["dupsort=1", "dupfixed=1", "integerdup=1"],
     gen_integerdup, [], "int"),
    ("reversedup.dump", "reversedup", ["dupsort=1", "reversedup=1"], gen_reversedup, [], "reverse"),
    ("reversedup-print.dump", "reversedup", ["dupsort=1", "reversedup=1"], gen_reversedup,
     ["-p"], "reverse"),
    ("integerdup64.dump", "integerdup64", ["dupsort=1", "dupfixed=1", "integerdup=1"],
     gen_integerdup64, [], "int"),
]


# --------------------------------------------------------------------------
# dump text


def hexline(b):
    return " " + b.hex() + "\n"


def load_input(dbname, flags, pairs):
    out = ["VERSION=3\n", "format=bytevalue\n", "database=%s\n" % dbname, "type=btree\n",
           "mapsize=%d\n" % MAPSIZE]
    out += [f + "\n" for f in flags]
    out.append("HEADER=END\n")
    for k, v in pairs:
        out.append(hexline(k))
        out.append(hexline(v))
    out.append("DATA=END\n")
    return "".join(out)


def unprint(s):
    """Decode one line of mdb_dump -p text (\\hh escapes, \\\\ for a backslash)."""
    out = bytearray()
    b = s.encode("latin-1")
    i = 0
    while i < len(b):
        if b[i] == 0x5C:
            if b[i + 1] == 0x5C:
                out.append(0x5C)
                i += 2
            else:
                out.append(int(b[i + 1:i + 3], 16))
                i += 3
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def parse_dump(text):
    lines = text.split("\n")
    assert lines[-1] == "", "dump must end with a newline"
    lines = lines[:-1]
    end = lines.index("HEADER=END")
    header = lines[:end]
    body = lines[end + 1:]
    assert body[-1] == "DATA=END"
    body = body[:-1]
    assert len(body) % 2 == 0
    printable = "format=print" in header
    dec = unprint if printable else bytes.fromhex
    pairs = []
    for i in range(0, len(body), 2):
        assert body[i].startswith(" ") and body[i + 1].startswith(" ")
        pairs.append((dec(body[i][1:]), dec(body[i + 1][1:])))
    return header, pairs


def value_sort_key(kind):
    if kind == "bytes":
        return lambda v: v
    if kind == "reverse":
        return lambda v: v[::-1]
    if kind == "int":
        return lambda v: int.from_bytes(v, "little")
    raise ValueError(kind)


# --------------------------------------------------------------------------
# running LMDB's tools


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


def mdb_load(path, envdir):
    rc, out, err = run([MDB_LOAD, "-f", path, envdir])
    if rc != 0:
        raise RuntimeError("mdb_load %s failed (%d): %s" % (path, rc, err))
    return err


def mdb_dump(envdir, dbname, extra):
    rc, out, err = run([MDB_DUMP] + list(extra) + ["-s", dbname, envdir])
    if rc != 0:
        raise RuntimeError("mdb_dump failed (%d): %s" % (rc, err))
    return out


# --------------------------------------------------------------------------
# reading LMDB 0.9 pages (64-bit build) to see how the duplicates were stored

PAGEHDRSZ = 16
P_BRANCH, P_LEAF, P_LEAF2, P_SUBP = 0x01, 0x02, 0x20, 0x40
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04
DB_FMT = "<IHHQQQQQ"  # md_pad md_flags md_depth branch leaf overflow entries root


def storage_report(envdir, dbname):
    """Map key -> (kind, count) where kind is 'single', 'sub-page' or 'sub-db'."""
    with open(os.path.join(envdir, "data.mdb"), "rb") as f:
        data = f.read()
    # meta page: MDB_page header, then mm_magic, mm_version, mm_address, mm_mapsize,
    # mm_dbs[FREE_DBI] (whose md_pad is the page size), mm_dbs[MAIN_DBI], mm_last_pg, mm_txnid
    psize = struct.unpack_from("<I", data, PAGEHDRSZ + 24)[0]
    metas = []
    for pg in (0, 1):
        base = pg * psize + PAGEHDRSZ
        main = struct.unpack_from(DB_FMT, data, base + 72)
        txnid = struct.unpack_from("<Q", data, base + 128)[0]
        metas.append((txnid, main))
    main = max(metas)[1]

    def page(pgno):
        return pgno * psize

    def nodes(off):
        lower = struct.unpack_from("<H", data, off + 12)[0]
        n = (lower - PAGEHDRSZ) // 2
        for i in range(n):
            p = struct.unpack_from("<H", data, off + PAGEHDRSZ + 2 * i)[0]
            lo, hi, fl, ks = struct.unpack_from("<HHHH", data, off + p)
            yield off + p, lo | (hi << 16), fl, ks

    def walk(pgno, visit):
        off = page(pgno)
        flags = struct.unpack_from("<H", data, off + 10)[0]
        for noff, dsz, fl, ks in nodes(off):
            if flags & P_BRANCH:
                walk(dsz | (fl << 32), visit)
            else:
                key = data[noff + 8:noff + 8 + ks]
                visit(key, fl, data[noff + 8 + ks:noff + 8 + ks + dsz])

    found = {}
    walk(main[7], lambda k, fl, d: found.setdefault(k, (fl, d)))
    fl, d = found[dbname.encode()]
    assert fl & F_SUBDATA
    db = struct.unpack(DB_FMT, d[:48])
    report = {}

    def visit(key, fl, d):
        if not fl & F_DUPDATA:
            report[key] = ("single", 1)
        elif fl & F_SUBDATA:
            report[key] = ("sub-db", struct.unpack(DB_FMT, d[:48])[6])
        else:
            # a sub-page: an MDB_page inside the node (mp_lower at offset 12);
            # NUMKEYS is (mp_lower - PAGEHDRSZ) / 2 for LEAF2 pages too
            lower = struct.unpack_from("<H", d, 12)[0]
            report[key] = ("sub-page", (lower - PAGEHDRSZ) // 2)

    walk(db[7], visit)
    return db, report


def summarize_storage(report, table):
    kinds = {}
    for key, (kind, count) in report.items():
        kinds.setdefault(kind, []).append((len(table[key]), key))
    out = []
    for kind in ("single", "sub-page", "sub-db"):
        if kind in kinds:
            counts = sorted(n for n, _ in kinds[kind])
            out.append("%s: %d keys (values per key %d..%d)" % (kind, len(counts), counts[0], counts[-1]))
    return "; ".join(out)


# --------------------------------------------------------------------------


def build(fixture, outdir, tmp):
    fname, dbname, flags, gen, dumpflags, order = fixture
    rng = random.Random("%d/%s" % (SEED, gen.__name__))
    table = gen(rng)
    pairs = [(k, v) for k, vs in table.items() for v in vs]
    shuffled = pairs[:]
    rng.shuffle(shuffled)

    work = tempfile.mkdtemp(prefix=fname + ".", dir=tmp)
    inp = os.path.join(work, "input.txt")
    with open(inp, "w", encoding="ascii") as f:
        f.write(load_input(dbname, flags, shuffled))
    env = os.path.join(work, "env")
    os.mkdir(env)
    load_warnings = mdb_load(inp, env)
    text = mdb_dump(env, dbname, dumpflags)
    assert text == mdb_dump(env, dbname, dumpflags) and \
        text == run([MDB_DUMP] + dumpflags + ["-a", env])[1], "mdb_dump -a differs from -s"

    # Cross-check content and order.
    header, got = parse_dump(text)
    vkey = value_sort_key(order)
    want = sorted(pairs, key=lambda kv: (kv[0], vkey(kv[1])))
    if got != want:
        missing = set(want) - set(got)
        extra = set(got) - set(want)
        raise AssertionError("%s: dump differs from expectation (missing %d, extra %d, %s)"
                             % (fname, len(missing), len(extra),
                                "order differs" if not (missing or extra) else ""))
    db, report = storage_report(env, dbname)
    assert db[6] == len(pairs), "md_entries %d != %d pairs" % (db[6], len(pairs))
    assert {k: c for k, (_, c) in report.items()} == {k: len(vs) for k, vs in table.items()}

    path = os.path.join(outdir, fname)
    with open(path, "w", encoding="latin-1", newline="") as f:
        f.write(text)

    # Round trip: load the fixture itself, dump again.
    env2 = os.path.join(work, "env2")
    os.mkdir(env2)
    reload_warnings = mdb_load(path, env2)
    text2 = mdb_dump(env2, dbname, dumpflags)
    if text2 != text:
        raise AssertionError("%s: mdb_load + mdb_dump does not reproduce the fixture" % fname)
    if dumpflags:  # the printable dump also loads back to the same bytes
        assert mdb_dump(env2, dbname, []) == mdb_dump(env, dbname, [])

    bytewise_differs = any(
        sorted(vs) != sorted(vs, key=vkey) for vs in table.values())
    return {
        "file": fname, "bytes": len(text.encode("latin-1")), "pairs": len(pairs),
        "keys": len(table), "header": header, "storage": summarize_storage(report, table),
        "load_warnings": load_warnings.strip(), "reload_warnings": reload_warnings.strip(),
        "order_differs_from_bytewise": bytewise_differs,
    }


def probe(tmp):
    """The experiments behind README's notes on empty values and header lines."""
    cases = [
        ("duplicates=1 without dupsort=1", ["duplicates=1"], [(b"a", b"b"), (b"a", b"c")]),
        ("the same pair repeated (single value, then inside a sub-page)", ["dupsort=1"],
         [(b"a", b"b"), (b"a", b"b"), (b"a", b"c"), (b"a", b"c"), (b"a", b"b")]),
        ("mdb_load -N into a dupsort table", ["dupsort=1", "-N"],
         [(b"a", b"c"), (b"a", b"b"), (b"b", b"x")]),
        ("empty value as a key's only value", ["dupsort=1"], [(b"a", b"")]),
        ("empty value, then another value for the same key", ["dupsort=1"],
         [(b"a", b""), (b"a", b"b"), (b"c", b"d")]),
        ("a value, then an empty value for the same key", ["dupsort=1"],
         [(b"a", b"b"), (b"a", b"")]),
        ("dupfixed, two keys with different value sizes", ["dupsort=1", "dupfixed=1"],
         [(b"a", b"\x01" * 8), (b"a", b"\x02" * 8), (b"b", b"\x01" * 4), (b"b", b"\x02" * 4)]),
        ("dupfixed, 8-byte value then a 4-byte value for one key", ["dupsort=1", "dupfixed=1"],
         [(b"a", b"\x01" + b"\x00" * 7), (b"a", b"\x02\x00\x00\x00")]),
    ]
    for title, flags, pairs in cases:
        opts = [f for f in flags if f.startswith("-")]
        flags = [f for f in flags if not f.startswith("-")]
        work = tempfile.mkdtemp(dir=tmp)
        inp = os.path.join(work, "in.txt")
        with open(inp, "w") as f:
            f.write(load_input("t", flags, pairs))
        env = os.path.join(work, "env")
        os.mkdir(env)
        rc, _, err = run([MDB_LOAD] + opts + ["-f", inp, env])
        print("== %s\n   input pairs: %s" % (title, [(k.hex(), v.hex()) for k, v in pairs]))
        print("   mdb_load exit %d %s" % (rc, err.strip().replace("\n", " | ")))
        rc, out, err = run([MDB_DUMP, "-s", "t", env])
        if rc == 0:
            header, got = parse_dump(out)
            db, _ = storage_report(env, "t")
            common = ("VERSION=", "format=", "database=", "type=", "mapsize=", "maxreaders=",
                      "db_pagesize=")
            print("   flag lines: %s" % " ".join(h for h in header if not h.startswith(common)))
            print("   dumped pairs: %s  (md_entries %d)" % ([(k.hex(), v.hex()) for k, v in got], db[6]))
        else:
            print("   mdb_dump exit %d %s" % (rc, err.strip()))


def main(argv):
    rc, version, _ = run([MDB_DUMP, "-V"])
    tmp = tempfile.mkdtemp(prefix="dupsort-fixtures.")
    try:
        if "--probe" in argv:
            print(version.strip())
            probe(tmp)
            return 0
        check = "--check" in argv
        outdir = tempfile.mkdtemp(dir=tmp) if check else HERE
        print("# %s" % version.strip())
        status = 0
        for fx in FIXTURES:
            r = build(fx, outdir, tmp)
            note = ""
            if check:
                same = open(os.path.join(outdir, r["file"]), "rb").read() == \
                    open(os.path.join(HERE, r["file"]), "rb").read()
                note = " [matches the checked-in file]" if same else " [DIFFERS from the checked-in file]"
                status |= not same
            print("%s: %d bytes, %d keys, %d pairs%s" % (r["file"], r["bytes"], r["keys"], r["pairs"], note))
            print("   header: %s" % " | ".join(r["header"]))
            print("   storage: %s" % r["storage"])
            print("   value order differs from bytewise for some key: %s" % r["order_differs_from_bytewise"])
            print("   mdb_load warnings on generated input: %s" % (r["load_warnings"] or "none"))
            print("   mdb_load warnings on the fixture: %s" % r["reload_warnings"].replace("\n", " | "))
            print("   round trip mdb_load + mdb_dump: identical")
        return status
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
