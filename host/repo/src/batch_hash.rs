//! BLAKE3 of many short messages at once, equal to `blake3::hash` of each.
//!
//! `blake3::hash` spreads one message's 1 KiB chunks over the SIMD lanes, so
//! a record of two chunks (a 384-d point is ~1.6 KB) is hashed almost
//! entirely one lane wide: per-record digests were ~30 % of backup and
//! restore CPU. Here the same chunk of many messages shares the lanes
//! (16 with AVX-512): every full block but each chunk's last goes through
//! `hash_many`; only the last block of a partial chunk and the few parent
//! nodes are compressed one at a time: ~6x faster on 1.6 KB records
//! (`bench` below).
//!
//! This uses `blake3::platform`, which blake3 exports for its benchmarks
//! and does not cover by semver; the workspace pins blake3 to one version,
//! and the tests compare against `blake3::hash` on every length up to five
//! chunks on every SIMD backend the machine has, so an upgrade that changed
//! it would fail them. Messages longer than four chunks, or alone, go to
//! `blake3::hash`, which spreads their chunks over the lanes itself.

use blake3::IncrementCounter;
use blake3::platform::Platform;

const BLOCK: usize = 64;
const CHUNK: usize = 1024;
const BLOCKS_PER_CHUNK: usize = CHUNK / BLOCK;

// Domain flags from the BLAKE3 specification, section 2.1.
const CHUNK_START: u8 = 1 << 0;
const CHUNK_END: u8 = 1 << 1;
const PARENT: u8 = 1 << 2;
const ROOT: u8 = 1 << 3;

const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];

type Cv = [u32; 8];

/// One chunk of one message, and how far `hash_many` takes it.
#[derive(Clone, Copy)]
struct Piece {
    /// Chunk index in its message (the BLAKE3 chunk counter).
    counter: u64,
    /// Full blocks `hash_many` compresses: all of a non-root full chunk
    /// (`BLOCKS_PER_CHUNK`), else all but the last block.
    blocks: usize,
    /// Index into the flat chaining-value table.
    slot: usize,
}

/// Longer messages fill the lanes by themselves (`blake3::hash` is faster).
const BATCH_MAX: usize = 4 * CHUNK;

/// Append the BLAKE3 hash of every input to `out`, in order.
pub fn hash_each(inputs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
    hash_each_on(Platform::detect(), inputs, out)
}

fn hash_each_on(platform: Platform, inputs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
    let batched = |m: &&[u8]| inputs.len() > 1 && m.len() <= BATCH_MAX;
    if inputs.iter().all(batched) {
        return batch(platform, inputs, out);
    }
    let short: Vec<&[u8]> = inputs.iter().copied().filter(batched).collect();
    let mut digests = Vec::with_capacity(short.len());
    batch(platform, &short, &mut digests);
    let mut digests = digests.into_iter();
    out.extend(inputs.iter().map(|m| match batched(m) {
        true => digests.next().expect("one digest per short message"),
        false => *blake3::hash(m).as_bytes(),
    }));
}

