//! A static Huffman code per part, for float byte planes.
//!
//! The sign/exponent plane of embeddings is ~20 distinct byte values with a
//! skewed histogram and no repeats worth a match: an order-0 code is all it
//! needs. zstd gets there too, but spends most of its time on the frame,
//! the match finder and its table description for a ~1.1 KB part; this
//! stores 0.368 of MiniLM's plane (zstd with a minimum match of 7: 0.385)
//! in ~3/4 of its encoding and decoding time (`compress::bench`).
//!
//! Layout (FORMAT.md, "Blob encoding"): `k:u8` (distinct symbols − 1), the
//! `k+1` symbols in increasing order, then for `k > 0` their code lengths
//! (1..=11) as 4-bit values, low nibble first, the byte lengths of streams
//! 0, 1 and 2 (LEB128), and streams 0 to 3. Stream `j` codes bytes
//! `j·q .. min((j+1)·q, n)` of the part, `q = ⌈n/4⌉`: four streams let a
//! decoder follow four codes at once. Codes are canonical (assigned in
//! order of length, then symbol, as in DEFLATE) and written most
//! significant bit first into a stream filled from the least significant
//! bit of each byte; a stream's last byte is padded with zero bits. A part
//! of one distinct symbol (`k = 0`) has nothing after the symbol.

const MAX_LEN: u32 = 11;

const STREAMS: usize = 4;
/// Codes up to this long decode with one table lookup.
const FAST_BITS: u32 = 8;

/// How to read a part's codes: a table of every `FAST_BITS`-bit window
/// (symbol | code length << 8; length 0: a longer code starts there), and
/// the canonical code by length for the longer ones.
struct Table {
    fast: [u16; 1 << FAST_BITS],
    /// Per length: first code, how many, where they start in `sorted`.
    first: [u32; MAX_LEN as usize + 1],
    count: [u32; MAX_LEN as usize + 1],
    offset: [u32; MAX_LEN as usize + 1],
    /// Symbols by code length, then value.
    sorted: [u8; 256],
}

impl Table {
    fn new(symbols: &[u8], lengths: &[u32]) -> Table {
        let mut t = Table {
            fast: [0; 1 << FAST_BITS],
            first: [0; MAX_LEN as usize + 1],
            count: [0; MAX_LEN as usize + 1],
            offset: [0; MAX_LEN as usize + 1],
            sorted: [0; 256],
        };
        for &l in lengths {
            t.count[l as usize] += 1;
        }
        let mut code = 0;
        for l in 1..=MAX_LEN as usize {
            t.offset[l] = t.offset[l - 1] + t.count[l - 1];
            code = (code + t.count[l - 1]) << 1;
            t.first[l] = code;
        }
        let mut fill = t.offset;
        for ((&s, &len), code) in symbols.iter().zip(lengths).zip(canonical_codes(lengths)) {
            t.sorted[fill[len as usize] as usize] = s;
            fill[len as usize] += 1;
            if len <= FAST_BITS {
                let low = (code.reverse_bits() >> (32 - len)) as usize;
                for slot in (low..1 << FAST_BITS).step_by(1 << len) {
                    t.fast[slot] = s as u16 | (len as u16) << 8;
                }
            }
        }
        t
    }

    /// `(symbol, length)` of the code at the bottom of `acc`.
    #[inline(always)]
    fn lookup(&self, acc: u64) -> (u8, u32) {
        let e = self.fast[(acc & ((1 << FAST_BITS) - 1)) as usize];
        if e >> 8 != 0 {
            return (e as u8, (e >> 8) as u32);
        }
        self.long(acc)
    }

