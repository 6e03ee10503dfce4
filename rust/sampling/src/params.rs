//! Per-row sampling parameters and their domains.
//!
//! Design notes: one plain struct per row, validated once per call (`validate`), so the kernels
//! below never see a value outside its domain. Errors name the parameter and the row.

use crate::error::SamplingError;

/// Settings for one row. `top_k = 0`, `top_p = 1` and `min_p = 0` mean "off"; `temperature = 0`
/// means greedy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowParams {
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
    /// Locally typical sampling's mass (Hugging Face's `typical_p`; 1 = off).
    pub typical_p: f64,
    pub repetition_penalty: f64,
    pub presence_penalty: f64,
    pub frequency_penalty: f64,
    pub seed: u64,
    pub step: u64,
}

impl Default for RowParams {
    fn default() -> Self {
        RowParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            typical_p: 1.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
            step: 0,
        }
    }
}

pub(crate) fn bad(
    name: &'static str,
    expected: &'static str,
    value: f64,
    row: usize,
) -> SamplingError {
    SamplingError::InvalidParameter {
        name,
        expected,
        value,
        row,
    }
}

/// Temperatures below this sample greedily (the argmax, ties to the lowest id), as `T = 0` does.
///
/// At such temperatures `1 / T` and the exp arguments leave the float range (a temperature of
/// 1e-310 gave NaN), while the distribution they describe is already the argmax for any two
/// logits that differ by more than `745 T` (where `exp` underflows in f64).
pub const MIN_TEMPERATURE: f64 = 1e-30;

impl RowParams {
    /// Whether this row samples greedily: `temperature < MIN_TEMPERATURE` (including 0).
    #[must_use]
    pub fn is_greedy(&self) -> bool {
        self.temperature < MIN_TEMPERATURE
    }

    /// Check every parameter's domain; errors name the parameter and the row.
    pub fn validate(&self, row: usize) -> Result<(), SamplingError> {
        let t = self.temperature;
        if !(t >= 0.0 && t.is_finite()) {
            return Err(bad("temperature", "finite and >= 0", t, row));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(bad("top_p", "in (0, 1]", self.top_p, row));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(bad("min_p", "in [0, 1]", self.min_p, row));
        }
        if !(self.typical_p > 0.0 && self.typical_p <= 1.0) {
            return Err(bad("typical_p", "in (0, 1]", self.typical_p, row));
        }
        let rp = self.repetition_penalty;
        if !(rp > 0.0 && rp.is_finite()) {
            return Err(bad("repetition_penalty", "finite and > 0", rp, row));
        }
        if !self.presence_penalty.is_finite() {
            return Err(bad(
                "presence_penalty",
                "finite",
                self.presence_penalty,
                row,
            ));
        }
        if !self.frequency_penalty.is_finite() {
            return Err(bad(
                "frequency_penalty",
                "finite",
                self.frequency_penalty,
                row,
            ));
        }
        Ok(())
    }
}
