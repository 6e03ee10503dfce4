//! Criterion benches of the kernels and the per-row pipeline on one `[1, 128256]` row (the
//! Llama-3 vocabulary), single thread. Throughput is reported in logits per second, so every
//! operation compares directly with `max_nan` (one read pass).
//!
//! Run: `cargo bench -p tokenmill-sampling --bench kernels`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tokenmill_sampling::simd::{available, ExpArgs};
use tokenmill_sampling::{sample_row, LogprobMode, RowOut, RowParams, RowProcessors, Scratch};

const VOCAB: usize = 128_256;

/// N(0, 1) * 3 logits from a fixed Philox stream (Box-Muller).
fn logits() -> Vec<f32> {
    (0..VOCAB)
        .map(|i| {
            let u1 = tokenmill_sampling::rng::uniform(1, i as u64, 0).max(1e-300);
            let u2 = tokenmill_sampling::rng::uniform(1, i as u64, 1);
            (3.0 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let x = logits();
    let mut g = c.benchmark_group("kernels");
    g.throughput(Throughput::Elements(VOCAB as u64));
    for k in available() {
        let (m, _) = (k.max_nan)(&x);
        let a = ExpArgs::new(m, 1.0 / 0.7);
        let mut out = vec![0.0f32; VOCAB];
        let mut idx = Vec::with_capacity(VOCAB);
        g.bench_function(format!("{}/max_nan", k.name), |b| {
            b.iter(|| (k.max_nan)(black_box(&x)))
        });
        g.bench_function(format!("{}/exp_sum", k.name), |b| {
            b.iter(|| k.exp_sum_row(black_box(&x), &a))
        });
        if let Some(fast) = k.exp_sum_fast {
            g.bench_function(format!("{}/exp_sum_fast", k.name), |b| {
                b.iter(|| fast(black_box(&x), &a))
            });
        }
        g.bench_function(format!("{}/block_max_256", k.name), |b| {
            b.iter(|| {
                idx.clear();
                let mut blocks = Vec::with_capacity(VOCAB / 256 + 1);
                (k.block_max)(black_box(&x), 256, &mut blocks);
                blocks
            })
        });
        g.bench_function(format!("{}/exp_write", k.name), |b| {
            b.iter(|| k.exp_write_row(black_box(&x), &a, &mut out))
        });
        g.bench_function(format!("{}/collect_ge", k.name), |b| {
            b.iter(|| {
                idx.clear();
                (k.collect_ge)(black_box(&x), m - 4.0, &mut idx);
            })
        });
    }
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let x = logits();
    let mut g = c.benchmark_group("sample_row");
    g.throughput(Throughput::Elements(VOCAB as u64));
    let cases = [
        ("plain", 0, 1.0, 0.0),
        ("top_k_50", 50, 1.0, 0.0),
        ("top_p_0.9", 0, 0.9, 0.0),
        ("min_p_0.05", 0, 1.0, 0.05),
        ("combined", 50, 0.9, 0.05),
    ];
    let mut s = Scratch::default();
    for (name, top_k, top_p, min_p) in cases {
        let p = RowParams {
            temperature: 0.7,
            top_k,
            top_p,
            min_p,
            seed: 7,
            ..RowParams::default()
        };
        g.bench_function(name, |b| {
            let mut t = [0i64];
            b.iter(|| {
                let out = RowOut {
                    tokens: &mut t,
                    logprobs: None,
                    top_ids: None,
                    top_logprobs: None,
                    mode: LogprobMode::Processed,
                };
                sample_row(0, black_box(&x), &p, &RowProcessors::default(), out, &mut s)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, pipeline);
criterion_main!(benches);
