//! Throwaway profiling driver: `cargo run --release --example profile -- <encoding> <file>`.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = &args[1];
    let text = std::fs::read_to_string(&args[2]).expect("read text");
    let data = std::fs::read(format!(
        "{}/../../python/tokenmill/data/{name}.tiktoken.gz",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("read vocab");
    let t = Instant::now();
    let enc = tokenmill_bpe::openai::bundled_encoding(name).expect("load");
    let _ = data;
    println!("load {:?}", t.elapsed());
    let docs: Vec<&str> = {
        let mut v = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let mut j = (i + 64_000).min(text.len());
            while !text.is_char_boundary(j) {
                j += 1;
            }
            v.push(&text[i..j]);
            i = j;
        }
        v
    };
    let mb = text.len() as f64 / 1e6;
    let pretok = tokenmill_bpe::openai::pretokenizer_for(
        tokenmill_bpe::openai::openai_spec(name).expect("spec").0,
    )
    .expect("pretok");
    for _ in 0..2 {
        let t = Instant::now();
        let mut n = 0usize;
        for d in &docs {
            pretok.split(d, &mut |_| n += 1).expect("split");
        }
        println!(
            "pretok {:.1} MB/s ({n} pieces)",
            mb / t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let mut n = 0usize;
        for d in &docs {
            n += enc.count_ordinary(d).expect("count");
        }
        println!(
            "count {:.1} MB/s ({n} tokens)",
            mb / t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let mut n = 0usize;
        for d in &docs {
            n += enc.encode_ordinary(d).expect("encode").len();
        }
        println!(
            "encode {:.1} MB/s ({n} tokens)",
            mb / t.elapsed().as_secs_f64()
        );
    }
}