    /// A code longer than `FAST_BITS`, read a bit at a time (as in
    /// DEFLATE's canonical decoding). The code is complete, so some
    /// length up to `MAX_LEN` matches.
    #[cold]
    fn long(&self, acc: u64) -> (u8, u32) {
        let mut code = 0u32;
        for len in 1..=MAX_LEN as usize {
            code = code << 1 | ((acc >> (len - 1)) & 1) as u32;
            let count = self.count[len];
            if count > 0 && code >= self.first[len] && code - self.first[len] < count {
                return (
                    self.sorted[(self.offset[len] + code - self.first[len]) as usize],
                    len as u32,
                );
            }
        }
        unreachable!("a complete prefix code decodes every {MAX_LEN}-bit window")
    }
}

/// Encode `data` (non-empty); `None` if it does not shrink.
pub fn encode(data: &[u8]) -> Option<Vec<u8>> {
    if data.is_empty() {
        return None;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let symbols: Vec<u8> = (0..=255u8).filter(|&s| counts[s as usize] > 0).collect();
    let mut out = Vec::with_capacity(data.len() / 2);
    out.push((symbols.len() - 1) as u8);
    out.extend_from_slice(&symbols);
    if symbols.len() == 1 {
        return (out.len() < data.len()).then_some(out);
    }
    let lengths = code_lengths(&symbols.iter().map(|&s| counts[s as usize]).collect::<Vec<_>>());
    for pair in lengths.chunks(2) {
        out.push(pair[0] as u8 | (pair.get(1).copied().unwrap_or(0) as u8) << 4);
    }
    // Per byte value: its code, bit-reversed for the LSB-first stream.
    let mut table = [(0u64, 0u32); 256];
    for ((&s, &len), code) in symbols.iter().zip(&lengths).zip(canonical_codes(&lengths)) {
        table[s as usize] = ((code.reverse_bits() >> (32 - len)) as u64, len);
    }
    let quarter = data.len().div_ceil(STREAMS);
    let mut streams: [Vec<u8>; STREAMS] = Default::default();
    for (stream, part) in streams.iter_mut().zip(data.chunks(quarter)) {
        stream.reserve(part.len() / 2);
        let (mut acc, mut bits) = (0u64, 0u32);
        for &b in part {
            let (code, len) = table[b as usize];
            acc |= code << bits;
            bits += len;
            if bits >= 32 {
                stream.extend_from_slice(&(acc as u32).to_le_bytes());
                acc >>= 32;
                bits -= 32;
            }
        }
        stream.extend_from_slice(&acc.to_le_bytes()[..bits.div_ceil(8) as usize]);
    }
    for stream in &streams[..STREAMS - 1] {
        leb128(stream.len(), &mut out);
    }
    streams.iter().for_each(|s| out.extend_from_slice(s));
    (out.len() < data.len()).then_some(out)
}

fn leb128(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Unsigned LEB128 in its shortest form, at most 5 bytes.
fn read_leb128(data: &[u8], pos: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    for shift in (0..35).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            // A last byte of 0 after others is a longer form of a shorter one.
            return (b != 0 || shift == 0).then_some(v);
        }
    }
    None
}

/// Codes in from the least significant bit, with room for four at a time.
#[derive(Default)]
struct Bits<'a> {
    stream: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl Bits<'_> {
    /// At least 56 bits in hand, or all that is left.
    #[inline(always)]
    fn refill(&mut self) {
        if self.pos + 8 <= self.stream.len() {
            // The partial byte loaded on top is the stream's own, so
            // loading it again later changes nothing.
            let w = u64::from_le_bytes(self.stream[self.pos..self.pos + 8].try_into().unwrap());
            self.acc |= w << self.bits;
            let whole = (63 - self.bits) >> 3;
            self.pos += whole as usize;
            self.bits += whole * 8;
        } else {
            while self.bits <= 56 && self.pos < self.stream.len() {
                self.acc |= (self.stream[self.pos] as u64) << self.bits;
                self.bits += 8;
                self.pos += 1;
            }
        }
    }
    /// The next symbol; `None` past the end of the stream.
    #[inline(always)]
    fn next(&mut self, table: &Table) -> Option<u8> {
        let (symbol, len) = table.lookup(self.acc);
        if len > self.bits {
            return None;
        }
        self.acc >>= len;
        self.bits -= len;
        Some(symbol)
    }
    /// Whether four codes can follow without a check: a refill left 56
    /// bits or more (the stream has 8 bytes beyond `pos`).
    #[inline(always)]
    fn has_eight_bytes(&self) -> bool {
        self.pos + 8 <= self.stream.len()
    }
    /// The next symbol, with at least its length in hand.
    #[inline(always)]
    fn next_in_hand(&mut self, table: &Table) -> u8 {
        let (symbol, len) = table.lookup(self.acc);
        self.acc >>= len;
        self.bits -= len;
        symbol
    }
    /// All of the stream, and nothing but zero padding after the last code.
    fn at_end(&self) -> bool {
        self.pos == self.stream.len() && self.bits < 8 && self.acc == 0
    }
}

