//! Python bindings for tokenmill-bpe: `_native.Encoding`, a frozen handle on a shared core
//! `Encoding`. Every call extracts its arguments, releases the GIL, calls the core and converts
//! errors in `errors.rs`. Batch calls run on the bounded pool (`pool::run`); single-text calls
//! run on the calling thread (`pool::here_for`), so they pay no hand-off and keep that thread's
//! piece cache warm from call to call, and release the GIL only for texts of at least
//! `pool::DETACH_BYTES` (below that, releasing costs more than the work). Special-token policy
//! arguments arrive resolved: `None` means "all", a list means those names (the tiktoken-style
//! argument handling lives in `python/tokenmill/tokenizer.py`).
//!
//! Lone surrogates: a Python str that is not valid Unicode cannot be UTF-8 encoded. As tiktoken
//! does, such text is re-encoded with each lone surrogate replaced by U+FFFD, then tokenized.

use std::borrow::Cow;
use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString};
use tokenmill_bpe::{Encoding as CoreEncoding, SpecialPolicy, SpecialSet, VocabError};

use crate::errors::{self, IntoPyResult};
use crate::{arrow, pool};

/// A tokenizer: BPE model, pre-tokenizer, special tokens.
#[pyclass(module = "tokenmill._native", name = "Encoding", frozen)]
pub struct PyEncoding {
    inner: Arc<CoreEncoding>,
    /// tiktoken's default policy (nothing allowed, everything disallowed), resolved once: most
    /// calls use it, and short texts should not pay for building it.
    default_policy: SpecialPolicy,
    /// The Python int of each token id, created on first use (see [`IdInts`]).
    ints: IdInts,
}

/// Python ints for token ids, each created once and shared by every list of ids an encoding
/// returns. Ints are immutable, so sharing one is invisible to callers (CPython itself shares
/// -5..=256); a list of ids then costs an incref per token instead of an allocation. Measured
/// before this, a warm `encode_ordinary` over the many-language bench corpus spent 22-35 ns per
/// token more than `count_ordinary`, most of it creating ints. The table (16 bytes per id of the
/// vocabulary) is allocated by the first call that returns ids; ids outside it (none, for the
/// encodings' own ids) are created per call.
struct IdInts {
    table: PyOnceLock<Box<[PyOnceLock<Py<PyInt>>]>>,
    n_ids: usize,
}

impl IdInts {
    fn new(n_ids: usize) -> Self {
        Self {
            table: PyOnceLock::new(),
            n_ids,
        }
    }

    /// A Python list of `ids`.
    fn list<'py>(&self, py: Python<'py>, ids: &[u32]) -> PyResult<Bound<'py, PyList>> {
        let table = self
            .table
            .get_or_init(py, || (0..self.n_ids).map(|_| PyOnceLock::new()).collect());
        let len = pyo3::ffi::Py_ssize_t::try_from(ids.len())
            .map_err(|_| PyValueError::new_err("too many token ids for one list"))?;
        // SAFETY: `PyList_New` returns a new reference or NULL with an exception set.
        let list = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(len))? }
            .cast_into::<PyList>()?;
        for (i, &id) in ids.iter().enumerate() {
            let int = match table.get(id as usize) {
                Some(cell) => {
                    let ptr = cell
                        .get_or_init(py, || PyInt::new(py, id).unbind())
                        .as_ptr();
                    // SAFETY: the GIL is held and the table keeps the int alive. This is the
                    // increment CPython's own limited-API (3.11) headers inline for `Py_INCREF`,
                    // which every later GIL build accepts (PEP 683 leaves immortal objects
                    // immortal under it); pyo3 calls `_Py_IncRef` instead, a function call per
                    // token.
                    unsafe { (*ptr).ob_refcnt += 1 };
                    ptr
                }
                None => PyInt::new(py, id).into_ptr(),
            };
            // SAFETY: `i < len` and slot `i` of the fresh list is empty; `PyList_SetItem` takes
            // the reference made above (and cannot fail for an in-range index of a list).
            unsafe { pyo3::ffi::PyList_SetItem(list.as_ptr(), i as pyo3::ffi::Py_ssize_t, int) };
        }
        Ok(list)
    }
}

