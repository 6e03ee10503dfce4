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
    /// A logit is NaN.
    #[error("logits row {row} contains NaN at token {token}")]
    NaN { row: usize, token: usize },
    /// A logit (after processors) is +inf. tokenmill's rule: +inf is rejected, not interpreted.
    #[error(
        "logits row {row} contains +inf at token {token} (after penalties and logit_bias); \
         +inf logits are rejected: use allowed_mask to force tokens"
    )]
    PosInf { row: usize, token: usize },
    /// Every logit of a row is -inf after masks and biases: nothing can be sampled.
    #[error("logits row {row} is entirely -inf after penalties, logit_bias and allowed_mask")]
    AllMasked { row: usize },
    /// A token id in a history, count or bias list is outside the vocabulary.
    #[error("{name}: token id {token} is outside the vocabulary [0, {vocab}) (row {row})")]
    TokenOutOfRange {
        name: &'static str,
        token: i64,
        vocab: usize,
        row: usize,
    },
    /// Array lengths that must agree do not.
    #[error("{name} has length {got}, expected {expected}")]
    Shape {
        name: &'static str,
        got: usize,
        expected: usize,
    },
    /// A request id that the sampler does not hold.
    #[error("unknown request id {id}")]
    UnknownRequest { id: u64 },
    /// A request id added while a request with that id is present.
    #[error("request id {id} is already present (remove it first)")]
    DuplicateRequest { id: u64 },
    /// A request id given for more than one row of one step.
    #[error("request id {id} appears twice in one step (again at row {row})")]
    RepeatedRequest { id: u64, row: usize },
    /// A draft token or draft distribution of a speculative-decoding batch is unusable.
    #[error("draft row {row}, position {position}: {what}")]
    Draft {
        row: usize,
        position: usize,
        what: String,
    },
}