/// Decode a part of exactly `n` bytes; `None` if it is not a valid encoding
/// of that many.
pub fn decode(stored: &[u8], n: usize) -> Option<Vec<u8>> {
    let (&k, rest) = stored.split_first()?;
    let count = k as usize + 1;
    let symbols = rest.get(..count)?;
    if symbols.windows(2).any(|w| w[0] >= w[1]) || n == 0 {
        return None;
    }
    if count == 1 {
        return (rest.len() == 1).then(|| vec![symbols[0]; n]);
    }
    let packed = rest.get(count..count + count.div_ceil(2))?;
    let lengths: Vec<u32> =
        (0..count).map(|i| (packed[i / 2] >> (4 * (i % 2)) & 0x0f) as u32).collect();
    if count % 2 == 1 && packed[count / 2] >> 4 != 0 {
        return None;
    }
    if lengths.iter().any(|&l| l == 0 || l > MAX_LEN)
        || lengths.iter().map(|&l| 1u32 << (MAX_LEN - l)).sum::<u32>() != 1 << MAX_LEN
    {
        return None; // not a complete prefix code
    }
    let table = Table::new(symbols, &lengths);
    let mut pos = count + packed.len();
    let mut sizes = [0usize; STREAMS];
    for size in &mut sizes[..STREAMS - 1] {
        *size = read_leb128(rest, &mut pos)?;
    }
    let mut streams: [Bits; STREAMS] = Default::default();
    for (j, (bits, &size)) in streams.iter_mut().zip(&sizes).enumerate() {
        let stream = if j == STREAMS - 1 {
            rest.get(pos..)?
        } else {
            rest.get(pos..pos.checked_add(size)?)?
        };
        pos += stream.len();
        bits.stream = stream;
    }
    let mut out = vec![0u8; n];
    let quarter = n.div_ceil(STREAMS);
    let used = n.div_ceil(quarter);
    if streams[used..].iter().any(|b| !b.stream.is_empty()) {
        return None; // a stream for bytes the part does not have
    }
    let mut i = 0;
    if used == STREAMS {
        // All four side by side, a code from each in turn, while each has
        // four more in hand (4 × 11 bits < the 56 a refill leaves); the
        // last quarter is the shortest.
        let (o0, rest) = out.split_at_mut(quarter);
        let (o1, rest) = rest.split_at_mut(quarter);
        let (o2, o3) = rest.split_at_mut(quarter);
        let [s0, s1, s2, s3] = &mut streams;
        let common = o3.len() / 4 * 4;
        while i < common
            && s0.has_eight_bytes()
            && s1.has_eight_bytes()
            && s2.has_eight_bytes()
            && s3.has_eight_bytes()
        {
            s0.refill();
            s1.refill();
            s2.refill();
            s3.refill();
            for k in i..i + 4 {
                o0[k] = s0.next_in_hand(&table);
                o1[k] = s1.next_in_hand(&table);
                o2[k] = s2.next_in_hand(&table);
                o3[k] = s3.next_in_hand(&table);
            }
            i += 4;
        }
    }
    for (bits, o) in streams.iter_mut().zip(out.chunks_mut(quarter)) {
        for slot in &mut o[i..] {
            bits.refill();
            *slot = bits.next(&table)?;
        }
    }
    streams.iter().all(Bits::at_end).then_some(out)
}

