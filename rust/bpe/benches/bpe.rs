//! Criterion benches of the core (no Python): count and encode throughput (bytes/s) on English
//! prose and multilingual text, and the worst case (one long piece) at growing sizes.
//!
//! Corpora: set `TOKENMILL_BENCH_EN` / `TOKENMILL_BENCH_ML` to text files (e.g. the Rust books
//! shipped with rustup, HTML stripped; the translated strings of /usr/share/locale .mo files);
//! without them a small built-in sample is repeated. Run: `cargo bench -p tokenmill-bpe`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokenmill_bpe::registry::bundled_encoding;

const SAMPLE_EN: &str = "The borrow checker compares scopes to determine whether all borrows \
are valid. Functions can return values to the code that calls them; we don't name return \
values, but we must declare their type after an arrow (->). In Rust, the return value of the \
function is synonymous with the value of the final expression in the block of the body.\n\n";
const SAMPLE_ML: &str = "Impossible d'ouvrir le fichier « %s » : %s\nファイル %s を開けません\n\
无法打开文件 %s\nНе удалось открыть файл %s\nफ़ाइल %s खोली नहीं जा सकी\n\
ไม่สามารถเปิดแฟ้ม %s\nلا يمكن فتح الملف %s\nဖိုင် %s ကို ဖွင့်မရပါ\n";

fn corpus(var: &str, fallback: &str) -> String {
    std::env::var(var)
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| fallback.repeat(2000))
}

fn throughput(c: &mut Criterion) {
    let texts = [
        ("english", corpus("TOKENMILL_BENCH_EN", SAMPLE_EN)),
        ("multilingual", corpus("TOKENMILL_BENCH_ML", SAMPLE_ML)),
    ];
    for name in ["cl100k_base", "o200k_base"] {
        let enc = bundled_encoding(name).expect("bundled encoding");
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        for (label, text) in &texts {
            g.throughput(Throughput::Bytes(text.len() as u64));
            g.bench_with_input(BenchmarkId::new("count", label), text, |b, t| {
                b.iter(|| enc.count_ordinary(t));
            });
            g.bench_with_input(BenchmarkId::new("encode", label), text, |b, t| {
                b.iter(|| enc.encode_ordinary(t));
            });
        }
        g.finish();
    }
}

fn worst_case(c: &mut Criterion) {
    let enc = bundled_encoding("cl100k_base").expect("bundled encoding");
    let mut g = c.benchmark_group("worst_case_cl100k");
    g.sample_size(10);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for n in [10_000usize, 100_000, 1_000_000] {
        let run = "a".repeat(n);
        let b64: String = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(alphabet[(state % 64) as usize])
            })
            .collect();
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::new("a_run_count", n), &run, |b, t| {
            b.iter(|| enc.count_ordinary(t));
        });
        g.bench_with_input(BenchmarkId::new("base64_count", n), &b64, |b, t| {
            b.iter(|| enc.count_ordinary(t));
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, worst_case);
criterion_main!(benches);
