//! One ONNX graph of a Chatterbox bundle: its session (behind a mutex, since running needs
//! `&mut`), its declared interface, and the f32/f16/i64 conversions at its boundary.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use half::f16;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use crate::{ModelError, OnnxRuntime};

/// A loaded graph plus what it declares.
#[derive(Debug)]
pub(crate) struct Graph {
    /// Short name used in error messages ("language_model", ...).
    pub(crate) label: &'static str,
    /// The `.onnx` file it was loaded from.
    pub(crate) path: PathBuf,
    session: Mutex<Session>,
    inputs: Vec<(String, ValueType)>,
    outputs: Vec<String>,
}

/// Inputs for one run, by name.
pub(crate) type Feed<'v> = Vec<(String, SessionInputValue<'v>)>;

impl Graph {
    /// Creates the session; `threads = None` uses the runtime's default.
    pub(crate) fn open(
        runtime: &OnnxRuntime,
        path: &Path,
        label: &'static str,
        threads: Option<usize>,
    ) -> Result<Self, ModelError> {
        let session = match threads {
            Some(threads) => runtime.session_with_threads(path, threads)?,
            None => runtime.session(path)?,
        };
        let inputs = session
            .inputs()
            .iter()
            .map(|outlet| (outlet.name().to_owned(), outlet.dtype().clone()))
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|outlet| outlet.name().to_owned())
            .collect();
        Ok(Self {
            label,
            path: path.to_path_buf(),
            session: Mutex::new(session),
            inputs,
            outputs,
        })
    }

    /// Declared inputs in graph order.
    pub(crate) fn inputs(&self) -> &[(String, ValueType)] {
        &self.inputs
    }

    /// Whether the graph declares an input called `name`.
    pub(crate) fn declares_input(&self, name: &str) -> bool {
        self.inputs.iter().any(|(declared, _)| declared == name)
    }

    /// Whether the graph declares an output called `name`.
    pub(crate) fn declares_output(&self, name: &str) -> bool {
        self.outputs.iter().any(|declared| declared == name)
    }

    /// Fails with `BadModel` unless every name is a declared input and output respectively.
    pub(crate) fn require(&self, inputs: &[&str], outputs: &[&str]) -> Result<(), ModelError> {
        for name in inputs {
            if !self.declares_input(name) {
                return Err(ModelError::bad_model(
                    &self.path,
                    format!("{} declares no input {name:?}", self.label),
                ));
            }
        }
        for name in outputs {
            if !self.declares_output(name) {
                return Err(ModelError::bad_model(
                    &self.path,
                    format!("{} declares no output {name:?}", self.label),
                ));
            }
        }
        Ok(())
    }

    /// The element type declared for a float input (f32 or f16); exports differ here, so
    /// callers build f32 data and this decides what actually goes in.
    fn float_type(&self, name: &str) -> Result<TensorElementType, ModelError> {
        let declared = self
            .inputs
            .iter()
            .find(|(declared, _)| declared == name)
            .and_then(|(_, dtype)| dtype.tensor_type());
        match declared {
            Some(ty @ (TensorElementType::Float32 | TensorElementType::Float16)) => Ok(ty),
            other => Err(ModelError::bad_model(
                &self.path,
                format!(
                    "{} input {name:?} is {other:?}, expected float32 or float16",
                    self.label
                ),
            )),
        }
    }

    /// A float tensor for input `name`, converted to the declared element type.
    pub(crate) fn float_input(
        &self,
        name: &str,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<DynValue, ModelError> {
        let ty = self.float_type(name)?;
        float_tensor(ty, shape, data).map_err(|e| ModelError::inference(self.label, e))
    }

    /// Runs the graph and takes ownership of every output.
    pub(crate) fn run(&self, feed: Feed<'_>) -> Result<Outputs, ModelError> {
        let mut session = self
            .session
            .lock()
            .map_err(|_| ModelError::inference(self.label, "session lock poisoned"))?;
        let mut outputs = session
            .run(feed)
            .map_err(|e| ModelError::inference(self.label, e))?;
        let values = self
            .outputs
            .iter()
            .filter_map(|name| outputs.remove(name).map(|value| (name.clone(), value)))
            .collect();
        Ok(Outputs {
            graph: self.label,
            values,
        })
    }
}