/// Huffman code lengths for `counts` (all > 0, at least two), at most
/// `MAX_LEN`: counts are halved until the code fits.
fn code_lengths(counts: &[u32]) -> Vec<u32> {
    let mut counts = counts.to_vec();
    loop {
        let lengths = unlimited_lengths(&counts);
        if lengths.iter().all(|&l| l <= MAX_LEN) {
            return lengths;
        }
        counts.iter_mut().for_each(|c| *c = (*c).div_ceil(2));
    }
}

fn unlimited_lengths(counts: &[u32]) -> Vec<u32> {
    // Nodes: leaves 0..n, then internal ones; merge the two lightest.
    let n = counts.len();
    let mut weight: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
    let mut parent = vec![usize::MAX; 2 * n - 1];
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> =
        (0..n).map(|i| std::cmp::Reverse((weight[i], i))).collect();
    while heap.len() > 1 {
        let std::cmp::Reverse((w1, a)) = heap.pop().unwrap();
        let std::cmp::Reverse((w2, b)) = heap.pop().unwrap();
        let node = weight.len();
        weight.push(w1 + w2);
        parent[a] = node;
        parent[b] = node;
        heap.push(std::cmp::Reverse((w1 + w2, node)));
    }
    (0..n)
        .map(|leaf| {
            let (mut depth, mut at) = (0, leaf);
            while parent[at] != usize::MAX {
                at = parent[at];
                depth += 1;
            }
            depth
        })
        .collect()
}

