//! Protobuf writing for SentencePiece `ModelProto` documents in tests: the `spm` unit tests and
//! the loader proptests (`fuzz_loaders.rs`) include this file with `#[path]`.

/// Append `v` as a base-128 varint.
pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Append field `num` as a length-delimited `body`.
pub fn bytes_field(num: u64, body: &[u8], out: &mut Vec<u8>) {
    varint(num << 3 | 2, out);
    varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// Append field `num` as the varint `v`.
#[allow(dead_code)] // the spm unit tests write varint fields by hand
pub fn varint_field(num: u64, v: u64, out: &mut Vec<u8>) {
    varint(num << 3, out);
    varint(v, out);
}
