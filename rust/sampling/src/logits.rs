//! The element types logits rows arrive in: `f32`, or bfloat16 as its 16-bit patterns (`u16`).
//!
//! Design notes: the pipeline computes on `f32` rows. An `f32` row is read in place; a
//! bfloat16 row is widened into the calling thread's scratch row when that row is processed, so
//! a batch is never copied whole: the extra memory is one row per thread, and the widened row is
//! still in cache when the kernels read it.
//!
//! A bfloat16 value is the upper 16 bits of the f32 with the same sign, exponent
//! and top 7 mantissa bits, so widening is exact and needs no rounding: `f32::from_bits(b <<
//! 16)` (NaN stays NaN, ±inf stays ±inf, subnormals stay subnormal). The bits arrive as `u16`
//! (what numpy's `uint16` view and torch's `int16` view hold).
//!
//! One plain loop, which the compiler vectorises for the baseline ISA (SSE2 on x86-64: the
//! shift is an interleave with zeros), is all there is: hand-written AVX2 (`vpmovzxwd` + shift,
//! 8 lanes) and AVX-512 (16 lanes) versions were measured against it on a 128,256-value row
//! (Intel Xeon with AVX-512, best of 200 rounds): 10.6 µs and 12.1 µs against 9.2 µs. The loop
//! writes 512 KB and reads 256 KB, so its time is the store bandwidth, whatever the width.

/// An element type of logits rows (implemented for `f32` and for bfloat16 bit patterns `u16`).
pub trait Logit: Copy + Send + Sync + private::Sealed {
    /// The row itself when its elements are already `f32`.
    fn as_f32(row: &[Self]) -> Option<&[f32]>;
    /// Write the row as `f32` into `buf` (which takes the row's length).
    fn to_f32(row: &[Self], buf: &mut Vec<f32>);
}

impl Logit for f32 {
    #[inline]
    fn as_f32(row: &[f32]) -> Option<&[f32]> {
        Some(row)
    }

    fn to_f32(row: &[f32], buf: &mut Vec<f32>) {
        buf.clear();
        buf.extend_from_slice(row);
    }
}

/// bfloat16 logits as their bit patterns (the upper half of the `f32` of the same value).
impl Logit for u16 {
    #[inline]
    fn as_f32(_: &[u16]) -> Option<&[f32]> {
        None
    }

    fn to_f32(row: &[u16], buf: &mut Vec<f32>) {
        if buf.len() != row.len() {
            // Only when the length changes: a decode loop's rows all have one length.
            buf.clear();
            buf.resize(row.len(), 0.0);
        }
        widen(row, buf);
    }
}

/// `row` as `f32`: the row itself, or its widened copy in `buf`.
#[inline]
pub(crate) fn row_f32<'a, T: Logit>(row: &'a [T], buf: &'a mut Vec<f32>) -> &'a [f32] {
    match T::as_f32(row) {
        Some(x) => x,
        None => {
            T::to_f32(row, buf);
            buf
        }
    }
}

/// Widen `bits` (bfloat16 bit patterns) into `out` (the same length).
fn widen(bits: &[u16], out: &mut [f32]) {
    debug_assert_eq!(bits.len(), out.len());
    for (o, &b) in out.iter_mut().zip(bits) {
        *o = f32::from_bits(u32::from(b) << 16);
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u16 {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of a bfloat16 pattern from its fields (sign, 8-bit exponent, 7-bit mantissa),
    /// in f64: the definition, not the bit trick.
    fn decode(b: u16) -> f64 {
        let sign = if b >> 15 == 1 { -1.0 } else { 1.0 };
        let e = i32::from((b >> 7) & 0xff);
        let m = f64::from(b & 0x7f);
        match e {
            0 => sign * m / 128.0 * 2f64.powi(-126),
            255 if m == 0.0 => sign * f64::INFINITY,
            255 => f64::NAN,
            _ => sign * (1.0 + m / 128.0) * 2f64.powi(e - 127),
        }
    }

    /// Every 16-bit pattern (NaNs, infinities, subnormals, both zeros) widens to its value, at
    /// every tail length the vectorised loop can leave.
    #[test]
    fn every_pattern_widens_to_its_value() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let mut out = vec![0.0f32; all.len()];
        widen(&all, &mut out);
        for (&b, &v) in all.iter().zip(&out) {
            let want = decode(b);
            if want.is_nan() {
                assert!(v.is_nan(), "{b:#06x}");
            } else {
                assert_eq!(f64::from(v), want, "{b:#06x}");
                assert_eq!(v.is_sign_negative(), b >> 15 == 1, "{b:#06x}");
            }
        }
        for n in 0..70 {
            let mut part = vec![0.0f32; n];
            widen(&all[1001..1001 + n], &mut part);
            assert!(part
                .iter()
                .zip(&out[1001..1001 + n])
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}
