//! tokenmill-sampling: softmax and sampling kernels over `f32` logits.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`SamplingError`] into Python
//! exceptions in one place.

mod error;

pub use error::SamplingError;

/// Name of the widest SIMD instruction set the running CPU supports and the kernels use.
///
/// Dispatch happens at run time (no global `target-cpu`), so one wheel runs everywhere and uses
/// AVX-512 or AVX2+FMA where present.
#[must_use]
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return "neon";
        }
    }
    "scalar"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_level_is_known() {
        assert!(["avx512", "avx2", "neon", "scalar"].contains(&simd_level()));
    }
}
