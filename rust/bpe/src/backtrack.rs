//! Backtracking BPE encoder for rank vocabularies (`.tiktoken`: priority = rank of the merged
//! token) and merge lists (`tokenizer.json`: priority = index in `merges`): linear time on any
//! piece, exact under a precondition checked when it is built.
//!
//! Merge lists: the notes below speak of ranks; for a merge list read "the merge index of the
//! token's split" (`prio`) wherever a token's rank is compared, since ids and merge order need
//! not agree. Facts 1-3 do not depend on how priorities arise. (P) becomes: every reachable
//! token's split has a higher merge index than the splits of its multi-byte parts; Qwen 2.5's
//! list meets it, Llama-3's does not (85 of its 128k tokens are split by a merge listed before
//! a part's own merge). Facts 1-3 and the search do not need (P); only the spine-walk pair
//! check does, and only through the timing of the runs on `a` and on `b`. So a merge list that
//! breaks (P) marks *unclean* every token whose merge tree holds a token that breaks it; a pair
//! with an unclean side is checked by running BPE on the bytes of `a ++ b` over the split map
//! (`valid_by_run`: at most twice the longest token, quadratic in that), every other pair by the
//! spine walk, which is exact for it: a clean token's own run merges in increasing merge index
//! (a node listed later than one created after it would have a descendant available earlier
//! with a lower index), which is all the timing argument below uses. See `build_merges`.
//!
//! # Design notes
//! Notation: `BPE(x)` is the merge loop of `model.rs` on the bytes `x` (lowest rank first, the
//! leftmost on ties). A token `t` is *reachable* if `BPE(t) = [t]`; its *split* is then the
//! last merge of that run, `t = l ++ r`. A pair of tokens `(a, b)` is *valid* if
//! `BPE(a ++ b) = [a, b]`.
//!
//! Facts the encoder rests on (proved here, checked by the tests against `reference_merge`):
//! 1. Every run of adjacent tokens of `BPE(x)` is the BPE of its own bytes (no merge ever
//!    crosses the boundary of a final token, so the merges inside a span are a run of their own).
//!    In particular all adjacent pairs of `BPE(x)` are valid and all its tokens reachable.
//! 2. Conversely, a tokenization of `x` whose adjacent pairs are all valid (a single token:
//!    reachable) *is* `BPE(x)`. Proof: take the first merge of the run on `x` that crosses a
//!    boundary, between `t_i` and `t_(i+1)`. Up to then the merges inside `t_i ++ t_(i+1)` are a
//!    run of BPE on those bytes alone, and that run would take the same crossing merge (it is the
//!    lowest, leftmost candidate there too), contradicting `BPE(t_i ++ t_(i+1)) = [t_i, t_(i+1)]`.
//!    So no merge crosses, and each span ends as `BPE(t_i) = [t_i]`.
//! 3. Hence a valid chain covering `x[..p]` is `BPE(x[..p])`: there is at most one per end
//!    position `p`, and if it cannot be continued to the end of `x`, no chain ending at `p` can.
//!
//! The encoder is a depth-first search for the valid chain: from the current position take the
//! longest reachable token that is a prefix of the rest; accept it if the position after it is
//! not known dead and the pair (previous token, it) is valid; otherwise try the next shorter
//! reachable prefix token (`shorter`); when none is left, pop the previous token, mark the
//! position it ended at dead (fact 3) and resume with the token shorter than the popped one.
//! Each position is entered at most once and tries each of its prefix tokens at most once, so
//! the work is linear in the piece length (times the number of prefix tokens per position and
//! the cost of a pair check, both bounded by the longest token).
//!
//! Pair check without running BPE. Precondition (P): every reachable multi-byte token has a
//! higher rank than the multi-byte parts of its split. Under (P) every BPE run merges in
//! increasing rank order (a node of lower rank created later would have a descendant that was
//! already a candidate of lower rank). In the run on `a ++ b` the last part of the `a` side
//! grows along the *right spine* of `a`'s merge tree (`a`, right(a), right(right(a)), ..., a
//! byte), created at their ranks; the first part of the `b` side along the *left spine* of `b`.
//! The only merge that can cross is between the current spine nodes `(s, p)`, and only if it is
//! the split of its token `c` (what a run creates is always its token's split), so it fires iff
//! `pairs[(s, p)] = c` exists and `c` comes before either side grows: `c < next(s)` (a tie goes
//! to the left side, which lies to the left) and `c <= next(p)` (a tie goes to the crossing
//! merge). The check walks the states `(s, p)` backwards in time from `(a, b)` to two bytes:
//! `O(depth of a's right spine + depth of b's left spine)` lookups in the split pair map.
//!
//! Lookups: the longest prefix token comes from a byte trie of the reachable tokens (breadth-
//! first layout, children of a node consecutive, found by one word-parallel compare of up to 8
//! packed child bytes or a popcount in a 256-bit map); each token node knows its deepest token
//! ancestor, which is the `shorter` table. Each thread memoises the trie walk over each 8-byte
//! window and the pair checks (direct-mapped, shared by all pieces, tagged per model; see
//! `Memo`): text repeats short windows and token pairs across pieces, and repetitive text
//! (`'a' * N`, rules of `=`) then costs one memo probe and a step or two per token.
//!
//! Build (lazy, on the first piece over `BACKTRACK_BUILD` = 256 bytes; see
//! `BpeModel::backtrack_for`), in rank order: under (P) a run only ever merges a pair that is the split of its token, so the run on
//! token `t` up to its last merge needs only the splits of lower ranks, the ones found so far;
//! it is a small BPE loop over the `(left, right) -> token` map (2-byte pairs from a dense
//! table). If it ends in two parts they are `t`'s split (correct by induction on length, given
//! the next check); tokens it finds no split for are *suspects*, and a full BPE run (byte-string
//! lookups) checks that each is really unreachable: if one is reachable, it is so only through
//! a part of higher rank, (P) fails and `build` returns `None` (the model keeps its other
//! engines; `cl100k_base` and `o200k_base` satisfy (P)). Then the trie. Unreachable tokens
//! (which the whole-piece lookup still returns for a piece that is exactly that token, as
//! tiktoken does) are never emitted by this encoder. Every token of `cl100k_base` and
//! `o200k_base` is reachable (no suspects). Tables ~7 MB and ~14 MB (trie of 217k / 422k nodes
//! of 16 bytes, split map, four `u32` per id). `get_encoding` itself does none of this.
//!
//! The splits are the costly part, and they depend on nothing but the vocabulary: the bundled
//! `cl100k_base` and `o200k_base` embed theirs (`data/<name>.splits`, one byte per id: the
//! length of the left part; 100 KB and 200 KB, checked against this build by the tests), and
//! [`Backtrack::from_splits`] builds the trie first, then takes each left part from the trie
//! (the prefix token of that length on the `shorter` chain) and each right part from one
//! lookup (batched, home slots prefetched), and fills the split map with prefetched inserts.
//! CPU per process, median of 7 in one process on the shared 2-core VM: `o200k_base` 68-84 ms
//! computed, 44-47 ms from the embedded splits (of which the trie 24-27); `cl100k_base` 25-31 /
//! 16-20 ms.
//!
//! Speed (CPU ms, min of runs, shared 2-core VM, beside quicktok-v1 in one process): count of
//! `'a' * N`, cl100k_base, N = 1M: 4.4 (the bucket engine before: 68), 10M: 36 (before: 878);
//! quicktok 3.9 / 43; growth ~10x per 10x of N. 1M random `[a-z]`: 100-140 (before: 220-265).
//! With the tables built, uncached count of English / multilingual text moves by -0% to +12%,
//! within the VM's noise for English (pieces of 13+ bytes; see `BACKTRACK_USE` in `model.rs`).

