use thiserror::Error;

/// Everything that can be wrong with a sampling request. Each variant names the row or the
/// parameter, so the Python exception tells the caller exactly what to fix.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SamplingError {
    /// A parameter is outside its domain.
    #[error("{name} must be {expected}, got {value} (row {row})")]
    InvalidParameter {
        name: &'static str,
        expected: &'static str,
        value: f64,
        row: usize,
    },
}
