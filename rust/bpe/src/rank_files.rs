// The rank files under `rust/bpe/data/`, with the sha256 of each decompressed file as tiktoken
// 0.14 publishes it (`tiktoken_ext/openai_public.py`). Read by the build script (`include!`),
// which refuses to embed a file whose hash differs, and by the library (`openai.rs`), which
// reports the hashes.

/// `(name, sha256 of the decompressed .tiktoken file)` of each bundled rank file.
pub const RANK_FILES: &[(&str, &str)] = &[
    (
        "cl100k_base",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    (
        "o200k_base",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    (
        "r50k_base",
        "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    ),
];