use rayon::prelude::*;

use crate::vocab::{key_and_hash, Rank, Vocab};
use crate::word::prefetch;

const NONE: u32 = u32::MAX;
/// Entries of each per-thread memo (pair checks, trie walks; a power of two, index = top hash
/// bits). Runs of one punctuation character (`-` * N) try up to 64 lengths per position
/// against several previous lengths: on `-` * 100000 (cl100k_base) 64 pair entries leave 793k
/// pair checks, 256 leave 567k, 1024 leave 225k. On the many-language bench corpus (3 MB,
/// o200k_base) the 8-byte windows where walks start number 13.6k distinct of 114k walks.
/// 16 Ki entries: 256 KiB of pairs and 384 KiB of walks per thread, allocated on its first
/// search.
const MEMO: usize = 1 << 14;
const MEMO_SHIFT: u32 = 64 - MEMO.trailing_zeros();

/// The precomputed tables of the backtracking encoder for one rank vocabulary.
#[derive(Clone)]
pub(crate) struct Backtrack {
    /// Split of each reachable multi-byte token; `NONE` for single bytes and unreachable ids.
    left: Vec<Rank>,
    right: Vec<Rank>,
    /// Byte length of each id (0 for absent ids).
    len: Vec<u32>,
    /// Merge lists: the priority (merge index) of each reachable token's split, `NONE` for
    /// bytes. Empty for rank vocabularies, where a token's priority is its id.
    prio: Vec<u32>,
    /// `(left << 32) | right` -> the token whose split that is.
    pairs: PairMap,
    /// The longest reachable token that is a proper prefix of each token (`NONE` for bytes).
    shorter: Vec<Rank>,
    /// Prefix tree of the reachable tokens.
    trie: Trie,
    /// Merge lists that break (P): per id, whether the token's merge tree holds a token split
    /// by a merge listed before one of its parts' (see `valid`). Empty when (P) holds.
    unclean: Vec<bool>,
    /// The id of each single byte (the pair check by a BPE run starts from them).
    byte_ids: [Rank; 256],
    /// Process-unique tag of these tables' entries in the per-thread memos (0: never memoised).
    uid: u32,
}

/// A byte trie in breadth-first layout: the children of a node are consecutive nodes, found
/// from the child bytes packed in `keys` (nodes with at most 8 children, searched with one
/// word-parallel compare) or from a 256-bit map (wider nodes; the child index is a popcount).
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
    maps: Vec<[u64; 4]>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Up to 8 child bytes, little-endian, or (`WIDE`) an index into `maps`.
    keys: u64,
    /// Index of the first child (low 24 bits) and the number of children or `WIDE` (high 8).
    first: u32,
    /// The reachable token this node spells, or `NONE`.
    token: Rank,
}

const WIDE: u32 = 0xFF;
const LANES: u64 = 0x0101_0101_0101_0101;

impl Trie {
    /// Build from the tokens `ids` (each spelled by `bytes(id)`), or `None` if there are more
    /// than 2^24 nodes. Sets `shorter[t]` to the longest of `ids` that is a proper prefix of
    /// `t` (the deepest token above `t`'s node).
    fn build<'a>(
        mut ids: Vec<Rank>,
        bytes: impl Fn(Rank) -> &'a [u8],
        shorter: &mut [Rank],
    ) -> Option<Self> {
        // Lexicographic order: by the first 8 bytes (zero-padded, so a prefix sorts first) and
        // the length up to 9, then the few ties between longer tokens by their full bytes.
        let mut keyed: Vec<(u64, u8, Rank)> = ids
            .iter()
            .map(|&id| {
                let b = bytes(id);
                let mut w = [0u8; 8];
                let k = b.len().min(8);
                w[..k].copy_from_slice(&b[..k]);
                (u64::from_be_bytes(w), b.len().min(9) as u8, id)
            })
            .collect();
        keyed.sort_unstable();
        let mut i = 0;
        while i < keyed.len() {
            let mut j = i + 1;
            while j < keyed.len() && keyed[j].0 == keyed[i].0 && keyed[j].1 == keyed[i].1 {
                j += 1;
            }
            if j - i > 1 {
                keyed[i..j].sort_unstable_by(|a, b| bytes(a.2).cmp(bytes(b.2)));
            }
            i = j;
        }
        for (slot, k) in ids.iter_mut().zip(&keyed) {
            *slot = k.2;
        }
        // The sorted tokens' bytes side by side, so that each level below reads them in order.
        let mut soff = Vec::with_capacity(ids.len() + 1);
        let mut sorted = Vec::new();
        soff.push(0);
        for &id in &ids {
            sorted.extend_from_slice(bytes(id));
            soff.push(sorted.len());
        }
        let tok = |i: usize| &sorted[soff[i]..soff[i + 1]];
        // Breadth-first: node k covers ids[lo..hi], all sharing their first `depth` bytes;
        // `above` is the deepest token strictly above it.
        let mut span: Vec<(u32, u32, u32, Rank)> = vec![(0, ids.len() as u32, 0, NONE)];
        let mut nodes: Vec<Node> = Vec::with_capacity(ids.len() * 3);
        let mut maps = Vec::new();
        let mut child_bytes = Vec::new();
        let mut k = 0;
        while k < span.len() {
            let (lo, hi, depth, above) = span[k];
            let (mut i, d) = (lo as usize, depth as usize);
            let mut token = NONE;
            // Sorted order puts the token equal to the shared prefix (if any) first.
            if i < hi as usize && tok(i).len() == d {
                token = ids[i];
                shorter[token as usize] = above;
                i += 1;
            }
            let below = if token == NONE { above } else { token };
            let first = span.len();
            child_bytes.clear();
            while i < hi as usize {
                let b = tok(i)[d];
                let mut j = i + 1;
                while j < hi as usize && tok(j)[d] == b {
                    j += 1;
                }
                span.push((i as u32, j as u32, depth + 1, below));
                child_bytes.push(b);
                i = j;
            }
            if span.len() >= 1 << 24 {
                return None;
            }
            let (keys, count) = if child_bytes.len() <= 8 {
                let mut keys = 0u64;
                for (lane, &b) in child_bytes.iter().enumerate() {
                    keys |= u64::from(b) << (8 * lane);
                }
                (keys, child_bytes.len() as u32)
            } else {
                let mut map = [0u64; 4];
                for &b in &child_bytes {
                    map[usize::from(b >> 6)] |= 1 << (b & 63);
                }
                maps.push(map);
                ((maps.len() - 1) as u64, WIDE)
            };
            nodes.push(Node {
                keys,
                first: first as u32 | (count << 24),
                token,
            });
            k += 1;
        }
        Some(Self { nodes, maps })
    }

    /// The child of `node` along byte `b`.
    #[inline]
    fn child(&self, node: &Node, b: u8) -> Option<usize> {
        let first = (node.first & 0xFF_FFFF) as usize;
        let count = node.first >> 24;
        if count == WIDE {
            let map = &self.maps[node.keys as usize];
            let (w, bit) = (usize::from(b >> 6), b & 63);
            if map[w] >> bit & 1 == 0 {
                return None;
            }
            let below = map[..w].iter().map(|x| x.count_ones()).sum::<u32>()
                + (map[w] & ((1u64 << bit) - 1)).count_ones();
            Some(first + below as usize)
        } else {
            // Lanes equal to `b` become zero; the lowest zero lane is found exactly.
            let x = node.keys ^ (u64::from(b) * LANES);
            let zero = x.wrapping_sub(LANES) & !x & (LANES << 7);
            let lane = zero.trailing_zeros() / 8;
            (lane < count).then_some(first + lane as usize)
        }
    }

    /// Walk `text` down from node `at`, keeping the deepest token seen (starting from `best`):
    /// returns the last node reached, that token, and whether all of `text` was consumed.
    #[inline]
    fn walk(&self, at: usize, text: &[u8], mut best: Rank) -> (usize, Rank, bool) {
        let mut at = at;
        for &b in text {
            let Some(c) = self.child(&self.nodes[at], b) else {
                return (at, best, false);
            };
            at = c;
            let t = self.nodes[at].token;
            if t != NONE {
                best = t;
            }
        }
        (at, best, true)
    }
}

