//! Key kinds of the peer comparison (`compare --keys KIND`): redb's random keys and
//! shared-prefix keys as real databases hold them (file paths, URLs, composite
//! `tenant/user/timestamp` keys, increasing ids).
//!
//! Every kind derives the key of index `i` from `i` alone (and fixed seeds): no files,
//! reproducible, and distinct for distinct `i`. The structured kinds number their keys
//! densely, so indices `0..N` fill a compact tree for any N (`paths`: 24 files per
//! directory, `urls`: N/48 items per host and section, `composite`: 50 events per user)
//! instead of scattering over an unbounded one. A key is written into a caller's buffer
//! ([`KeyBuf`]), without heap allocation.
//!
//! Order: the workload visits indices through [`Keys::index`]. For every kind but
//! `random` (whose keys are random already) the first N indices, those of the bulk load,
//! are visited in a pseudo-random permutation of `0..N`, so the bulk load inserts and
//! the removals remove in an order unrelated to the key order (no kind is a sorted
//! append); indices from N on (the individual and batch writes) are taken in order,
//! which for `monotonic` means appends after the largest key.

use crate::{key, KEY_LEN};

/// Room for the longest key of any kind and for the whole-block copies that write it
/// (keys stay at or below 200 bytes, far from LMDB's limit of 511).
pub const MAX_KEY_LEN: usize = 256;

/// What the keys of a workload look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// 24 random bytes (`key(i)`), redb's workload.
    Random,
    /// File paths of a generated tree,
    /// `/home/user{u}/projects/{project}/crates/{crate}/src/{dir}[/{dir}…]/{file}{suffix}.{ext}`.
    Paths,
    /// `https://{host}.example.com/{section}/{id}/{slug}[?query]`.
    Urls,
    /// `tenant{t:04}/user{u:06}/` followed by an 8-byte big-endian timestamp in ms.
    Composite,
    /// 16 bytes: the big-endian u64 `i`, then a fixed 8-byte suffix.
    Monotonic,
}