/// A Python str's UTF-8 text for the duration of one call.
///
/// ASCII text is read in place (CPython stores it as UTF-8 already). Other text is encoded into
/// a temporary `bytes` object that is freed when the call returns: asking CPython for the str's
/// UTF-8 form in place (`PyUnicode_AsUTF8AndSize`) would cache a UTF-8 copy inside the str
/// object for the rest of its life, so a batch call over a gigabyte of non-ASCII text would
/// leave the caller's strings a gigabyte larger. Lone surrogates become U+FFFD (tiktoken's
/// behaviour).
enum Text<'a, 'py> {
    Ascii(&'a str),
    Utf8(Bound<'py, PyBytes>),
    Replaced(String),
}

impl Text<'_, '_> {
    fn as_str(&self) -> PyResult<&str> {
        match self {
            Text::Ascii(t) => Ok(t),
            // SAFETY: `b` is what CPython's strict UTF-8 encoder returned for a str (`text_of`;
            // strings with lone surrogates take the `Replaced` path), and that encoder writes
            // only well-formed UTF-8. Validating it again cost about 2.5% of a first pass over
            // non-ASCII text (perf, o200k_base, the many-language bench corpus).
            Text::Utf8(b) => Ok(unsafe { std::str::from_utf8_unchecked(b.as_bytes()) }),
            Text::Replaced(t) => Ok(t),
        }
    }
}

fn text_of<'a, 'py>(s: &'a Bound<'py, PyString>) -> PyResult<Text<'a, 'py>> {
    let py = s.py();
    if s.call_method0(intern!(py, "isascii"))?.is_truthy()? {
        return Ok(Text::Ascii(s.to_str()?));
    }
    match s.encode_utf8() {
        Ok(b) => Ok(Text::Utf8(b)),
        Err(_) => {
            let fixed = s
                .call_method1("encode", ("utf-16", "surrogatepass"))?
                .call_method1("decode", ("utf-16", "replace"))?;
            Ok(Text::Replaced(fixed.extract::<String>()?))
        }
    }
}

fn texts_of<'a, 'py>(list: &'a [Bound<'py, PyString>]) -> PyResult<Vec<Text<'a, 'py>>> {
    list.iter().map(text_of).collect()
}

fn strs_of<'a>(texts: &'a [Text<'_, '_>]) -> PyResult<Vec<&'a str>> {
    texts.iter().map(Text::as_str).collect()
}

fn read_file(path: &str) -> PyResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| PyOSError::new_err(format!("{path}: {e}")))
}

fn batch_err((index, e): (usize, VocabError)) -> PyErr {
    errors::vocab_error_at(&format!("texts[{index}]"), &e)
}

impl PyEncoding {
    /// The shared core encoding (for the streaming bindings).
    pub(crate) fn core(&self) -> Arc<CoreEncoding> {
        Arc::clone(&self.inner)
    }

    fn wrap(enc: CoreEncoding) -> Self {
        let default_policy = enc.policy(SpecialSet::Names(&[]), SpecialSet::All);
        let ints = IdInts::new(enc.n_vocab());
        Self {
            inner: Arc::new(enc),
            default_policy,
            ints,
        }
    }

    fn policy(
        &self,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> Cow<'_, SpecialPolicy> {
        if disallowed.is_none() && allowed.as_ref().is_some_and(Vec::is_empty) {
            return Cow::Borrowed(&self.default_policy);
        }
        fn set(v: &Option<Vec<String>>) -> SpecialSet<'_> {
            match v {
                None => SpecialSet::All,
                Some(names) => SpecialSet::Names(names.as_slice()),
            }
        }
        // Only the sets' contents are borrowed; the policy owns its flags.
        Cow::Owned(self.inner.policy(set(&allowed), set(&disallowed)))
    }
}