/// Memo entry of a trie walk from the root over an 8-byte window.
#[derive(Clone, Copy, Default)]
struct Walk {
    window: u64,
    /// The tables' `uid` (0: empty).
    uid: u32,
    /// The node after the window, or `NONE` if the walk stopped inside it.
    at: u32,
    /// The deepest token within the window.
    best: Rank,
}

/// Memo entry of a pair check.
#[derive(Clone, Copy, Default)]
struct Pair {
    key: u64,
    /// The tables' `uid` (0: empty).
    uid: u32,
    valid: bool,
}

/// Per-thread memos of trie walks and pair checks, shared by every search on the thread (all
/// pieces, all models: entries carry their tables' `uid`). Both are pure functions of the
/// tables, so a memo hit returns what the computation would. Text repeats its short windows and
/// token pairs far more often than whole pieces (which the piece cache holds): on the
/// many-language bench corpus 88% of the walks start at a window seen before; repetitive pieces
/// (`'a' * N`, rules of `=`) walk the same windows and check the same pairs again and again.
struct Memo {
    walks: Box<[Walk]>,
    pairs: Box<[Pair]>,
}

impl Memo {
    fn new() -> Box<Self> {
        Box::new(Self {
            walks: vec![Walk::default(); MEMO].into_boxed_slice(),
            pairs: vec![Pair::default(); MEMO].into_boxed_slice(),
        })
    }
}

thread_local! {
    static MEMO_CELL: std::cell::RefCell<Option<Box<Memo>>> = const { std::cell::RefCell::new(None) };
}

#[inline]
fn memo_slot(k: u64) -> usize {
    (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> MEMO_SHIFT) as usize
}

impl std::fmt::Debug for Backtrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backtrack")
            .field("splits", &self.pairs.len)
            .field("trie_nodes", &self.trie.nodes.len())
            .finish_non_exhaustive()
    }
}

#[inline]
fn key(l: Rank, r: Rank) -> u64 {
    (u64::from(l) << 32) | u64::from(r)
}

/// The split map `(left, right) -> token`: open addressing with linear probing over one `u64`
/// per slot (`left << 42 | right << 21 | token`, ids below 2^21), load below 3/5, so a lookup
/// usually reads one cache line; in front of it a one-hash filter of 8 bits per entry (128-256
/// KiB, stays in L2) answers most absent pairs without touching the table. Pair checks and the
/// build's BPE runs are bound by these lookups.
#[derive(Clone)]
struct PairMap {
    slots: Vec<u64>,
    shift: u32,
    filter: Vec<u64>,
    filter_shift: u32,
    len: usize,
}

const ID_BITS: u32 = 21;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
const FREE_SLOT: u64 = u64::MAX;

impl PairMap {
    /// Room for `n` entries, or `None` if ids may not fit in `ID_BITS`.
    fn new(n: usize) -> Option<Self> {
        if n as u64 > ID_MASK {
            return None;
        }
        let cap = (n + n / 2 + n / 6).next_power_of_two().max(16);
        let bits = (n * 8).next_power_of_two().max(64);
        Some(Self {
            slots: vec![FREE_SLOT; cap],
            shift: 64 - cap.trailing_zeros(),
            filter: vec![0; bits / 64],
            filter_shift: 64 - bits.trailing_zeros(),
            len: 0,
        })
    }

    /// The key bits, the first slot, and the filter bit of `(l, r)`.
    #[inline]
    fn start(&self, l: Rank, r: Rank) -> (u64, usize, usize) {
        let k = (u64::from(l) << ID_BITS) | u64::from(r);
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let f = (k ^ (k >> 29)).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> self.filter_shift;
        (k << ID_BITS, (h >> self.shift) as usize, f as usize)
    }

    /// The token whose split is `(l, r)`, or `NONE`.
    #[inline]
    fn get(&self, l: Rank, r: Rank) -> Rank {
        let (key, mut i, f) = self.start(l, r);
        if self.filter[f / 64] >> (f % 64) & 1 == 0 {
            return NONE;
        }
        let mask = self.slots.len() - 1;
        loop {
            let e = self.slots[i];
            if e == FREE_SLOT {
                return NONE;
            }
            if e & !ID_MASK == key {
                return (e & ID_MASK) as Rank;
            }
            i = (i + 1) & mask;
        }
    }

    /// [`insert`](Self::insert) each `(left, right, token)`, prefetching the slots of the
    /// entries a few places ahead (the table is MiBs: one insert is one cache miss).
    fn insert_all(&mut self, entries: &[(Rank, Rank, Rank)]) {
        const AHEAD: usize = 16;
        for (i, &(l, r, t)) in entries.iter().enumerate() {
            if let Some(&(l, r, _)) = entries.get(i + AHEAD) {
                let (_, slot, _) = self.start(l, r);
                prefetch(&self.slots[slot]);
            }
            self.insert(l, r, t);
        }
    }

    /// Add a split (each token has one; each pair is the split of at most one token).
    fn insert(&mut self, l: Rank, r: Rank, t: Rank) {
        let (key, mut i, f) = self.start(l, r);
        self.filter[f / 64] |= 1 << (f % 64);
        let mask = self.slots.len() - 1;
        while self.slots[i] != FREE_SLOT {
            i = (i + 1) & mask;
        }
        self.slots[i] = key | u64::from(t);
        self.len += 1;
    }
}

/// Scratch buffers of `merge_parts`.
#[derive(Default)]
struct Scratch {
    ids: Vec<Rank>,
    prio: Vec<u32>,
    merged: Vec<Rank>,
    next: Vec<usize>,
}

/// Run BPE on `bytes` (at least two bytes) with `rank(a, c, l, r)` the priority of merging the
/// adjacent parts `bytes[a..b]` (id `l`) and `bytes[b..c]` (id `r`) and the merged id (priority
/// `NONE`: never), until two parts are left and `stop_at_two`, or nothing merges. Returns the
/// two parts if it ends with exactly two. Parts are linked by their start offsets (`next`), so
/// a merge moves nothing.
fn merge_parts(
    bytes: &[u8],
    byte_ids: &[Rank; 256],
    rank: impl Fn(usize, usize, Rank, Rank) -> (u32, Rank),
    stop_at_two: bool,
    sc: &mut Scratch,
) -> Option<(Rank, Rank)> {
    let n = bytes.len();
    let Scratch {
        ids,
        prio,
        merged,
        next,
    } = sc;
    ids.clear();
    ids.extend(bytes.iter().map(|&b| byte_ids[usize::from(b)]));
    next.clear();
    next.extend(1..=n);
    prio.clear();
    merged.clear();
    for k in 0..n - 1 {
        let (p, m) = rank(k, k + 2, ids[k], ids[k + 1]);
        prio.push(p);
        merged.push(m);
    }
    prio.push(NONE);
    merged.push(NONE);
    let mut parts = n;
    while parts > 2 || (parts == 2 && !stop_at_two) {
        // The lowest priority, the leftmost on ties, and the part before it.
        let (mut best, mut at, mut before) = (NONE, 0, usize::MAX);
        let (mut h, mut i) = (usize::MAX, 0);
        while i < n {
            if prio[i] < best {
                (best, at, before) = (prio[i], i, h);
            }
            (h, i) = (i, next[i]);
        }
        if best == NONE {
            break;
        }
        ids[at] = merged[at];
        next[at] = next[next[at]];
        parts -= 1;
        let k = next[at];
        (prio[at], merged[at]) = if k < n {
            rank(at, next[k], ids[at], ids[k])
        } else {
            (NONE, NONE)
        };
        if before != usize::MAX {
            (prio[before], merged[before]) = rank(before, k, ids[before], ids[at]);
        }
    }
    if parts != 2 || (stop_at_two && prio[0] == NONE) {
        return None;
    }
    Some((ids[0], ids[next[0]]))
}