impl KeyKind {
    pub const ALL: [KeyKind; 5] = [
        KeyKind::Random,
        KeyKind::Paths,
        KeyKind::Urls,
        KeyKind::Composite,
        KeyKind::Monotonic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Random => "random",
            KeyKind::Paths => "paths",
            KeyKind::Urls => "urls",
            KeyKind::Composite => "composite",
            KeyKind::Monotonic => "monotonic",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// One line for reports: the key shape and its length.
    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::Random => "24 random bytes",
            KeyKind::Paths => {
                "file paths of a generated tree, \
                 `/home/user{u}/projects/{project}/crates/{crate}/src/{dir}[/{dir}…]/{file}{suffix}.{ext}`, \
                 24 files per directory, 2 to 5 directory levels below `src`, 56–151 bytes \
                 (median 97) for N = 1,000,000"
            }
            KeyKind::Urls => {
                "URLs `https://{host}.example.com/{section}/{id}/{slug}[?query]`, \
                 6 hosts × 8 sections, sequential ids per section, 37–155 bytes (median 71) \
                 for N = 1,000,000"
            }
            KeyKind::Composite => {
                "`tenant{t:04}/user{u:06}/` + 8-byte big-endian timestamp, 8 tenants, \
                 50 increasing timestamps per user, 30 bytes"
            }
            KeyKind::Monotonic => {
                "16 bytes, big-endian u64 counter + fixed 8-byte suffix, increasing with \
                 the index; bulk load and removals in pseudo-random order, later writes \
                 append"
            }
        }
    }

    /// Whether the workload permutes the bulk-load indices (see the module doc).
    pub fn permuted(self) -> bool {
        self != KeyKind::Random
    }

    /// Write the key of index `i` into `buf`; returns its length.
    #[inline]
    pub fn write(self, i: u64, buf: &mut [u8; MAX_KEY_LEN]) -> usize {
        match self {
            KeyKind::Random => {
                buf[..KEY_LEN].copy_from_slice(&key(i));
                KEY_LEN
            }
            KeyKind::Paths => path(i, buf),
            KeyKind::Urls => url(i, buf),
            KeyKind::Composite => composite(i, buf),
            KeyKind::Monotonic => {
                buf[..8].copy_from_slice(&i.to_be_bytes());
                buf[8..16].copy_from_slice(&MONOTONIC_SUFFIX);
                16
            }
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const MONOTONIC_SUFFIX: [u8; 8] = 0x0000_0001_5EED_0001u64.to_be_bytes();

/// The keys of one workload: a kind and the order its first `n` indices are visited in.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    kind: KeyKind,
    /// Indices below `n` are permuted (0: none are).
    n: u64,
    bits: u32,
}

impl Keys {
    /// The keys of a workload whose bulk load is indices `0..n`.
    pub fn new(kind: KeyKind, n: u64) -> Keys {
        let n = if kind.permuted() && n > 1 { n } else { 0 };
        let bits = if n > 1 {
            64 - (n - 1).leading_zeros()
        } else {
            0
        };
        Keys { kind, n, bits }
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key index the workload uses at position `j`: a permutation of `0..n` for `j`
    /// below `n` (identity for `random`), `j` itself from `n` on.
    #[inline]
    pub fn index(&self, j: u64) -> u64 {
        if j >= self.n {
            return j;
        }
        // Cycle walking: a bijection of `0..2^bits` restricted to `0..n` (`2^bits < 2n`,
        // so fewer than two steps on average).
        let mut x = j;
        loop {
            x = permute(x, self.bits);
            if x < self.n {
                return x;
            }
        }
    }

    /// A buffer to generate this workload's keys into.
    pub fn buf(&self) -> KeyBuf {
        KeyBuf {
            keys: *self,
            buf: [0; MAX_KEY_LEN],
        }
    }
}

/// A reusable key buffer of one workload ([`Keys::buf`]).
pub struct KeyBuf {
    keys: Keys,
    buf: [u8; MAX_KEY_LEN],
}

impl KeyBuf {
    /// The key at workload position `j` (of index [`Keys::index`]`(j)`).
    #[inline]
    pub fn key(&mut self, j: u64) -> &[u8] {
        let len = self.keys.kind.write(self.keys.index(j), &mut self.buf);
        &self.buf[..len]
    }
}

/// A bijection of `0..2^bits` (`1 ≤ bits ≤ 64`): xor with a constant, multiplications by
/// odd constants modulo `2^bits` and xor-shifts right are each invertible.
#[inline]
fn permute(x: u64, bits: u32) -> u64 {
    let mask = u64::MAX >> (64 - bits);
    let s = bits.div_ceil(2);
    let mut x = (x ^ 0x5EED_0F0B_DE4A_1100) & mask;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
    x ^= x >> s;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & mask;
    x ^= x >> s;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB) & mask;
    x ^ (x >> s)
}

/// A 64-bit mix of two values (SplitMix64's finalizer).
#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b ^ 0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A cheap hash of a level's id for picking names (Fibonacci hashing: use the high
/// bits).
#[inline]
fn fib(x: u64, salt: u64) -> u64 {
    (x ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Bits `at..at + 4` (from the top) of `h`, for a pick among 16.
#[inline]
fn nibble(h: u64, at: u32) -> usize {
    ((h >> (60 - at)) & 15) as usize
}

/// A name padded to `W` bytes, so it is copied as one fixed-size block.
#[derive(Clone, Copy)]
struct Word<const W: usize> {
    bytes: [u8; W],
    len: usize,
}

const fn words<const W: usize, const N: usize>(list: [&str; N]) -> [Word<W>; N] {
    let mut out = [Word {
        bytes: [0; W],
        len: 0,
    }; N];
    let mut i = 0;
    while i < N {
        let b = list[i].as_bytes();
        assert!(b.len() <= W);
        let mut j = 0;
        while j < b.len() {
            out[i].bytes[j] = b[j];
            j += 1;
        }
        out[i].len = b.len();
        i += 1;
    }
    out
}

const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends to a key buffer. Names are copied as whole `W`-byte blocks (the buffer has
/// room past the longest key) and the end moves by their length.
struct Out<'a> {
    buf: &'a mut [u8; MAX_KEY_LEN],
    len: usize,
}

impl Out<'_> {
    #[inline(always)]
    fn word<const W: usize>(&mut self, w: &Word<W>) {
        self.buf[self.len..self.len + W].copy_from_slice(&w.bytes);
        self.len += w.len;
    }
    #[inline(always)]
    fn lit<const L: usize>(&mut self, s: &[u8; L]) {
        self.buf[self.len..self.len + L].copy_from_slice(s);
        self.len += L;
    }
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }
    /// The `digits` low decimal digits of `v` (two at a time).
    #[inline(always)]
    fn digits(&mut self, mut v: u64, digits: usize) {
        let out = &mut self.buf[self.len..self.len + digits];
        let mut k = digits;
        while k >= 2 {
            let d = (v % 100) as usize * 2;
            out[k - 2..k].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
            v /= 100;
            k -= 2;
        }
        if k == 1 {
            out[0] = b'0' + (v % 10) as u8;
        }
        self.len += digits;
    }
    /// `v` in decimal, without leading zeros.
    #[inline]
    fn num(&mut self, v: u64) {
        self.digits(v, v.checked_ilog10().unwrap_or(0) as usize + 1);
    }
    /// `v < 10^W` in decimal, zero-padded to `W` digits.
    #[inline(always)]
    fn fixed<const W: usize>(&mut self, v: u64) {
        self.digits(v, W);
    }
    /// `v` zero-padded to `W` digits, or all its digits if it has more.
    #[inline]
    fn padded<const W: usize>(&mut self, v: u64) {
        if v < 10u64.pow(W as u32) {
            self.fixed::<W>(v);
        } else {
            self.num(v);
        }
    }
}

// --- paths -----------------------------------------------------------------------------

/// `/projects/{project}/crates/`.
const PROJECTS: [Word<40>; 16] = words([
    "/projects/atlas/crates/",
    "/projects/billing-service/crates/",
    "/projects/compiler-toolchain/crates/",
    "/projects/dotfiles/crates/",
    "/projects/event-pipeline/crates/",
    "/projects/frontend-monorepo/crates/",
    "/projects/geo-index/crates/",
    "/projects/harbor/crates/",
    "/projects/inventory-api/crates/",
    "/projects/kestrel-scheduler/crates/",
    "/projects/ledger/crates/",
    "/projects/media-transcoder/crates/",
    "/projects/notebook/crates/",
    "/projects/orchard/crates/",
    "/projects/payments-gateway/crates/",
    "/projects/quill/crates/",
]);
/// `{crate}/src`.
const CRATES: [Word<32>; 16] = words([
    "api/src",
    "auth/src",
    "storage-engine/src",
    "network/src",
    "parser/src",
    "scheduler/src",
    "metrics-exporter/src",
    "config/src",
    "http-handlers/src",
    "models/src",
    "utils/src",
    "cache/src",
    "wire-protocol/src",
    "query-engine/src",
    "background-jobs/src",
    "serialization/src",
]);
/// `/{dir}`.
const DIRS: [Word<16>; 16] = words([
    "/core",
    "/internal",
    "/v1",
    "/v2",
    "/common",
    "/backend",
    "/implementation",
    "/tests",
    "/fixtures",
    "/generated",
    "/platform",
    "/linux",
    "/helpers",
    "/legacy",
    "/experimental",
    "/codec",
]);
/// `/{file}`.
const FILES: [Word<16>; 32] = words([
    "/mod",
    "/lib",
    "/main",
    "/client",
    "/server",
    "/connection",
    "/connect_pool",
    "/request",
    "/response",
    "/handler",
    "/middleware",
    "/router",
    "/session",
    "/token",
    "/error",
    "/errors",
    "/types",
    "/builder",
    "/encoder",
    "/decoder",
    "/reader",
    "/writer",
    "/buffer",
    "/iterator",
    "/transaction",
    "/snapshot",
    "/registry",
    "/dispatcher",
    "/retry_policy",
    "/rate_limiter",
    "/migration",
    "/schema",
]);
/// `{suffix}.{ext}`.
const FILE_ENDS: [Word<32>; 16] = words([
    ".rs",
    ".rs",
    ".rs",
    ".rs",
    ".rs",
    ".rs",
    "_test.rs",
    "_impl.rs",
    "_tests.rs",
    "_benchmark.rs",
    "_integration.rs",
    ".toml",
    ".md",
    "_fixture.json",
    ".proto",
    "_generated.rs",
]);

/// Files per directory, directories (first levels) per crate, crates per project,
/// projects per user; users are unbounded.
const PATH_FILES: u64 = 24;
const PATH_DIRS: u64 = 6;
const PATH_CRATES: u64 = 8;
const PATH_PROJECTS: u64 = 6;

/// `words[(d + h) % len]` (`len` a power of two): distinct for distinct `d < len`.
#[inline(always)]
fn pick<const W: usize>(words: &[Word<W>], d: u64, h: u64) -> &Word<W> {
    &words[((d + (h >> 32)) as usize) & (words.len() - 1)]
}

fn path(i: u64, buf: &mut [u8; MAX_KEY_LEN]) -> usize {
    let file = i % PATH_FILES;
    let dir_id = i / PATH_FILES;
    let crate_id = dir_id / PATH_DIRS;
    let project_id = crate_id / PATH_CRATES;
    let user = project_id / PATH_PROJECTS;
    // Each level's names are picked by a hash of its parent, so the trees differ.
    let hu = fib(user, 0x11);
    let hp = fib(project_id, 0x22);
    let hc = fib(crate_id, 0x33);
    let hd = fib(dir_id, 0x44);
    let hf = fib(i, 0x55);
    let mut o = Out { buf, len: 0 };
    o.lit(b"/home/user");
    o.num(user);
    o.word(pick(&PROJECTS, project_id % PATH_PROJECTS, hu));
    o.word(pick(&CRATES, crate_id % PATH_CRATES, hp));
    o.word(pick(&DIRS, dir_id % PATH_DIRS, hc));
    // One to four more directory levels below the first, fixed per directory (written
    // without branches: the levels beyond the last are overwritten).
    let levels = 1 + nibble(hd, 0) % 4;
    for level in 0..4 {
        let w = &DIRS[nibble(hd, 4 + 4 * level as u32)];
        let len = o.len;
        o.word(w);
        o.len = if level < levels { o.len } else { len };
    }
    o.word(pick(&FILES, file, hd));
    o.word(&FILE_ENDS[nibble(hf, 0)]);
    o.len
}

// --- urls ------------------------------------------------------------------------------

/// `https://{host}.example.com`.
const HOSTS: [Word<32>; 6] = words([
    "https://www.example.com",
    "https://shop.example.com",
    "https://api.example.com",
    "https://blog.example.com",
    "https://static.example.com",
    "https://m.example.com",
]);
/// `/{section}/`.
const SECTIONS: [Word<32>; 8] = words([
    "/products/",
    "/articles/",
    "/users/",
    "/search/results/",
    "/category/books/",
    "/category/garden-and-outdoor/",
    "/help/topics/",
    "/v2/orders/",
]);
const SLUG_WORDS: [Word<16>; 32] = words([
    "-blue",
    "-wireless",
    "-organic",
    "-vintage",
    "-compact",
    "-deluxe",
    "-stainless",
    "-steel",
    "-water",
    "-bottle",
    "-kitchen",
    "-knife",
    "-running",
    "-shoes",
    "-guide",
    "-review",
    "-how",
    "-to",
    "-best",
    "-cheap",
    "-travel",
    "-backpack",
    "-garden",
    "-hose",
    "-coffee",
    "-grinder",
    "-smart",
    "-watch",
    "-leather",
    "-wallet",
    "-desk",
    "-lamp",
]);
const QUERIES: [Word<64>; 8] = words([
    "",
    "",
    "",
    "?ref=home",
    "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "?page=2&sort=price_asc",
    "?lang=en-US",
    "?ref=search&q=best",
]);

fn url(i: u64, buf: &mut [u8; MAX_KEY_LEN]) -> usize {
    let cells = (HOSTS.len() * SECTIONS.len()) as u64;
    let cell = (i % cells) as usize;
    let item = i / cells;
    let h = mix(i, 2);
    let mut o = Out { buf, len: 0 };
    o.word(&HOSTS[cell / SECTIONS.len()]);
    o.word(&SECTIONS[cell % SECTIONS.len()]);
    o.num(100_000 + item);
    // One to four words `-{word}` (written without branches, as in `path`); the first
    // dash becomes the `/` before the slug.
    let slash = o.len;
    let words = 1 + (h & 3) as usize;
    for w in 0..4 {
        let len = o.len;
        o.word(&SLUG_WORDS[((h >> (8 + 5 * w)) & 31) as usize]);
        o.len = if w < words { o.len } else { len };
    }
    o.buf[slash] = b'/';
    o.word(&QUERIES[((h >> 40) & 7) as usize]);
    o.len
}

// --- composite -------------------------------------------------------------------------

const TENANTS: u64 = 8;
const EVENTS_PER_USER: u64 = 50;
/// Timestamps are milliseconds; a user's events are at most one per hour apart.
const EVENT_STEP_MS: u64 = 3_600_000;
const EPOCH_MS: u64 = 1_700_000_000_000;

fn composite(i: u64, buf: &mut [u8; MAX_KEY_LEN]) -> usize {
    let event = i % EVENTS_PER_USER;
    let g = i / EVENTS_PER_USER;
    let (tenant, user) = (g % TENANTS, g / TENANTS);
    // Strictly increasing in `event`: its offset within its hour is below one hour.
    let start = EPOCH_MS + (fib(g, 3) >> 30) % (365 * 24 * EVENT_STEP_MS);
    let ts = start + event * EVENT_STEP_MS + (fib(i, 4) >> 32) % EVENT_STEP_MS;
    let mut o = Out { buf, len: 0 };
    o.lit(b"tenant");
    o.fixed::<4>(tenant);
    o.lit(b"/user");
    o.padded::<6>(user);
    o.byte(b'/');
    o.lit(&ts.to_be_bytes());
    o.len
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const COUNT: u64 = 200_000;

    fn key_of(kind: KeyKind, i: u64) -> Vec<u8> {
        let mut buf = [0u8; MAX_KEY_LEN];
        let len = kind.write(i, &mut buf);
        buf[..len].to_vec()
    }

    fn lengths(kind: KeyKind) -> (usize, usize, usize) {
        let mut v: Vec<usize> = (0..COUNT).map(|i| key_of(kind, i).len()).collect();
        v.sort_unstable();
        (v[0], v[v.len() / 2], v[v.len() - 1])
    }

    #[test]
    fn every_kind_yields_distinct_keys() {
        for kind in KeyKind::ALL {
            let mut seen = HashSet::with_capacity(COUNT as usize);
            for i in 0..COUNT {
                assert!(seen.insert(key_of(kind, i)), "{kind}: key #{i} repeats");
            }
            // And the writes beyond a bulk load of `COUNT` are new keys too.
            for i in COUNT..COUNT + 101_000 {
                assert!(seen.insert(key_of(kind, i)), "{kind}: key #{i} repeats");
            }
        }
    }

    #[test]
    fn lengths_are_in_the_documented_ranges() {
        let ranges = [
            (KeyKind::Random, 24, 24, 24, 24),
            (KeyKind::Paths, 54, 185, 90, 105),
            (KeyKind::Urls, 37, 174, 60, 85),
            (KeyKind::Composite, 30, 30, 30, 30),
            (KeyKind::Monotonic, 16, 16, 16, 16),
        ];
        for (kind, lo, hi, med_lo, med_hi) in ranges {
            let (min, med, max) = lengths(kind);
            assert!(min >= lo && max <= hi, "{kind}: lengths {min}..={max}");
            assert!((med_lo..=med_hi).contains(&med), "{kind}: median {med}");
            assert!(max < 511, "{kind}: LMDB's key limit");
        }
        // The bounds hold by construction, not only for the first indices.
        for kind in KeyKind::ALL {
            for i in [u64::from(u32::MAX), 1 << 40, u64::MAX / 2, u64::MAX] {
                let len = key_of(kind, i).len();
                assert!(len <= 200, "{kind}: key #{i} is {len} bytes");
            }
        }
    }

    #[test]
    fn generation_is_deterministic() {
        for kind in KeyKind::ALL {
            let keys = Keys::new(kind, 1000);
            let (mut a, mut b) = (keys.buf(), keys.buf());
            for j in (0..2000).chain([1 << 33, u64::MAX]) {
                assert_eq!(a.key(j), b.key(j), "{kind}: key at #{j}");
                assert_eq!(a.key(j), key_of(kind, keys.index(j)), "{kind}: key at #{j}");
            }
        }
        assert_eq!(key_of(KeyKind::Random, 7), key(7));
        assert_eq!(
            key_of(KeyKind::Paths, 0),
            b"/home/user0/projects/billing-service/crates/storage-engine/src/common/implementation/connection_tests.rs"[..]
        );
        assert_eq!(
            key_of(KeyKind::Monotonic, 258)[..8],
            [0, 0, 0, 0, 0, 0, 1, 2]
        );
    }

    #[test]
    fn monotonic_keys_increase_with_the_index() {
        let mut prev = key_of(KeyKind::Monotonic, 0);
        for i in 1..COUNT {
            let k = key_of(KeyKind::Monotonic, i);
            assert!(k > prev, "key #{i}");
            prev = k;
        }
        assert!(key_of(KeyKind::Monotonic, u64::MAX) > prev);
    }

    #[test]
    fn composite_timestamps_increase_per_user() {
        for i in 0..COUNT {
            if i % EVENTS_PER_USER != 0 {
                let (a, b) = (
                    key_of(KeyKind::Composite, i - 1),
                    key_of(KeyKind::Composite, i),
                );
                assert_eq!(a[..22], b[..22], "same user");
                assert!(a[22..] < b[22..], "timestamps of #{i}");
            }
        }
    }

    #[test]
    fn bulk_load_order_is_a_permutation_unrelated_to_key_order() {
        for n in (1..300).chain([1 << 12, (1 << 12) + 1, COUNT]) {
            let keys = Keys::new(KeyKind::Monotonic, n);
            let mut seen = vec![false; n as usize];
            for j in 0..n {
                let i = keys.index(j);
                assert!(i < n && !seen[i as usize], "n {n}: position {j} -> {i}");
                seen[i as usize] = true;
            }
            assert_eq!(keys.index(n), n);
        }
        let keys = Keys::new(KeyKind::Monotonic, COUNT);
        let mut b = keys.buf();
        let mut prev = b.key(0).to_vec();
        let mut ascending = 0;
        for j in 1..COUNT {
            let k = b.key(j);
            ascending += u64::from(*k > prev[..]);
            prev = k.to_vec();
        }
        let share = ascending as f64 / COUNT as f64;
        assert!((0.45..0.55).contains(&share), "ascending steps {share}");
        // `random` keeps today's order.
        let keys = Keys::new(KeyKind::Random, COUNT);
        assert!((0..COUNT).all(|j| keys.index(j) == j));
    }
}
