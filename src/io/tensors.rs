//! Named tensors from and to safetensors bytes. Floats of any width and
//! integers are read into f64 (exact for everything a model or input holds)
//! and written back in each tensor's own dtype.

use std::collections::{BTreeMap, HashMap};

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// One tensor as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// The dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The dtype in the file (kept when writing back).
    pub dtype: Dtype,
    /// Every element, row-major, widened to f64.
    pub values: Vec<f64>,
}

impl HostTensor {
    /// An F32 tensor.
    pub fn f32(shape: &[usize], values: &[f32]) -> Self {
        Self {
            shape: shape.to_vec(),
            dtype: Dtype::F32,
            values: values.iter().map(|&v| f64::from(v)).collect(),
        }
    }

    /// Whether the dtype is F16, BF16, F32 or F64.
    pub fn is_float(&self) -> bool {
        matches!(
            self.dtype,
            Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64
        )
    }

    /// The values as f32 (rounded from F64), after checking the dtype is a
    /// float and every value is finite and within f32's range (`name` names
    /// the tensor in the error).
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>> {
        self.check_consistent(name)?;
        if !self.is_float() {
            return Err(Error::tensor(
                name,
                format!("dtype {:?}, expected F32, F16, BF16 or F64", self.dtype),
            ));
        }
        let mut out = Vec::with_capacity(self.values.len());
        for (index, &v) in self.values.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: name.to_string(),
                    index,
                    value: v as f32,
                });
            }
            if v.abs() > f64::from(f32::MAX) {
                return Err(Error::tensor(
                    name,
                    format!("[{index}] is {v:e}, outside f32's range (±{:e})", f32::MAX),
                ));
            }
            out.push(v as f32);
        }
        Ok(out)
    }

    /// Checks that the shape holds exactly the values (a tensor built by
    /// hand may disagree with itself; a file's never does), with no
    /// overflow in the shape's product.
    pub fn check_consistent(&self, name: &str) -> Result<()> {
        let n = self
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if n != Some(self.values.len()) {
            return Err(Error::tensor(
                name,
                format!(
                    "shape {:?} does not hold its {} values",
                    self.shape,
                    self.values.len()
                ),
            ));
        }
        Ok(())
    }

    /// Checks the shape, naming the tensor.
    pub fn expect_shape(&self, name: &str, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(Error::shape(name, shape, &self.shape));
        }
        Ok(())
    }
}

/// The tensors and `__metadata__` of one safetensors file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name.
    pub tensors: BTreeMap<String, HostTensor>,
    /// The `__metadata__` string pairs.
    pub metadata: HashMap<String, String>,
}

pub(crate) fn decode(dtype: Dtype, data: &[u8]) -> Option<Vec<f64>> {
    let words = |n: usize| data.chunks_exact(n);
    Some(match dtype {
        Dtype::F32 => words(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        Dtype::F64 => words(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::F16 => words(2)
            .map(|b| half::f16::from_le_bytes(b.try_into().unwrap()).to_f64())
            .collect(),
        Dtype::BF16 => words(2)
            .map(|b| half::bf16::from_le_bytes(b.try_into().unwrap()).to_f64())
            .collect(),
        Dtype::I32 => words(4)
            .map(|b| f64::from(i32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        Dtype::I64 => words(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        _ => return None,
    })
}

fn encode(name: &str, t: &HostTensor) -> Result<Vec<u8>> {
    let v = &t.values;
    Ok(match t.dtype {
        Dtype::F32 => v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
        Dtype::F64 => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
        Dtype::F16 => v
            .iter()
            .flat_map(|&x| half::f16::from_f64(x).to_le_bytes())
            .collect(),
        Dtype::BF16 => v
            .iter()
            .flat_map(|&x| half::bf16::from_f64(x).to_le_bytes())
            .collect(),
        Dtype::I32 => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
        Dtype::I64 => v.iter().flat_map(|&x| (x as i64).to_le_bytes()).collect(),
        other => return Err(Error::tensor(name, format!("cannot write dtype {other:?}"))),
    })
}

impl TensorFile {
    /// Parses safetensors bytes; `file` names the source in errors.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Self> {
        let file_error = |reason: String| Error::File {
            file: file.to_string(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| file_error(format!("not a valid safetensors file: {e}")))?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| file_error(format!("not a valid safetensors file: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let values = decode(view.dtype(), view.data()).ok_or_else(|| {
                Error::tensor(name, format!("unsupported dtype {:?}", view.dtype()))
            })?;
            tensors.insert(
                name.to_string(),
                HostTensor {
                    shape: view.shape().to_vec(),
                    dtype: view.dtype(),
                    values,
                },
            );
        }
        Ok(Self {
            tensors,
            metadata: header.metadata().clone().unwrap_or_default(),
        })
    }

    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::File {
            file: name.clone(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(&name, &bytes)
    }

    /// The tensor named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Serialises every tensor in its own dtype (with the metadata).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                t.check_consistent(name)?;
                Ok((name.clone(), t.dtype, t.shape.clone(), encode(name, t)?))
            })
            .collect::<Result<_>>()?;
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map_err(|e| Error::tensor(name, e.to_string()))?;
                Ok((name.clone(), view))
            })
            .collect::<Result<_>>()?;
        let metadata = (!self.metadata.is_empty()).then(|| self.metadata.clone());
        safetensors::serialize(views, metadata).map_err(|e| Error::File {
            file: "output".into(),
            reason: e.to_string(),
        })
    }
}
