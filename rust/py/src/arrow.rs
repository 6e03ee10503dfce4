//! Zero-copy string arrays through the Arrow C data interface (the `__arrow_c_array__` PyCapsule
//! protocol), so `count_batch` can take a pyarrow (or polars, nanoarrow, DuckDB …) string column
//! without building a Python `str` per row and without importing pyarrow.
//!
//! # Design notes
//! The producer hands us two capsules, `arrow_schema` and `arrow_array`, pointing at the C structs
//! of the Arrow spec. We only *read* them: the capsules keep ownership and release the array when
//! they are garbage-collected, and the caller keeps them alive for as long as the borrowed `&str`
//! rows are used. Supported formats: `u` (utf8, 32-bit offsets) and `U` (large utf8, 64-bit
//! offsets); the array's `offset` is honoured. Everything read from the producer is checked
//! before use: the format, the buffer count, offsets that start in range and never decrease,
//! valid UTF-8 per row, and nulls (a null row is an error naming the row, never a silent 0).
//! The data buffer's size is not part of the C interface: it is the last offset, as in every
//! Arrow implementation.

use std::ffi::{c_char, c_void, CStr};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyTuple};

/// `struct ArrowSchema` from the Arrow C data interface.
#[repr(C)]
struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` from the Arrow C data interface.
#[repr(C)]
struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// The capsules of one exported array; the rows borrowed from it live as long as this.
pub struct Exported<'py> {
    _schema: Bound<'py, PyCapsule>,
    array: Bound<'py, PyCapsule>,
    large: bool,
}

/// Export `obj` through `__arrow_c_array__`, or `None` when it does not speak the protocol.
pub fn export<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Exported<'py>>> {
    if !obj.hasattr("__arrow_c_array__")? {
        return Ok(None);
    }
    let pair = obj.call_method0("__arrow_c_array__")?;
    let pair = pair.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err("__arrow_c_array__ must return a (schema, array) tuple")
    })?;
    if pair.len() != 2 {
        return Err(PyTypeError::new_err(
            "__arrow_c_array__ must return a (schema, array) tuple",
        ));
    }
    let capsule = |i: usize| -> PyResult<Bound<'py, PyCapsule>> {
        pair.get_item(i)?
            .cast_into::<PyCapsule>()
            .map_err(|_| PyTypeError::new_err("__arrow_c_array__ must return two PyCapsules"))
    };
    let schema = capsule(0)?;
    let array = capsule(1)?;
    let sp = schema.pointer_checked(Some(c"arrow_schema"))?;
    array.pointer_checked(Some(c"arrow_array"))?;
    // SAFETY: a capsule named "arrow_schema" holds a valid `ArrowSchema` (the protocol's
    // contract); we read it while holding the capsule, with the GIL.
    let s = unsafe { &*sp.as_ptr().cast::<ArrowSchema>() };
    if s.release.is_none() || s.format.is_null() {
        return Err(PyValueError::new_err(
            "the Arrow schema was already released",
        ));
    }
    // SAFETY: the spec makes `format` a NUL-terminated string.
    let format = unsafe { CStr::from_ptr(s.format) }.to_string_lossy();
    let large = match format.as_ref() {
        "u" => false,
        "U" => true,
        other => {
            return Err(PyTypeError::new_err(format!(
                "count_batch: an Arrow array of strings is needed (format 'u' or 'U'), got \
                 format {other:?}; cast it with .cast(pyarrow.large_string()) first"
            )))
        }
    };
    Ok(Some(Exported {
        _schema: schema,
        array,
        large,
    }))
}

impl Exported<'_> {
    /// The rows as string slices borrowing the Arrow buffers.
    ///
    /// # Errors
    /// A malformed array, a null row or a row that is not UTF-8, each naming the row.
    pub fn rows(&self) -> PyResult<Vec<&str>> {
        let ap = self.array.pointer_checked(Some(c"arrow_array"))?;
        // SAFETY: a capsule named "arrow_array" holds a valid `ArrowArray`; it stays alive and
        // unmoved while `self` holds the capsule.
        let a = unsafe { &*ap.as_ptr().cast::<ArrowArray>() };
        let bad =
            |what: &str| PyValueError::new_err(format!("malformed Arrow string array: {what}"));
        if a.release.is_none() {
            return Err(bad("it was already released"));
        }
        if a.n_buffers != 3 || a.buffers.is_null() {
            return Err(bad("a string array has 3 buffers"));
        }
        let (len, off) = match (usize::try_from(a.length), usize::try_from(a.offset)) {
            (Ok(l), Ok(o)) => (l, o),
            _ => return Err(bad("negative length or offset")),
        };
        // SAFETY: `buffers` points at `n_buffers` (3) buffer pointers.
        let bufs = unsafe { std::slice::from_raw_parts(a.buffers, 3) };
        if len == 0 {
            return Ok(Vec::new());
        }
        if bufs[1].is_null() || bufs[2].is_null() {
            return Err(bad("missing offsets or data buffer"));
        }
        // Offsets of rows off..off+len: len + 1 entries starting at index `off`.
        let offsets: Vec<usize> = if self.large {
            // SAFETY: the offsets buffer of a length-`off + len` array has `off + len + 1` i64s.
            let o = unsafe { std::slice::from_raw_parts(bufs[1].cast::<i64>(), off + len + 1) };
            o[off..]
                .iter()
                .map(|&x| usize::try_from(x).map_err(|_| bad("negative offset")))
                .collect::<PyResult<_>>()?
        } else {
            // SAFETY: as above, with i32 offsets.
            let o = unsafe { std::slice::from_raw_parts(bufs[1].cast::<i32>(), off + len + 1) };
            o[off..]
                .iter()
                .map(|&x| usize::try_from(x).map_err(|_| bad("negative offset")))
                .collect::<PyResult<_>>()?
        };
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("decreasing offsets"));
        }
        let end = offsets[len];
        // SAFETY: the data buffer holds at least as many bytes as the last offset says.
        let data = unsafe { std::slice::from_raw_parts(bufs[2].cast::<u8>(), end) };
        let valid = |i: usize| -> bool {
            if a.null_count == 0 || bufs[0].is_null() {
                return true;
            }
            let bit = off + i;
            // SAFETY: the validity bitmap of a length-`off + len` array has that many bits.
            let byte = unsafe { *bufs[0].cast::<u8>().add(bit / 8) };
            byte >> (bit % 8) & 1 == 1
        };
        (0..len)
            .map(|i| {
                if !valid(i) {
                    return Err(PyValueError::new_err(format!(
                        "texts[{i}] is null; fill or drop nulls before counting"
                    )));
                }
                std::str::from_utf8(&data[offsets[i]..offsets[i + 1]]).map_err(|e| {
                    PyValueError::new_err(format!(
                        "texts[{i}] is not valid UTF-8 (byte offset {})",
                        e.valid_up_to()
                    ))
                })
            })
            .collect()
    }
}