/// [`hash_each`] of messages hashed side by side.
fn batch(platform: Platform, inputs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
    // Each message's chunks occupy `first[m]..first[m + 1]` of `cvs`.
    let mut first = Vec::with_capacity(inputs.len() + 1);
    let mut total = 0;
    for m in inputs {
        first.push(total);
        total += m.len().div_ceil(CHUNK).max(1);
    }
    first.push(total);
    let mut cvs: Vec<Cv> = vec![IV; total];
    let chunk_of = |slot: usize, m: usize| {
        let j = slot - first[m];
        let bytes = inputs[m];
        &bytes[(j * CHUNK).min(bytes.len())..((j + 1) * CHUNK).min(bytes.len())]
    };

    // Group the chunks that `hash_many` can take together: same counter and
    // the same number of blocks.
    let mut pieces: Vec<(Piece, usize)> = Vec::with_capacity(total);
    for (m, bytes) in inputs.iter().enumerate() {
        let chunks = first[m + 1] - first[m];
        for j in 0..chunks {
            let len = (bytes.len() - j * CHUNK).min(CHUNK);
            let blocks = if len == CHUNK && chunks > 1 {
                BLOCKS_PER_CHUNK
            } else {
                len.div_ceil(BLOCK).max(1) - 1
            };
            pieces.push((Piece { counter: j as u64, blocks, slot: first[m] + j }, m));
        }
    }
    pieces.sort_unstable_by_key(|(p, _)| (p.counter, p.blocks));

    let mut digests = Vec::new();
    for group in pieces.chunk_by(|a, b| (a.0.counter, a.0.blocks) == (b.0.counter, b.0.blocks)) {
        let (Piece { counter, blocks, .. }, _) = group[0];
        if blocks == 0 {
            continue;
        }
        let end = if blocks == BLOCKS_PER_CHUNK { CHUNK_END } else { 0 };
        digests.clear();
        digests.resize(group.len() * 32, 0);
        let chunks = group.iter().map(|(p, m)| chunk_of(p.slot, *m));
        hash_many(platform, blocks, chunks, counter, end, &mut digests);
        for ((p, _), d) in group.iter().zip(digests.chunks_exact(32)) {
            cvs[p.slot] = words(d);
        }
    }

    // The last block of every chunk `hash_many` did not finish.
    for (p, m) in &pieces {
        if p.blocks == BLOCKS_PER_CHUNK {
            continue;
        }
        let chunk = chunk_of(p.slot, *m);
        let last = &chunk[p.blocks * BLOCK..];
        let mut block = [0u8; BLOCK];
        block[..last.len()].copy_from_slice(last);
        let mut flags = CHUNK_END;
        if p.blocks == 0 {
            flags |= CHUNK_START;
        }
        if first[m + 1] - first[*m] == 1 {
            flags |= ROOT;
        }
        platform.compress_in_place(&mut cvs[p.slot], &block, last.len() as u8, p.counter, flags);
    }

    out.reserve(inputs.len());
    for m in 0..inputs.len() {
        let root = subtree(platform, &cvs[first[m]..first[m + 1]], true);
        let mut hash = [0u8; 32];
        for (o, w) in hash.chunks_exact_mut(4).zip(root) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out.push(hash);
    }
}