/// Canonical codes for `lengths` (symbols in order): shorter codes first,
/// ties in symbol order.
fn canonical_codes(lengths: &[u32]) -> Vec<u32> {
    let mut per_len = [0u32; MAX_LEN as usize + 2];
    for &l in lengths {
        per_len[l as usize] += 1;
    }
    let mut next = [0u32; MAX_LEN as usize + 2];
    let mut code = 0;
    for len in 1..=MAX_LEN as usize {
        code = (code + per_len[len - 1]) << 1;
        next[len] = code;
    }
    lengths
        .iter()
        .map(|&l| {
            let c = next[l as usize];
            next[l as usize] += 1;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) -> Option<usize> {
        let stored = encode(data)?;
        assert_eq!(decode(&stored, data.len()).as_deref(), Some(data), "{data:?}");
        Some(stored.len())
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn skewed_bytes_round_trip_and_shrink() {
        let mut rng = Rng(7);
        // Like an exponent plane: a few values, geometric frequencies.
        let data: Vec<u8> =
            (0..1152).map(|_| 0x3c + (rng.next() % 64).trailing_zeros() as u8).collect();
        let stored = round_trip(&data).expect("skewed bytes shrink");
        assert!(stored < data.len() / 2, "{stored} of {}", data.len());
    }

    #[test]
    fn one_distinct_byte_is_two_bytes() {
        assert_eq!(round_trip(&[9; 1000]), Some(2));
    }

    #[test]
    fn long_codes_are_limited_and_round_trip() {
        // Fibonacci-like counts force a deep tree without the limit.
        let mut data = Vec::new();
        let (mut a, mut b) = (1usize, 1usize);
        for s in 0..24u8 {
            data.extend(std::iter::repeat_n(s, a));
            (a, b) = (b, a + b);
        }
        let stored = encode(&data).unwrap();
        let k = stored[0] as usize + 1;
        let lengths = &stored[1 + k..1 + k + k.div_ceil(2)];
        assert!(lengths.iter().all(|b| b & 0x0f <= 11 && b >> 4 <= 11));
        round_trip(&data).unwrap();
    }

    #[test]
    fn codes_longer_than_the_fast_table_decode_at_every_length() {
        // Geometric frequencies over 60 values: several codes of each
        // length up to the limit, most longer than `FAST_BITS`.
        let mut rng = Rng(5);
        let data: Vec<u8> = (0..20_000)
            .map(|_| {
                let mut s = 0u8;
                while s < 59 && !rng.next().is_multiple_of(4) {
                    s += 1;
                }
                s
            })
            .collect();
        let stored = encode(&data).unwrap();
        let k = stored[0] as usize + 1;
        let nibbles = stored[1 + k..1 + k + k.div_ceil(2)].iter().flat_map(|b| [b & 15, b >> 4]);
        let lengths: Vec<u8> = nibbles.take(k).collect();
        assert!(lengths.iter().filter(|&&l| l as u32 > FAST_BITS).count() > 10, "{lengths:?}");
        round_trip(&data).unwrap();
    }

    #[test]
    fn the_table_finds_every_code_whatever_follows_it() {
        let mut rng = Rng(9);
        // A few frequent values (several codes of the shortest length) and
        // many rare ones (codes longer than the fast table), then random mixes.
        let shaped =
            (1..6u32).map(|big| (0..big + 60).map(|s| if s < big { 5000 } else { 1 }).collect());
        let random = (0..200).map(|_| {
            let k = 2 + (rng.next() % 200) as usize;
            (0..k).map(|_| 1 + (rng.next() % 1000).pow(3) as u32 / 1000).collect()
        });
        let mut rng = Rng(10);
        for counts in shaped.chain(random).collect::<Vec<Vec<u32>>>() {
            let k = counts.len();
            let lengths = code_lengths(&counts);
            let symbols: Vec<u8> = (0..k as u32).map(|s| s as u8).collect();
            let table = Table::new(&symbols, &lengths);
            for ((&s, &len), code) in symbols.iter().zip(&lengths).zip(canonical_codes(&lengths)) {
                let acc = (code.reverse_bits() >> (32 - len)) as u64 | rng.next() << len;
                assert_eq!(table.lookup(acc), (s, len), "{lengths:?}");
            }
        }
    }

    #[test]
    fn random_inputs_round_trip_or_are_declined() {
        let mut rng = Rng(3);
        for _ in 0..500 {
            let n = 1 + (rng.next() % 3000) as usize;
            let spread = 1 + (rng.next() % 256) as u32;
            let data: Vec<u8> = (0..n).map(|_| (rng.next() % spread as u64) as u8).collect();
            if let Some(len) = round_trip(&data) {
                assert!(len < n);
            }
        }
        // Uniform bytes never shrink.
        let noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
        assert_eq!(encode(&noise), None);
    }

    #[test]
    fn damaged_parts_are_refused_not_misread() {
        let mut rng = Rng(11);
        let data: Vec<u8> = (0..1152).map(|_| (rng.next() % 64).trailing_zeros() as u8).collect();
        let stored = encode(&data).unwrap();
        // Zero padding may hold a few short codes, never eight.
        assert_eq!(decode(&stored, data.len() + 8), None, "too few codes");
        assert_eq!(decode(&stored[..stored.len() - 1], data.len()), None, "truncated");
        let mut longer = stored.clone();
        longer.push(0);
        assert_eq!(decode(&longer, data.len()), None, "trailing byte");
        let mut bad_lengths = stored.clone();
        let k = stored[0] as usize + 1;
        bad_lengths[1 + k] = 0x11; // two 1-bit codes and more: not a prefix code
        assert_eq!(decode(&bad_lengths, data.len()), None);
        // Any damage decodes to something else or to nothing, never a panic.
        for i in 0..stored.len() {
            let mut d = stored.clone();
            d[i] ^= 1 << (rng.next() % 8);
            if let Some(out) = decode(&d, data.len()) {
                assert_eq!(out.len(), data.len());
            }
        }
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let _ = decode(&junk, 100);
        }
    }
}