/// A bitset of piece positions known to lead to no valid chain.
/// (Inline for pieces under 128 bytes.)
struct Dead {
    small: [u64; 2],
    big: Vec<u64>,
}

impl Dead {
    fn new(n: usize) -> Self {
        Self {
            small: [0; 2],
            big: if n < 128 {
                Vec::new()
            } else {
                vec![0; n / 64 + 1]
            },
        }
    }
    #[inline]
    fn words(&mut self) -> &mut [u64] {
        if self.big.is_empty() {
            &mut self.small
        } else {
            &mut self.big
        }
    }
    #[inline]
    fn get(&mut self, i: usize) -> bool {
        self.words()[i / 64] >> (i % 64) & 1 != 0
    }
    #[inline]
    fn set(&mut self, i: usize) {
        self.words()[i / 64] |= 1 << (i % 64);
    }
}

/// The chain of the search: the tail of an output vector, or a small array (counting short
/// pieces without allocating; a chain never has more tokens than the piece has bytes).
trait Chain {
    fn last(&self) -> Option<Rank>;
    fn push(&mut self, t: Rank);
    fn pop(&mut self) -> Option<Rank>;
}

struct Tail<'a> {
    out: &'a mut Vec<Rank>,
    base: usize,
}

impl Chain for Tail<'_> {
    #[inline]
    fn last(&self) -> Option<Rank> {
        (self.out.len() > self.base).then(|| self.out[self.out.len() - 1])
    }
    #[inline]
    fn push(&mut self, t: Rank) {
        self.out.push(t);
    }
    #[inline]
    fn pop(&mut self) -> Option<Rank> {
        if self.out.len() > self.base {
            self.out.pop()
        } else {
            None
        }
    }
}

const INLINE: usize = 64;

struct Inline {
    ids: [Rank; INLINE],
    n: usize,
}

impl Chain for Inline {
    #[inline]
    fn last(&self) -> Option<Rank> {
        self.n.checked_sub(1).map(|k| self.ids[k])
    }
    #[inline]
    fn push(&mut self, t: Rank) {
        self.ids[self.n] = t;
        self.n += 1;
    }
    #[inline]
    fn pop(&mut self) -> Option<Rank> {
        self.n = self.n.checked_sub(1)?;
        Some(self.ids[self.n])
    }
}

impl Backtrack {
    /// Build the tables for a rank vocabulary, or `None` if precondition (P) (see the design
    /// notes) does not hold for it.
    pub(crate) fn build(model: &Vocab) -> Option<Self> {
        let n = model.n_ids();
        let mut left = vec![NONE; n];
        let mut right = vec![NONE; n];
        let mut len = vec![0u32; n];
        for (id, l) in len.iter_mut().enumerate() {
            *l = model.token_bytes(id as Rank).map_or(0, |b| b.len() as u32);
        }
        let mut reachable: Vec<bool> = len.iter().map(|&l| l == 1).collect();
        let mut byte_ids = [0; 256];
        for (b, id) in (0..=255u8).zip(byte_ids.iter_mut()) {
            *id = model.token_id(&[b])?;
        }
        // Splits in rank order. Under (P) a BPE run only ever merges a pair that is the split of
        // its token (fact: what a run creates is its token's split), so the run on token `t`
        // up to its last merge needs only the splits of lower ranks: those found so far. If it
        // ends in two parts, they are the split of `t` and satisfy (P) (proof by induction on
        // length, given that every token of which this finds no split is really unreachable;
        // that is checked below with a full BPE run per such token, the `suspects`).
        let mut pairs = PairMap::new(n)?;
        // Splits of 2-byte tokens found so far, by their two bytes (the first round of each run).
        let mut two = vec![NONE; 1 << 16];
        let mut sc = Scratch::default();
        let mut suspects = Vec::new();
        for id in 0..n {
            if len[id] < 2 {
                continue;
            }
            let bytes = model.token_bytes(id as Rank)?;
            let rank = |a: usize, c: usize, l: Rank, r: Rank| {
                let t = if c - a == 2 {
                    two[usize::from(bytes[a]) << 8 | usize::from(bytes[a + 1])]
                } else {
                    pairs.get(l, r)
                };
                (t, t)
            };
            let Some((l, r)) = merge_parts(bytes, &byte_ids, rank, false, &mut sc) else {
                suspects.push(id as Rank);
                continue;
            };
            left[id] = l;
            right[id] = r;
            reachable[id] = true;
            pairs.insert(l, r, id as Rank);
            if let [b0, b1] = *bytes {
                two[usize::from(b0) << 8 | usize::from(b1)] = id as Rank;
            }
        }
        // A suspect that full BPE does reduce to itself is reachable only through a part of
        // higher rank: (P) fails and the model keeps its other engines.
        let violated = suspects.par_iter().any(|&id| {
            let bytes = model.token_bytes(id).unwrap_or_default();
            let rank = |a: usize, c: usize, _: Rank, _: Rank| {
                let t = model.token_id(&bytes[a..c]).unwrap_or(NONE);
                (t, t)
            };
            merge_parts(bytes, &byte_ids, rank, true, &mut Scratch::default()).is_some()
        });
        if violated {
            return None;
        }
        Self::finish(model, left, right, len, Vec::new(), pairs, |id| {
            reachable[id as usize]
        })
    }

    /// The tables from precomputed splits (rank vocabularies): `split[id]` is the byte length of
    /// the left part of reachable token `id`'s split, 0 for single bytes and unreachable ids (the
    /// form [`split_lengths`](Self::split_lengths) writes; the bundled `cl100k_base` and
    /// `o200k_base` embed theirs, so no BPE run is needed per token). `None` if the table does
    /// not fit the vocabulary: a length outside a token, a part that is not a token, or a part
    /// that does not rank below its token (which (P) requires). The parts come from the trie
    /// (left: the prefix token of that length on the `shorter` chain) and one lookup (right).
    pub(crate) fn from_splits(model: &Vocab, split: &[u8]) -> Option<Self> {
        let n = model.n_ids();
        if split.len() != n {
            return None;
        }
        let mut len = vec![0u32; n];
        for (id, l) in len.iter_mut().enumerate() {
            *l = model.token_bytes(id as Rank).map_or(0, |b| b.len() as u32);
        }
        let mut bt = Self::finish(
            model,
            vec![NONE; n],
            vec![NONE; n],
            len,
            Vec::new(),
            PairMap::new(n)?,
            |id| split[id as usize] != 0 || model.token_bytes(id).is_some_and(|b| b.len() == 1),
        )?;
        // The right parts by lookup, a batch at a time: hash each, prefetch its home slot (the
        // table is MiBs), then probe.
        let split_ids: Vec<Rank> = (0..n as Rank)
            .filter(|&id| split[id as usize] != 0)
            .collect();
        let mut entries = Vec::with_capacity(split_ids.len());
        for batch in split_ids.chunks(16) {
            let mut rights: [(&[u8], u64, u64); 16] = [(&[], 0, 0); 16];
            for (slot, &id) in rights.iter_mut().zip(batch) {
                let bytes = model.token_bytes(id)?;
                let right = bytes.get(usize::from(split[id as usize])..)?;
                let (key, h) = key_and_hash(right);
                model.prefetch_home(right.len(), h);
                *slot = (right, key, h);
            }
            for (&(right, key, h), &id) in rights.iter().zip(batch) {
                let (k, i) = (u32::from(split[id as usize]), id as usize);
                let mut l = bt.shorter[i];
                while l != NONE && bt.len[l as usize] > k {
                    l = bt.shorter[l as usize];
                }
                let r = model.find(right, key, h)?;
                let ranked_below = |t: Rank| t != NONE && (t as usize) < i;
                let reachable = split[r as usize] != 0 || bt.len[r as usize] == 1;
                if !ranked_below(l) || bt.len[l as usize] != k || !ranked_below(r) || !reachable {
                    return None;
                }
                (bt.left[i], bt.right[i]) = (l, r);
                entries.push((l, r, id));
            }
        }
        bt.pairs.insert_all(&entries);
        Some(bt)
    }