#[pymethods]
impl PyEncoding {
    /// Load a `.tiktoken` rank file (plain or gzip) with a split pattern and special tokens.
    #[staticmethod]
    #[pyo3(signature = (path, pattern, special_tokens, name))]
    fn from_tiktoken(
        py: Python<'_>,
        path: &str,
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
        name: &str,
    ) -> PyResult<Self> {
        let data = read_file(path)?;
        let enc = pool::here(py, || {
            tokenmill_bpe::registry::from_tiktoken(name, &data, pattern, special_tokens)
        })?
        .map_err(|e| errors::vocab_error_at(path, &e))?;
        Ok(Self::wrap(enc))
    }

    /// Load a Hugging Face `tokenizer.json` through the table cache (`TOKENMILL_CACHE_DIR`).
    /// Returns the encoding, the ids its post-processor adds before and after one sequence, and
    /// what the cache did (`"hit"`, `"stored"`, `"replaced"`, `"not-stored"`, `"off"`,
    /// `"not-covered"`).
    #[staticmethod]
    #[allow(clippy::type_complexity)]
    fn from_tokenizer_json(
        py: Python<'_>,
        path: &str,
        name: &str,
    ) -> PyResult<(Self, Vec<u32>, Vec<u32>, &'static str)> {
        let data = read_file(path)?;
        let dir = tokenmill_bpe::hf::table_cache::default_dir();
        let loaded = pool::here(py, || {
            tokenmill_bpe::hf::table_cache::load(name, &data, dir.as_deref())
        })?
        .map_err(|e| errors::vocab_error_at(path, &e))?;
        let t = loaded.template;
        Ok((
            Self::wrap(loaded.encoding),
            t.prefix,
            t.suffix,
            loaded.status.as_str(),
        ))
    }

    /// The table cache's directory (`None`: caching is off).
    #[staticmethod]
    fn table_cache_dir() -> Option<std::path::PathBuf> {
        tokenmill_bpe::hf::table_cache::default_dir()
    }