/// A tensor of `ty` (f32 or f16) from f32 data.
pub(crate) fn float_tensor(
    ty: TensorElementType,
    shape: Vec<usize>,
    data: Vec<f32>,
) -> Result<DynValue, ort::Error> {
    if ty == TensorElementType::Float16 {
        let halves: Vec<f16> = data.into_iter().map(f16::from_f32).collect();
        Ok(Tensor::from_array((shape, halves))?.into_dyn())
    } else {
        Ok(Tensor::from_array((shape, data))?.into_dyn())
    }
}

/// An i64 tensor.
pub(crate) fn i64_tensor(
    graph: &'static str,
    shape: Vec<usize>,
    data: Vec<i64>,
) -> Result<DynValue, ModelError> {
    Tensor::from_array((shape, data))
        .map(Tensor::into_dyn)
        .map_err(|e| ModelError::inference(graph, e))
}

/// The outputs of one run, owned.
pub(crate) struct Outputs {
    graph: &'static str,
    values: Vec<(String, DynValue)>,
}

impl Outputs {
    /// Removes the output `name`.
    pub(crate) fn take(&mut self, name: &str) -> Result<DynValue, ModelError> {
        let index = self
            .values
            .iter()
            .position(|(declared, _)| declared == name)
            .ok_or_else(|| ModelError::inference(self.graph, format!("no output {name:?}")))?;
        Ok(self.values.swap_remove(index).1)
    }

    /// Output `name` as f32 data (f16 outputs are widened) with its shape.
    pub(crate) fn f32(&mut self, name: &str) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        let value = self.take(name)?;
        extract_f32(self.graph, name, &value)
    }

    /// Output `name` as i64 data with its shape.
    pub(crate) fn i64(&mut self, name: &str) -> Result<(Vec<usize>, Vec<i64>), ModelError> {
        let graph = self.graph;
        let value = self.take(name)?;
        let (shape, data) = value
            .try_extract_tensor::<i64>()
            .map_err(|e| ModelError::inference(graph, format!("output {name:?}: {e}")))?;
        Ok((dims(graph, name, shape)?, data.to_vec()))
    }
}

/// Reads a float tensor (f32 or f16) as f32.
pub(crate) fn extract_f32(
    graph: &'static str,
    name: &str,
    value: &DynValue,
) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let bad = |e: ort::Error| ModelError::inference(graph, format!("output {name:?}: {e}"));
    match value.dtype().tensor_type() {
        Some(TensorElementType::Float16) => {
            let (shape, data) = value.try_extract_tensor::<f16>().map_err(bad)?;
            Ok((
                dims(graph, name, shape)?,
                data.iter().map(|x| x.to_f32()).collect(),
            ))
        }
        _ => {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(bad)?;
            Ok((dims(graph, name, shape)?, data.to_vec()))
        }
    }
}

/// The concrete dims of a value's shape (never negative for real values; checked anyway).
pub(crate) fn dims(
    graph: &'static str,
    name: &str,
    shape: &[i64],
) -> Result<Vec<usize>, ModelError> {
    shape
        .iter()
        .map(|&dim| usize::try_from(dim))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ModelError::inference(graph, format!("output {name:?} has shape {shape:?}")))
}

/// Fails unless `shape` has `expected.len()` dims matching every `Some` entry.
pub(crate) fn expect_shape(
    graph: &'static str,
    name: &str,
    shape: &[usize],
    expected: &[Option<usize>],
) -> Result<(), ModelError> {
    let fits = shape.len() == expected.len()
        && shape
            .iter()
            .zip(expected)
            .all(|(dim, want)| want.is_none_or(|want| *dim == want));
    if fits {
        Ok(())
    } else {
        Err(ModelError::inference(
            graph,
            format!("output {name:?} has shape {shape:?}, expected {expected:?}"),
        ))
    }
}