    /// The split table [`from_splits`](Self::from_splits) reads: per id, the byte length of
    /// the left part of its split (0: none); `None` if a left part is longer than 255 bytes.
    /// (The tests write the embedded tables with it.)
    #[cfg(test)]
    pub(crate) fn split_lengths(&self) -> Option<Vec<u8>> {
        self.left
            .iter()
            .map(|&l| {
                if l == NONE {
                    Some(0)
                } else {
                    u8::try_from(self.len[l as usize]).ok()
                }
            })
            .collect()
    }

    /// The trie over the reachable tokens (`reachable(id)`), then the tables.
    fn finish(
        model: &Vocab,
        left: Vec<Rank>,
        right: Vec<Rank>,
        len: Vec<u32>,
        prio: Vec<u32>,
        pairs: PairMap,
        reachable: impl Fn(Rank) -> bool,
    ) -> Option<Self> {
        let n = len.len();
        let mut byte_ids = [0; 256];
        for (b, id) in (0..=255u8).zip(byte_ids.iter_mut()) {
            *id = model.token_id(&[b])?;
        }
        let trie_ids = (0..n as Rank).filter(|&id| reachable(id)).collect();
        let mut shorter = vec![NONE; n];
        let trie = Trie::build(
            trie_ids,
            |id| model.token_bytes(id).unwrap_or_default(),
            &mut shorter,
        )?;
        Some(Self {
            left,
            right,
            len,
            prio,
            pairs,
            shorter,
            trie,
            unclean: Vec::new(),
            byte_ids,
            uid: crate::cache::new_uid(),
        })
    }

    /// Build the tables for a merge list (`merge(l, r)`: the merge index of the pair and the
    /// merged id), or `None` if a byte has no token or an id does not fit the split map. Where
    /// precondition (P) fails (some reachable token's split has a lower merge index than the
    /// split of one of its multi-byte parts), the tokens whose merge trees hold such a token are
    /// marked unclean and their pairs are checked by a BPE run (see `valid`).
    ///
    /// A token is reachable iff a full BPE run on its bytes ends in that token; its split is
    /// the last merge of that run (one run per token, over the whole merge list; in parallel).
    /// That is the only merge that can ever create the token in any run (a part of a run is
    /// the BPE of its own bytes, fact 1 applied to intermediate parts), so the split map holds
    /// every merge the search needs even when the list creates one token from several pairs.
    pub(crate) fn build_merges(
        model: &Vocab,
        merge: impl Fn(Rank, Rank) -> Option<(u32, Rank)> + Sync,
    ) -> Option<Self> {
        let n = model.n_ids();
        let mut byte_ids = [0; 256];
        for (b, id) in (0..=255u8).zip(byte_ids.iter_mut()) {
            *id = model.token_id(&[b])?;
        }
        let mut len = vec![0u32; n];
        for (id, l) in len.iter_mut().enumerate() {
            *l = model.token_bytes(id as Rank).map_or(0, |b| b.len() as u32);
        }
        let rank = |_: usize, _: usize, l: Rank, r: Rank| merge(l, r).unwrap_or((NONE, NONE));
        let splits: Vec<Option<(Rank, Rank, u32)>> = (0..n as Rank)
            .into_par_iter()
            .map_init(Scratch::default, |sc, id| {
                let bytes = model.token_bytes(id)?;
                if bytes.len() < 2 {
                    return None;
                }
                let (l, r) = merge_parts(bytes, &byte_ids, rank, true, sc)?;
                let (p, m) = merge(l, r)?;
                (m == id).then_some((l, r, p))
            })
            .collect();
        let mut left = vec![NONE; n];
        let mut right = vec![NONE; n];
        let mut prio = vec![NONE; n];
        let mut pairs = PairMap::new(n)?;
        for (id, split) in splits.iter().enumerate() {
            if let Some((l, r, p)) = *split {
                (left[id], right[id], prio[id]) = (l, r, p);
                pairs.insert(l, r, id as Rank);
            }
        }
        let below = |part: Rank, p: u32| {
            let q = prio[part as usize];
            q == NONE || q < p
        };
        // A token is clean if every token of its merge tree (itself included) is split by a
        // merge listed after its parts' splits; parts are shorter, so by increasing length.
        let mut by_len: Vec<Rank> = (0..n as Rank)
            .filter(|&id| left[id as usize] != NONE)
            .collect();
        by_len.sort_unstable_by_key(|&id| len[id as usize]);
        let mut unclean = vec![false; n];
        for id in by_len {
            let (l, r, p) = (left[id as usize], right[id as usize], prio[id as usize]);
            unclean[id as usize] =
                !(below(l, p) && below(r, p)) || unclean[l as usize] || unclean[r as usize];
        }
        if !unclean.contains(&true) {
            unclean = Vec::new();
        }
        let reachable: Vec<bool> = (0..n).map(|id| len[id] == 1 || left[id] != NONE).collect();
        let mut bt = Self::finish(model, left, right, len, prio, pairs, |id| {
            reachable[id as usize]
        })?;
        bt.unclean = unclean;
        Some(bt)
    }

    /// The priority of reachable token `t`'s split: its rank, or its merge index.
    #[inline]
    fn prio(&self, t: Rank) -> u32 {
        if self.prio.is_empty() {
            t
        } else {
            self.prio[t as usize]
        }
    }

    /// The longest reachable token that is a prefix of `piece[pos..]`.
    #[inline]
    fn longest(&self, piece: &[u8], pos: usize, memo: Option<&mut Memo>) -> Rank {
        let rest = &piece[pos..];
        let (Some(memo), Some(window)) = (memo, rest.first_chunk::<8>()) else {
            return self.trie.walk(0, rest, NONE).1;
        };
        let k = u64::from_le_bytes(*window);
        let e = &mut memo.walks[memo_slot(k)];
        if e.window != k || e.uid != self.uid {
            let (at, best, through) = self.trie.walk(0, window, NONE);
            *e = Walk {
                window: k,
                uid: self.uid,
                at: if through { at as u32 } else { NONE },
                best,
            };
        }
        let (at, best) = (e.at, e.best);
        if at == NONE {
            return best;
        }
        self.trie.walk(at as usize, &rest[8..], best).1
    }

    /// Whether `BPE(a ++ b) = [a, b]` for reachable tokens `a`, `b` spelling `bytes` (see the
    /// design notes).
    #[inline]
    fn valid(&self, a: Rank, b: Rank, bytes: &[u8]) -> bool {
        if !self.unclean.is_empty() && (self.unclean[a as usize] || self.unclean[b as usize]) {
            return self.valid_by_run(a, b, bytes);
        }
        let (mut s, mut p) = (a, b);
        // Ranks of the spine nodes created right after `s` / `p` (NONE: never).
        let (mut next_s, mut next_p) = (NONE, NONE);
        loop {
            let c = self.pairs.get(s, p);
            if c != NONE {
                let c = self.prio(c);
                if c < next_s && c <= next_p {
                    return false;
                }
            }
            let s_down = self.right[s as usize];
            let p_down = self.left[p as usize];
            // Undo whichever of `s`, `p` was created last (bytes exist from the start; on equal
            // ranks the left one was created first).
            if s_down != NONE && (p_down == NONE || self.prio(s) > self.prio(p)) {
                next_s = self.prio(s);
                s = s_down;
            } else if p_down != NONE {
                next_p = self.prio(p);
                p = p_down;
            } else {
                return true;
            }
        }
    }