    /// Load a tokenizer file recognised by its content: a Hugging Face `tokenizer.json`
    /// (byte-level or SentencePiece-style), a Mistral `tekken.json` or a SentencePiece `.model`.
    /// Returns the encoding and the format's name.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: &str, name: &str) -> PyResult<(Self, &'static str)> {
        let data = read_file(path)?;
        let (format, enc) =
            pool::here(py, || tokenmill_bpe::load::encoding_from_bytes(name, &data))?
                .map_err(|e| errors::vocab_error_at(path, &e))?;
        let format = match format {
            tokenmill_bpe::load::Format::TokenizerJson => "tokenizer.json",
            tokenmill_bpe::load::Format::Tekken => "tekken.json",
            tokenmill_bpe::load::Format::SentencePiece => "sentencepiece",
        };
        Ok((Self::wrap(enc), format))
    }

    /// A bundled OpenAI encoding (`cl100k_base`, `o200k_base`, `o200k_harmony`), from the
    /// vocabulary embedded at build time.
    #[staticmethod]
    fn openai(py: Python<'_>, name: &str) -> PyResult<Self> {
        let enc = pool::here(py, || tokenmill_bpe::registry::bundled_encoding(name))?.into_py()?;
        Ok(Self::wrap(enc))
    }

    /// The split pattern tiktoken uses for a bundled encoding.
    #[staticmethod]
    fn openai_pattern(name: &str) -> Option<&'static str> {
        tokenmill_bpe::registry::spec(name).map(|e| e.pattern)
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn n_vocab(&self) -> usize {
        self.inner.n_vocab()
    }

    #[getter]
    fn special_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (s, id) in self.inner.special_tokens() {
            d.set_item(s, id)?;
        }
        Ok(d)
    }

    fn encode_ordinary<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'_, PyString>,
    ) -> PyResult<Bound<'py, PyList>> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let enc = &self.inner;
        let ids = pool::text_work(py, t.len(), |stop| {
            enc.encode_ordinary_interruptible(t, stop)
        })?
        .into_py()?;
        self.ints.list(py, &ids)
    }

    #[pyo3(signature = (text, allowed, disallowed))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'_, PyString>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        let ids = pool::text_work(py, t.len(), |stop| {
            enc.encode_interruptible(t, &policy, stop)
        })?
        .into_py()?;
        self.ints.list(py, &ids)
    }

    /// The stable tokens of `text` and the completions of its unstable tail (tiktoken's
    /// `encode_with_unstable`; completions sorted).
    #[pyo3(signature = (text, allowed, disallowed))]
    fn encode_with_unstable(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<(Vec<u32>, Vec<Vec<u32>>)> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        // On the calling thread with the GIL released: the search takes from microseconds to
        // about a second (a long whitespace tail) on short texts, and waking a pool thread on a
        // busy machine can cost milliseconds.
        pool::here(py, || enc.encode_with_unstable(t, &policy))?.into_py()
    }

    #[pyo3(signature = (texts, allowed, disallowed))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ts = texts_of(&texts)?;
        let ts = strs_of(&ts)?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        let out = pool::run_interruptible(py, |stop| {
            enc.encode_batch_interruptible(&ts, &policy, stop)
        })?
        .map_err(batch_err)?;
        PyList::new(
            py,
            out.iter()
                .map(|ids| self.ints.list(py, ids))
                .collect::<PyResult<Vec<_>>>()?,
        )
    }

    #[pyo3(signature = (text, allowed, disallowed))]
    fn count(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<usize> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        pool::text_work(py, t.len(), |stop| {
            enc.count_interruptible(t, &policy, stop)
        })?
        .into_py()
    }

    fn count_ordinary(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let enc = &self.inner;
        pool::text_work(py, t.len(), |stop| {
            enc.count_ordinary_interruptible(t, stop)
        })?
        .into_py()
    }

    #[pyo3(signature = (texts, allowed, disallowed))]
    fn count_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let ts = texts_of(&texts)?;
        let ts = strs_of(&ts)?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        let counts =
            pool::run_interruptible(py, |stop| enc.count_batch_interruptible(&ts, &policy, stop))?
                .map_err(batch_err)?;
        Ok(counts
            .into_iter()
            .map(|c| c as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py))
    }

    /// `count_batch` over an Arrow string array (`__arrow_c_array__`), read in place.
    #[pyo3(signature = (array, allowed, disallowed))]
    fn count_arrow<'py>(
        &self,
        py: Python<'py>,
        array: &Bound<'py, PyAny>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let exported = arrow::export(array)?.ok_or_else(|| {
            PyTypeError::new_err("count_arrow: the object does not implement __arrow_c_array__")
        })?;
        let rows = exported.rows()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        let counts = pool::run_interruptible(py, |stop| {
            enc.count_batch_interruptible(&rows, &policy, stop)
        })?
        .map_err(batch_err)?;
        Ok(counts
            .into_iter()
            .map(|c| c as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py))
    }

    #[pyo3(signature = (text, limit, allowed, disallowed))]
    fn count_till_limit(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        limit: i64,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Option<usize>> {
        let limit = usize::try_from(limit).map_err(|_| {
            PyValueError::new_err(format!("count_till_limit: limit must be >= 0, got {limit}"))
        })?;
        let t = text_of(text)?;
        let t = t.as_str()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        pool::text_work(py, t.len(), |stop| {
            enc.count_till_limit_interruptible(t, limit, &policy, stop)
        })?
        .into_py()
    }

    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        tokens: Vec<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let enc = &self.inner;
        let bytes = pool::here(py, || enc.decode_bytes(&tokens))?.into_py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The bytes of one token; `KeyError` (tiktoken's exception) outside the vocabulary.
    fn decode_single_token_bytes<'py>(
        &self,
        py: Python<'py>,
        token: i64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = u32::try_from(token)
            .ok()
            .and_then(|id| self.inner.token_bytes(id))
            .ok_or_else(|| errors::unknown_token(token))?;
        Ok(PyBytes::new(py, bytes))
    }

    /// The bytes of each token sequence, decoded in parallel.
    fn decode_bytes_batch<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<Vec<i64>>,
    ) -> PyResult<Bound<'py, PyList>> {
        use rayon::prelude::*;
        let enc = &self.inner;
        let out = pool::run(py, || {
            batch
                .par_iter()
                .enumerate()
                .map(|(i, ids)| enc.decode_bytes(ids).map_err(|e| (i, e)))
                .collect::<Result<Vec<_>, _>>()
        })?
        .map_err(|(i, e)| errors::vocab_error_at(&format!("batch[{i}]"), &e))?;
        PyList::new(py, out.iter().map(|b| PyBytes::new(py, b)))
    }

    /// The id of the token whose bytes are exactly `piece` (regular or special); `KeyError`
    /// otherwise, as tiktoken.
    fn encode_single_token(&self, piece: &[u8]) -> PyResult<u32> {
        if let Some(id) = self.inner.regular_token_id(piece) {
            return Ok(id);
        }
        self.inner
            .special_tokens()
            .iter()
            .find(|(s, _)| s.as_bytes() == piece)
            .map(|&(_, id)| id)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(piece.to_vec()))
    }

    /// The bytes of every regular token (special ids left out, even when a regular token holds
    /// the same bytes), sorted bytewise (tiktoken's order).
    fn token_byte_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let enc = &self.inner;
        let specials: std::collections::HashSet<u32> =
            enc.special_tokens().iter().map(|&(_, id)| id).collect();
        let mut all: Vec<&[u8]> = (0..enc.n_regular_ids())
            .filter_map(|id| u32::try_from(id).ok())
            .filter(|id| !specials.contains(id))
            .filter_map(|id| enc.regular_token_bytes(id))
            .collect();
        all.sort_unstable();
        PyList::new(py, all.into_iter().map(|b| PyBytes::new(py, b)))
    }

    /// `encode` into a uint32 numpy array (no Python int per token).
    #[pyo3(signature = (text, allowed, disallowed))]
    fn encode_to_numpy<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'_, PyString>,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let t = text_of(text)?;
        let t = t.as_str()?;
        let policy = self.policy(allowed, disallowed);
        let enc = &self.inner;
        let ids = pool::text_work(py, t.len(), |stop| {
            enc.encode_interruptible(t, &policy, stop)
        })?
        .into_py()?;
        Ok(ids.into_pyarray(py))
    }

    /// Build an encoding from `.tiktoken`-format bytes held in memory (tiktoken's
    /// `Encoding(mergeable_ranks=...)` constructor serialises its dict to this).
    #[staticmethod]
    #[pyo3(signature = (data, pattern, special_tokens, name))]
    fn from_tiktoken_bytes(
        py: Python<'_>,
        data: &[u8],
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
        name: &str,
    ) -> PyResult<Self> {
        let enc = pool::here(py, || {
            tokenmill_bpe::registry::from_tiktoken(name, data, pattern, special_tokens)
        })?
        .map_err(|e| errors::vocab_error_at("mergeable_ranks", &e))?;
        Ok(Self::wrap(enc))
    }

    /// The ids a `tokenizer.json`'s post-processor adds around one sequence (prefix, suffix).
    #[staticmethod]
    fn hf_post_template(py: Python<'_>, path: &str) -> PyResult<(Vec<u32>, Vec<u32>)> {
        let data = read_file(path)?;
        let t = pool::here(py, || tokenmill_bpe::hf::post::from_json(&data))?
            .map_err(|e| errors::vocab_error_at(path, &e))?;
        Ok((t.prefix, t.suffix))
    }

    /// The BOS and EOS ids of a SentencePiece `.model` (`None` when not a control piece).
    #[staticmethod]
    fn sentencepiece_bos_eos(py: Python<'_>, path: &str) -> PyResult<(Option<u32>, Option<u32>)> {
        let data = read_file(path)?;
        pool::here(py, || tokenmill_bpe::spm::bos_eos(&data))?
            .map_err(|e| errors::vocab_error_at(path, &e))
    }

    /// `decode_bytes` without the special tokens (Hugging Face's `skip_special_tokens=True`).
    fn decode_bytes_skipping_special<'py>(
        &self,
        py: Python<'py>,
        tokens: Vec<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let enc = &self.inner;
        let kept: Vec<i64> = tokens
            .into_iter()
            .filter(|&t| !u32::try_from(t).is_ok_and(|id| enc.is_special_id(id)))
            .collect();
        let bytes = pool::here(py, || enc.decode_bytes(&kept))?.into_py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Hugging Face's token string: the added token's content, else the token's bytes in
    /// GPT-2's byte-level alphabet (`Ġhello`). `None` outside the vocabulary.
    fn id_to_token(&self, token: i64) -> Option<String> {
        let id = u32::try_from(token).ok()?;
        if let Some((s, _)) = self.inner.special_tokens().iter().find(|(_, i)| *i == id) {
            return Some(s.clone());
        }
        if let Some(piece) = self.inner.piece(id) {
            return Some(piece.to_owned());
        }
        let table = tokenmill_bpe::hf::bytelevel::byte_to_char();
        let bytes = self.inner.regular_token_bytes(id)?;
        Some(bytes.iter().map(|&b| table[usize::from(b)]).collect())
    }

    /// The id of a Hugging Face token string (added token content, or byte-level alphabet).
    fn token_to_id(&self, token: &str) -> Option<u32> {
        if let Some(&(_, id)) = self.inner.special_tokens().iter().find(|(s, _)| s == token) {
            return Some(id);
        }
        if let Some(id) = self.inner.piece_id(token) {
            return Some(id);
        }
        let bytes: Option<Vec<u8>> = token
            .chars()
            .map(tokenmill_bpe::hf::bytelevel::char_to_byte)
            .collect();
        self.inner.regular_token_id(&bytes?)
    }

    /// Whether `token` is a special token in Hugging Face's sense (dropped by
    /// `skip_special_tokens`).
    fn is_hf_special(&self, token: i64) -> bool {
        u32::try_from(token).is_ok_and(|id| self.inner.is_special_id(id))
    }

    fn __repr__(&self) -> String {
        format!("<Encoding {:?}>", self.inner.name())
    }
}