/// `hash_many` over the first `blocks` full blocks of each chunk, for a
/// block count known only at run time (blake3 takes it as a const generic).
fn hash_many<'a>(
    platform: Platform,
    blocks: usize,
    chunks: impl Iterator<Item = &'a [u8]>,
    counter: u64,
    end: u8,
    out: &mut [u8],
) {
    macro_rules! with_len {
        ($($n:literal)*) => {
            match blocks {
                $($n => {
                    let inputs: Vec<&[u8; $n * BLOCK]> =
                        chunks.map(|c| c[..$n * BLOCK].try_into().unwrap()).collect();
                    platform.hash_many(&inputs, &IV, counter, IncrementCounter::No, 0, CHUNK_START, end, out)
                })*
                _ => unreachable!("a chunk has at most {BLOCKS_PER_CHUNK} blocks"),
            }
        };
    }
    with_len!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// The chaining value of a left-balanced subtree of chunk values (the root
/// flag set on the top node of a message with more than one chunk).
fn subtree(platform: Platform, cvs: &[Cv], root: bool) -> Cv {
    if cvs.len() == 1 {
        return cvs[0];
    }
    // The left subtree holds the largest power of two of chunks that leaves
    // at least one on the right.
    let left = 1usize << (usize::BITS - 1 - (cvs.len() - 1).leading_zeros());
    let (l, r) = (subtree(platform, &cvs[..left], false), subtree(platform, &cvs[left..], false));
    let mut block = [0u8; BLOCK];
    for (o, w) in block.chunks_exact_mut(4).zip(l.iter().chain(&r)) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    let mut cv = IV;
    platform.compress_in_place(
        &mut cv,
        &block,
        BLOCK as u8,
        0,
        PARENT | if root { ROOT } else { 0 },
    );
    cv
}

fn words(bytes: &[u8]) -> Cv {
    std::array::from_fn(|i| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(inputs: &[&[u8]]) -> Vec<[u8; 32]> {
        inputs.iter().map(|m| *blake3::hash(m).as_bytes()).collect()
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// Every SIMD backend this machine has (each has its own `hash_many`).
    fn platforms() -> Vec<Platform> {
        let mut all = vec![Platform::portable()];
        #[cfg(target_arch = "x86_64")]
        all.extend(
            [Platform::sse2(), Platform::sse41(), Platform::avx2(), Platform::avx512()]
                .into_iter()
                .flatten(),
        );
        all
    }

    #[test]
    fn equals_blake3_on_every_length_up_to_five_chunks_on_every_backend() {
        let all: Vec<Vec<u8>> = (0..=5 * CHUNK + 1).map(|n| bytes(n, n as u8)).collect();
        let inputs: Vec<&[u8]> = all.iter().map(|v| &v[..]).collect();
        for platform in platforms() {
            let mut got = Vec::new();
            hash_each_on(platform, &inputs, &mut got);
            assert_eq!(got, expected(&inputs), "{platform:?}");
            // Mixed lengths in another order, so groups hold several counters.
            let shuffled: Vec<&[u8]> = inputs.iter().rev().step_by(7).copied().collect();
            got.clear();
            hash_each_on(platform, &shuffled, &mut got);
            assert_eq!(got, expected(&shuffled), "{platform:?}");
        }
    }

    #[test]
    fn equals_blake3_alone_and_for_long_messages() {
        for n in [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3 * CHUNK, 17 * CHUNK + 5] {
            let m = bytes(n, 7);
            let mut got = Vec::new();
            hash_each(&[&m], &mut got);
            assert_eq!(got, expected(&[&m]), "length {n}");
            // Batched even when long (what `hash_each` leaves to blake3).
            let short = bytes(100, 1);
            got.clear();
            batch(Platform::detect(), &[&m, &short], &mut got);
            assert_eq!(got, expected(&[&m, &short]), "length {n} in a batch");
        }
    }

    #[test]
    fn equal_messages_in_one_batch_get_equal_hashes_in_input_order() {
        let (a, b) = (bytes(1600, 1), bytes(1600, 2));
        let inputs: Vec<&[u8]> = vec![&a, &b, &a, &b[..700], &a];
        let mut got = vec![[9u8; 32]];
        hash_each(&inputs, &mut got);
        assert_eq!(got[0], [9u8; 32], "appends, keeps what was there");
        assert_eq!(got[1..], expected(&inputs)[..]);
    }
}

/// `cargo test -p vdr-repo --release --lib bench_batched -- --ignored --nocapture`
/// (prints; not a timed test).
#[cfg(test)]
mod bench {
    #[test]
    #[ignore]
    fn bench_batched_against_one_at_a_time() {
        let data: Vec<u8> =
            (0..200_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let records: Vec<&[u8]> = data.chunks(1620).collect();
        let t = std::time::Instant::now();
        let one: Vec<[u8; 32]> = records.iter().map(|m| *blake3::hash(m).as_bytes()).collect();
        let alone = t.elapsed();
        let t = std::time::Instant::now();
        let mut batched = Vec::new();
        for batch in records.chunks(3000) {
            super::hash_each(batch, &mut batched);
        }
        let together = t.elapsed();
        assert_eq!(one, batched);
        println!(
            "BLAKE3 of {} records of 1620 B: one at a time {alone:.0?}, in batches of 3000 {together:.0?} ({:.1}x)",
            records.len(),
            alone.as_secs_f64() / together.as_secs_f64()
        );
    }
}