    /// [`valid`](Self::valid) by running BPE on the bytes of `a ++ b` over the split map (the
    /// only merges a run can make, see `build_merges`): for pairs where an unclean token makes
    /// the spine walk's timing argument fail.
    /// `bytes` are those of `a ++ b`.
    #[cold]
    fn valid_by_run(&self, a: Rank, b: Rank, bytes: &[u8]) -> bool {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
        }
        SCRATCH.with(|cell| {
            let Ok(mut sc) = cell.try_borrow_mut() else {
                return false;
            };
            let rank = |_: usize, _: usize, l: Rank, r: Rank| match self.pairs.get(l, r) {
                NONE => (NONE, NONE),
                c => (self.prio(c), c),
            };
            merge_parts(bytes, &self.byte_ids, rank, false, &mut sc) == Some((a, b))
        })
    }

    /// Append the BPE of `piece` to `out`. Returns `false` (with `out` unchanged) only if the
    /// search fails, which the exact pair check rules out.
    pub(crate) fn encode(&self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let base = out.len();
        let ok = self.search(piece, &mut Tail { out, base });
        if !ok {
            out.truncate(base);
        }
        ok
    }

    /// The number of tokens of the BPE of `piece`, if the search succeeds (see `encode`).
    pub(crate) fn count(&self, piece: &[u8]) -> Option<usize> {
        if piece.len() <= INLINE {
            let mut chain = Inline {
                ids: [0; INLINE],
                n: 0,
            };
            return self.search(piece, &mut chain).then_some(chain.n);
        }
        let mut out = Vec::with_capacity(piece.len() / 2 + 1);
        self.search(
            piece,
            &mut Tail {
                out: &mut out,
                base: 0,
            },
        )
        .then_some(out.len())
    }

    /// The depth-first search of the design notes, with this thread's memos (none if the
    /// tables have no tag or the memos are in use further up this thread's stack).
    fn search(&self, piece: &[u8], chain: &mut impl Chain) -> bool {
        if self.uid == 0 {
            return self.search_with(piece, chain, None);
        }
        MEMO_CELL.with(|cell| match cell.try_borrow_mut() {
            Ok(mut memo) => {
                let memo = memo.get_or_insert_with(Memo::new);
                self.search_with(piece, chain, Some(memo))
            }
            Err(_) => self.search_with(piece, chain, None),
        })
    }

    fn search_with(
        &self,
        piece: &[u8],
        chain: &mut impl Chain,
        mut memo: Option<&mut Memo>,
    ) -> bool {
        let n = piece.len();
        if n == 0 {
            return true;
        }
        let mut dead = Dead::new(n);
        let mut pos = 0;
        let mut cand = self.longest(piece, 0, memo.as_deref_mut());
        loop {
            while cand != NONE {
                let end = pos + self.len[cand as usize] as usize;
                if !dead.get(end) {
                    let Some(prev) = chain.last() else {
                        break;
                    };
                    let pair = &piece[pos - self.len[prev as usize] as usize..end];
                    let ok = if let Some(m) = memo.as_deref_mut() {
                        let k = key(prev, cand);
                        let e = &mut m.pairs[memo_slot(k)];
                        if e.key != k || e.uid != self.uid {
                            *e = Pair {
                                key: k,
                                uid: self.uid,
                                valid: self.valid(prev, cand, pair),
                            };
                        }
                        e.valid
                    } else {
                        self.valid(prev, cand, pair)
                    };
                    if ok {
                        break;
                    }
                }
                cand = self.shorter[cand as usize];
            }
            if cand == NONE {
                let Some(t) = chain.pop() else {
                    return false;
                };
                dead.set(pos);
                pos -= self.len[t as usize] as usize;
                cand = self.shorter[t as usize];
            } else {
                chain.push(cand);
                pos += self.len[cand as usize] as usize;
                if pos == n {
                    return true;
                }
                cand = self.longest(piece, pos, memo.as_deref_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reference::{naive_merge, reference_merge};
    use crate::model::BpeModel;
    use crate::registry::bundled_encoding;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn model(name: &str) -> &'static BpeModel {
        static CL: OnceLock<crate::Encoding> = OnceLock::new();
        static O2: OnceLock<crate::Encoding> = OnceLock::new();
        let cell = if name == "cl100k_base" { &CL } else { &O2 };
        cell.get_or_init(|| bundled_encoding(name).unwrap())
            .model()
            .unwrap()
    }

    fn backtrack(name: &str) -> &'static Backtrack {
        static CL: OnceLock<Backtrack> = OnceLock::new();
        static O2: OnceLock<Backtrack> = OnceLock::new();
        let cell = if name == "cl100k_base" { &CL } else { &O2 };
        cell.get_or_init(|| Backtrack::build(model(name).vocab()).expect("precondition holds"))
    }

    fn check(m: &BpeModel, bt: &Backtrack, piece: &[u8]) {
        let mut want = Vec::new();
        reference_merge(m, piece, &mut want);
        let mut got = vec![42];
        assert!(bt.encode(piece, &mut got), "search failed on {piece:?}");
        assert_eq!(
            got[1..],
            want[..],
            "piece {:?}",
            String::from_utf8_lossy(piece)
        );
        assert_eq!(bt.count(piece), Some(want.len()));
        if piece.len() <= 200 {
            assert_eq!(naive_merge(m, piece), want);
        }
    }

    /// The embedded split tables (`data/*.splits`) are the computed ones, and the tables built
    /// from them equal the computed tables. `TOKENMILL_WRITE_SPLITS=1` rewrites the files
    /// from the computation (after a change of a bundled rank file).
    #[test]
    fn embedded_splits_are_the_computed_ones() {
        for name in ["cl100k_base", "o200k_base"] {
            let (m, bt) = (model(name), backtrack(name));
            let computed = bt.split_lengths().expect("parts under 256 bytes");
            if std::env::var_os("TOKENMILL_WRITE_SPLITS").is_some() {
                let path = format!("{}/data/{name}.splits", env!("CARGO_MANIFEST_DIR"));
                std::fs::write(path, &computed).unwrap();
                continue;
            }
            let embedded = crate::registry::embedded_splits(name).unwrap();
            assert!(
                embedded == computed.as_slice(),
                "data/{name}.splits is stale: TOKENMILL_WRITE_SPLITS=1 cargo test -p \
                 tokenmill-bpe embedded_splits"
            );
            let from = Backtrack::from_splits(m.vocab(), embedded).unwrap();
            assert_eq!(from.left, bt.left);
            assert_eq!(from.right, bt.right);
            assert_eq!(from.len, bt.len);
            assert_eq!(from.shorter, bt.shorter);
            assert_eq!(from.pairs.slots, bt.pairs.slots);
            assert_eq!(from.pairs.filter, bt.pairs.filter);
            assert_eq!(from.trie.maps, bt.trie.maps);
            assert_eq!(from.trie.nodes.len(), bt.trie.nodes.len());
            assert!(from
                .trie
                .nodes
                .iter()
                .zip(&bt.trie.nodes)
                .all(|(a, b)| { (a.keys, a.first, a.token) == (b.keys, b.first, b.token) }));
        }
    }

    #[test]
    fn splits_that_do_not_fit_are_refused() {
        let m = model("cl100k_base");
        let good = crate::registry::embedded_splits("cl100k_base").unwrap();
        assert!(Backtrack::from_splits(m.vocab(), &good[1..]).is_none());
        // A split that leaves no right part, or lies outside the token.
        let id = (256..m.n_ids())
            .find(|&id| m.token_bytes(id as Rank).unwrap().len() == 3)
            .unwrap();
        for k in [3u8, 200] {
            let mut bad = good.to_vec();
            bad[id] = k;
            assert!(Backtrack::from_splits(m.vocab(), &bad).is_none(), "k = {k}");
        }
    }

    #[test]
    fn splits_are_bpe_of_the_token() {
        let m = model("cl100k_base");
        let bt = backtrack("cl100k_base");
        let mut reachable = 0;
        for id in 0..m.n_ids() as Rank {
            let bytes = m.token_bytes(id).unwrap();
            let bpe = naive_merge(m, bytes);
            if bytes.len() == 1 {
                continue;
            }
            if bt.left[id as usize] == NONE {
                assert_ne!(bpe, [id], "token {id} is reachable");
                continue;
            }
            reachable += 1;
            assert_eq!(bpe, [id]);
            let (l, r) = (bt.left[id as usize], bt.right[id as usize]);
            let mut joined = m.token_bytes(l).unwrap().to_vec();
            joined.extend_from_slice(m.token_bytes(r).unwrap());
            assert_eq!(joined, bytes);
            if id % 97 == 0 {
                // The split is the last merge: BPE of the bytes without this token is [l, r].
                assert_eq!(naive_merge_without(m, bytes, id), [l, r]);
            }
        }
        assert!(reachable > 99_000, "{reachable}");
    }

    /// Naive BPE that never forms token `skip`.
    fn naive_merge_without(m: &BpeModel, piece: &[u8], skip: Rank) -> Vec<Rank> {
        let mut parts: Vec<Rank> = piece.iter().map(|&b| m.token_id(&[b]).unwrap()).collect();
        loop {
            let best = (0..parts.len().saturating_sub(1))
                .filter_map(|k| {
                    m.merge(parts[k], parts[k + 1])
                        .filter(|&(_, t)| t != skip)
                        .map(|(p, t)| (p, k, t))
                })
                .min();
            let Some((_, k, t)) = best else {
                return parts;
            };
            parts[k] = t;
            parts.remove(k + 1);
        }
    }

    /// The per-thread memos are shared by every model on the thread: entries of one model are
    /// never answers for another (same windows and pairs of ids, different tables).
    #[test]
    fn models_interleaved_on_one_thread_match_reference() {
        let mixed: Vec<String> = "aé漢字дҗعربيहिन्दीไทย😀 \u{200d}"
            .chars()
            .map(String::from)
            .collect();
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let merged = (merge_list_model(), merge_backtrack());
        for k in 0..40u64 {
            let piece = random_text(&refs, 20 + (k as usize * 7) % 90, k);
            for name in ["cl100k_base", "o200k_base"] {
                check(model(name), backtrack(name), &piece);
            }
            check(merged.0, merged.1, &piece);
        }
    }

    #[test]
    fn a_runs_match_reference() {
        for name in ["cl100k_base", "o200k_base"] {
            for n in (1..300).chain([511, 512, 513, 1000, 4099]) {
                check(model(name), backtrack(name), &vec![b'a'; n]);
                check(model(name), backtrack(name), &vec![b' '; n]);
            }
        }
    }

    /// A rank vocabulary: the 256 bytes, then `extra` in rank order.
    fn vocab(extra: &[&[u8]]) -> BpeModel {
        let mut toks: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        toks.extend(extra.iter().map(|t| t.to_vec()));
        BpeModel::from_ranks(toks).unwrap()
    }

    /// Grow a vocabulary over `a..=d` by joining two earlier tokens per step (chosen by index).
    fn grown(joins: &[(usize, usize)]) -> BpeModel {
        let mut list: Vec<Vec<u8>> = (b'a'..=b'd').map(|c| vec![c]).collect();
        let mut extra = Vec::new();
        for &(i, j) in joins {
            let mut t = list[i % list.len()].clone();
            t.extend_from_slice(&list[j % list.len()]);
            if t.len() <= 10 && !list.contains(&t) {
                list.push(t.clone());
                extra.push(t);
            }
        }
        let refs: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
        vocab(&refs)
    }

    #[test]
    fn precondition_failure_is_detected_and_the_model_falls_back() {
        // "abc" (256) is reachable only as a + "bc" (257): a part ranks above the token.
        let m = vocab(&[b"abc", b"bc"]);
        assert!(Backtrack::build(m.vocab()).is_none());
        assert_eq!(naive_merge(&m, b"abc"), [256]);
        let piece = b"abcbcabcaabcbbcc".repeat(9);
        let mut got = Vec::new();
        m.encode_piece(&piece, &mut got);
        assert_eq!(got, naive_merge(&m, &piece));
        assert_eq!(m.count_piece(&piece), got.len());
    }

    #[test]
    fn unreachable_tokens_are_never_emitted() {
        // BPE of "abcd" stops at a, "bc", d: "abcd" (257) is in the vocabulary but never formed.
        let m = vocab(&[b"bc", b"abcd"]);
        let bt = Backtrack::build(m.vocab()).unwrap();
        assert_eq!(bt.left[257], NONE, "abcd is unreachable");
        for piece in [&b"abcd"[..], b"abcdabcd", b"xabcdx", b"aabcdbcabcd"] {
            check(&m, &bt, piece);
            let mut got = Vec::new();
            bt.encode(piece, &mut got);
            assert!(!got.contains(&257));
        }
        // A piece that *is* the token still maps to it through the model (tiktoken's lookup).
        let mut whole = Vec::new();
        m.encode_piece(b"abcd", &mut whole);
        assert_eq!(whole, [257]);
    }

    /// Deterministic pseudo-random text: `n` characters drawn from `alphabet`.
    fn random_text(alphabet: &[&str], n: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..n)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize].bytes()
            })
            .collect()
    }

    #[test]
    fn long_random_pieces_match_reference() {
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let base64: Vec<String> = ('A'..='Z')
            .chain('a'..='z')
            .chain('0'..='9')
            .chain(['+', '/'])
            .map(String::from)
            .collect();
        let mixed: Vec<String> = "aé漢字дҗعربيहिन्दीไทย😀 \u{200d}"
            .chars()
            .map(String::from)
            .collect();
        for name in ["cl100k_base", "o200k_base"] {
            let (m, bt) = (model(name), backtrack(name));
            for (k, alphabet) in [&letters, &base64, &mixed].into_iter().enumerate() {
                let refs: Vec<&str> = alphabet.iter().map(String::as_str).collect();
                check(m, bt, &random_text(&refs, 20_000, 7 + k as u64));
            }
            let mut state = 99u64;
            let raw: Vec<u8> = (0..20_000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            check(m, bt, &raw);
            check(m, bt, &b"ab".repeat(10_000));
            check(m, bt, &b"0".repeat(20_000));
        }
    }

    /// `cl100k_base` as a merge list (each reachable token's split, in rank order) with the ids
    /// reversed, so merge indices and ids disagree everywhere.
    fn merge_list_model() -> &'static BpeModel {
        static M: OnceLock<BpeModel> = OnceLock::new();
        M.get_or_init(|| {
            let (m, bt) = (model("cl100k_base"), backtrack("cl100k_base"));
            let n = m.n_ids() as Rank;
            let vocab = (0..n)
                .map(|id| (m.token_bytes(id).unwrap().to_vec(), n - 1 - id))
                .collect();
            let merges = (0..n as usize)
                .filter(|&id| bt.left[id] != NONE)
                .map(|id| {
                    let part = |t: Rank| m.token_bytes(t).unwrap().to_vec();
                    (part(bt.left[id]), part(bt.right[id]))
                })
                .collect();
            BpeModel::from_merges(vocab, merges, false).unwrap()
        })
    }

    fn merge_backtrack() -> &'static Backtrack {
        static B: OnceLock<Backtrack> = OnceLock::new();
        B.get_or_init(|| {
            let m = merge_list_model();
            Backtrack::build_merges(m.vocab(), |l, r| m.merge(l, r)).expect("precondition holds")
        })
    }

    /// A merge list over `a..=d`: each step joins two earlier tokens (by index), in this order,
    /// so a token may be created by several pairs and a merge may come before its parts' merges.
    fn grown_merges(joins: &[(usize, usize)]) -> BpeModel {
        let mut list: Vec<Vec<u8>> = (b'a'..=b'd').map(|c| vec![c]).collect();
        let mut merges = Vec::new();
        for &(i, j) in joins {
            let (l, r) = (list[i % list.len()].clone(), list[j % list.len()].clone());
            let t = [l.as_slice(), r.as_slice()].concat();
            if t.len() <= 10 {
                if !list.contains(&t) {
                    list.push(t);
                }
                merges.push((l, r));
            }
        }
        let mut toks: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        toks.extend(list.into_iter().skip(4));
        let vocab = toks.into_iter().zip(0..).collect();
        BpeModel::from_merges(vocab, merges, false).unwrap()
    }

    #[test]
    fn merge_list_matches_reference() {
        let (m, bt) = (merge_list_model(), merge_backtrack());
        assert!(!bt.prio.is_empty());
        for n in (1..300).chain([511, 512, 513, 4099]) {
            check(m, bt, &vec![b'a'; n]);
            check(m, bt, &vec![b' '; n]);
        }
        let mixed: Vec<String> = "aé漢字дҗعربيहिन्दीไทย😀 \u{200d}"
            .chars()
            .map(String::from)
            .collect();
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        check(m, bt, &random_text(&refs, 20_000, 3));
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let refs: Vec<&str> = letters.iter().map(String::as_str).collect();
        check(m, bt, &random_text(&refs, 20_000, 5));
        // Through the model: long pieces build the tables and take this encoder.
        let piece = "ab".repeat(5_000);
        let mut got = Vec::new();
        m.encode_piece(piece.as_bytes(), &mut got);
        let mut want = Vec::new();
        reference_merge(m, piece.as_bytes(), &mut want);
        assert_eq!(got, want);
        assert_eq!(m.count_piece(piece.as_bytes()), want.len());
    }

    #[test]
    fn merge_list_precondition_failure_checks_by_runs() {
        // "a bc" is listed before "b c": the run on "abc" merges b + c (index 1), then a + bc
        // (index 0), so a split's merge index is below its part's and (P) fails.
        let m = grown_merges(&[]);
        let bt = Backtrack::build_merges(m.vocab(), |l, r| m.merge(l, r)).unwrap();
        assert!(bt.unclean.is_empty());
        let toks: Vec<(Vec<u8>, Rank)> = (0..=255u8)
            .map(|b| vec![b])
            .chain([b"bc".to_vec(), b"abc".to_vec()])
            .zip(0..)
            .collect();
        let merges = vec![
            (b"a".to_vec(), b"bc".to_vec()),
            (b"b".to_vec(), b"c".to_vec()),
        ];
        let m = BpeModel::from_merges(toks, merges, false).unwrap();
        assert_eq!(naive_merge(&m, b"abc"), [257]);
        let bt = Backtrack::build_merges(m.vocab(), |l, r| m.merge(l, r)).unwrap();
        assert_eq!(
            (0..258).filter(|&id| bt.unclean[id]).collect::<Vec<_>>(),
            [257]
        );
        for piece in [&b"abcbcabcaabcbbcc"[..], b"abc", b"aabcc", b"bcabc", b"cab"] {
            check(&m, &bt, piece);
            check(&m, &bt, &piece.repeat(30));
        }
        let piece = b"abcbcabcaabcbbcc".repeat(30);
        let mut got = Vec::new();
        m.encode_piece(&piece, &mut got);
        assert_eq!(got, naive_merge(&m, &piece));
        assert_eq!(m.count_piece(&piece), got.len());
    }

    /// Grown merge lists that break (P), many of them: pieces through both pair checks.
    #[test]
    fn unclean_merge_lists_match_reference() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |k: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % k as u64) as usize
        };
        let mut tested = 0;
        for _ in 0..400 {
            let joins: Vec<(usize, usize)> =
                (0..8 + next(40)).map(|_| (next(64), next(64))).collect();
            let m = grown_merges(&joins);
            let bt = Backtrack::build_merges(m.vocab(), |l, r| m.merge(l, r)).unwrap();
            if bt.unclean.is_empty() {
                continue;
            }
            tested += 1;
            for _ in 0..6 {
                let piece: Vec<u8> = (0..1 + next(300)).map(|_| b'a' + next(4) as u8).collect();
                check(&m, &bt, &piece);
            }
            for c in b'a'..=b'd' {
                check(&m, &bt, &vec![c; 1 + next(600)]);
            }
        }
        assert!(tested >= 50, "only {tested} lists broke (P)");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn grown_vocabularies_match_reference(
            joins in prop::collection::vec((0usize..64, 0usize..64), 0..48),
            pieces in prop::collection::vec(prop::collection::vec(b'a'..=b'd', 1..120), 1..8),
        ) {
            let m = grown(&joins);
            if let Some(bt) = Backtrack::build(m.vocab()) {
                for piece in &pieces {
                    check(&m, &bt, piece);
                }
            }
        }

        #[test]
        fn grown_merge_lists_match_reference(
            joins in prop::collection::vec((0usize..64, 0usize..64), 0..48),
            pieces in prop::collection::vec(prop::collection::vec(b'a'..=b'd', 1..120), 1..8),
        ) {
            let m = grown_merges(&joins);
            if let Some(bt) = Backtrack::build_merges(m.vocab(), |l, r| m.merge(l, r)) {
                for piece in &pieces {
                    check(&m, &bt, piece);
                }
            }
        }

        #[test]
        fn merge_list_random_bytes_match_reference(b in prop::collection::vec(any::<u8>(), 1..300)) {
            check(merge_list_model(), merge_backtrack(), &b);
        }

        #[test]
        fn base64_matches_reference(s in "[A-Za-z0-9+/]{1,600}") {
            check(model("cl100k_base"), backtrack("cl100k_base"), s.as_bytes());
            check(model("o200k_base"), backtrack("o200k_base"), s.as_bytes());
        }

        #[test]
        fn small_alphabets_match_reference(s in "[ab]{1,400}|[a-c ]{1,400}|[0-9]{1,300}|[.!=-]{1,300}") {
            check(model("cl100k_base"), backtrack("cl100k_base"), s.as_bytes());
            check(model("o200k_base"), backtrack("o200k_base"), s.as_bytes());
        }

        #[test]
        fn random_bytes_match_reference(b in prop::collection::vec(any::<u8>(), 1..300)) {
            check(model("cl100k_base"), backtrack("cl100k_base"), &b);
            check(model("o200k_base"), backtrack("o200k_base"), &b);
        }

        #[test]
        fn mixed_scripts_match_reference(s in "[a-zA-Zà-öА-яא-ת一-龥ก-๛ऀ-ॿ😀-🙏 ]{1,200}") {
            check(model("cl100k_base"), backtrack("cl100k_base"), s.as_bytes());
            check(model("o200k_base"), backtrack("o200k_base"), s.as_bytes());
        }
    }
}