/// Turn the per-thread piece cache on or off process-wide (results never change; benches turn
/// it off to measure text the cache has not seen).
#[pyfunction]
fn set_piece_cache(enabled: bool) {
    tokenmill_bpe::cache::set_enabled(enabled);
}

/// Empty the per-thread piece caches of every thread (results never change; benches call it to
/// time a first pass over text repeatedly).
#[pyfunction]
fn clear_piece_cache() {
    tokenmill_bpe::cache::clear();
}

/// Names of the bundled OpenAI encodings.
#[pyfunction]
fn openai_encodings() -> Vec<&'static str> {
    tokenmill_bpe::registry::ENCODINGS
        .iter()
        .map(|e| e.name)
        .collect()
}

/// The bundled rank files: name -> sha256 of the `.tiktoken` file as tiktoken publishes it.
#[pyfunction]
fn openai_rank_files() -> Vec<(&'static str, &'static str)> {
    tokenmill_bpe::registry::rank_files()
}

/// The `.tiktoken` text of a bundled rank file (`cl100k_base`, `o200k_base`), regenerated from
/// the copy embedded in the extension (byte-identical to the published file).
#[pyfunction]
fn openai_rank_file<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
    let text = pool::here(py, || tokenmill_bpe::registry::rank_file(name))?.into_py()?;
    Ok(PyBytes::new(py, &text))
}

/// Add this module's classes and functions to `tokenmill._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEncoding>()?;
    m.add_function(wrap_pyfunction!(set_piece_cache, m)?)?;
    m.add_function(wrap_pyfunction!(clear_piece_cache, m)?)?;
    m.add_function(wrap_pyfunction!(openai_encodings, m)?)?;
    m.add_function(wrap_pyfunction!(openai_rank_files, m)?)?;
    m.add_function(wrap_pyfunction!(openai_rank_file, m)?)?;
    Ok(())
}
