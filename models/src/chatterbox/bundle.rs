//! The files of a Chatterbox ONNX bundle: which `.onnx` to load for a precision (with its
//! `.onnx_data` sidecar), which family the graphs belong to, and the KV-cache layout the
//! language model declares.

use std::path::{Path, PathBuf};

use ort::value::{TensorElementType, ValueType};

use super::graph::Graph;
use crate::ModelError;

/// Weight precision of the bundle, i.e. which file-name suffix to load (transformers.js
/// naming). The suffix is required for the language model; the other graphs fall back to
/// their fp32 file when no suffixed file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Plain `name.onnx`.
    #[default]
    Fp32,
    /// `name_fp16.onnx` (f16 KV cache).
    Fp16,
    /// `name_quantized.onnx` (8-bit).
    Q8,
    /// `name_q4.onnx`.
    Q4,
    /// `name_q4f16.onnx` (4-bit weights, f16 KV cache).
    Q4f16,
}

impl Precision {
    /// The file-name suffix this precision adds before `.onnx`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Fp32 => "",
            Self::Fp16 => "_fp16",
            Self::Q8 => "_quantized",
            Self::Q4 => "_q4",
            Self::Q4f16 => "_q4f16",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Ok(Self::Fp32),
            "fp16" | "f16" => Ok(Self::Fp16),
            "q8" | "quantized" | "int8" => Ok(Self::Q8),
            "q4" => Ok(Self::Q4),
            "q4f16" => Ok(Self::Q4f16),
            other => Err(format!(
                "unknown precision {other:?} (expected fp32, fp16, q8, q4 or q4f16)"
            )),
        }
    }
}

/// The two interface families of the public exports (spec B2/B3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// onnx-community English/multilingual: `embed_tokens` takes positions and exaggeration;
    /// CFG and exaggeration apply.
    Original,
    /// ResembleAI Turbo (and Nano ports): the language model takes `position_ids`; no CFG,
    /// exaggeration or min-p.
    Turbo,
}

/// The four graph names, in load order.
pub(crate) const SPEECH_ENCODER: &str = "speech_encoder";
pub(crate) const EMBED_TOKENS: &str = "embed_tokens";
pub(crate) const LANGUAGE_MODEL: &str = "language_model";
pub(crate) const CONDITIONAL_DECODER: &str = "conditional_decoder";

/// The paths of everything a bundle needs for one precision, all checked to exist.
#[derive(Debug, Clone)]
pub(crate) struct BundleFiles {
    pub(crate) tokenizer: PathBuf,
    pub(crate) speech_encoder: PathBuf,
    pub(crate) embed_tokens: PathBuf,
    pub(crate) language_model: PathBuf,
    pub(crate) conditional_decoder: PathBuf,
}

impl BundleFiles {
    /// Resolves and checks every file (no session is created).
    pub(crate) fn locate(dir: &Path, precision: Precision) -> Result<Self, ModelError> {
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(ModelError::MissingFile(tokenizer));
        }
        let onnx = dir.join("onnx");
        Ok(Self {
            tokenizer,
            speech_encoder: graph_file(&onnx, SPEECH_ENCODER, precision, true)?,
            embed_tokens: graph_file(&onnx, EMBED_TOKENS, precision, true)?,
            language_model: graph_file(&onnx, LANGUAGE_MODEL, precision, false)?,
            conditional_decoder: graph_file(&onnx, CONDITIONAL_DECODER, precision, true)?,
        })
    }
}

/// Graph files smaller than this cannot hold a model's weights inline, so they must have
/// their `.onnx_data` sidecar; larger ones may carry the weights themselves (some
/// quantised exports do), and ONNX Runtime decides.
const INLINE_WEIGHTS_MIN_BYTES: u64 = 1024 * 1024;

/// `onnx/<name><suffix>.onnx`, or `<name>.onnx` when `fallback` and the suffixed file is
/// absent. A small graph file must have its `.onnx_data` sidecar, checked here because
/// ORT's own error for a missing sidecar names only the bare file name.
fn graph_file(
    onnx: &Path,
    name: &str,
    precision: Precision,
    fallback: bool,
) -> Result<PathBuf, ModelError> {
    let preferred = onnx.join(format!("{name}{}.onnx", precision.suffix()));
    let chosen = if preferred.is_file() || !fallback {
        preferred
    } else {
        onnx.join(format!("{name}.onnx"))
    };
    if !chosen.is_file() {
        return Err(ModelError::MissingFile(chosen));
    }
    let mut sidecar = chosen.clone().into_os_string();
    sidecar.push("_data");
    let sidecar = PathBuf::from(sidecar);
    let small = std::fs::metadata(&chosen).map_or(true, |m| m.len() < INLINE_WEIGHTS_MIN_BYTES);
    if small && !sidecar.is_file() {
        return Err(ModelError::MissingFile(sidecar));
    }
    Ok(chosen)
}

/// Tells the family from the declared inputs: an LM with `position_ids` is Turbo; an
/// `embed_tokens` with `exaggeration` is Original.
pub(crate) fn detect_family(
    embed_tokens: &Graph,
    language_model: &Graph,
) -> Result<Family, ModelError> {
    if language_model.declares_input("position_ids") {
        Ok(Family::Turbo)
    } else if embed_tokens.declares_input("exaggeration")
        && embed_tokens.declares_input("position_ids")
    {
        Ok(Family::Original)
    } else {
        Err(ModelError::bad_model(
            &language_model.path,
            "cannot tell the Chatterbox family: the language model declares no position_ids \
             and embed_tokens declares no exaggeration/position_ids",
        ))
    }
}

/// One cache tensor pair: the past input and the present output it is fed from.
#[derive(Debug, Clone)]
pub(crate) struct KvSlot {
    pub(crate) past: String,
    pub(crate) present: String,
    pub(crate) dtype: TensorElementType,
    pub(crate) heads: usize,
    pub(crate) head_dim: usize,
}

/// Every `past_key_values.*` input of the language model, matched by name to its
/// `present.*` output; nothing about the layer count is assumed.
pub(crate) fn kv_layout(language_model: &Graph) -> Result<Vec<KvSlot>, ModelError> {
    let bad = |message: String| ModelError::bad_model(&language_model.path, message);
    let mut slots = Vec::new();
    for (name, dtype) in language_model.inputs() {
        let Some(rest) = name.strip_prefix("past_key_values.") else {
            continue;
        };
        let present = format!("present.{rest}");
        if !language_model.declares_output(&present) {
            return Err(bad(format!(
                "input {name:?} has no matching output {present:?}"
            )));
        }
        let ValueType::Tensor { ty, shape, .. } = dtype else {
            return Err(bad(format!("input {name:?} is not a tensor")));
        };
        if !matches!(ty, TensorElementType::Float32 | TensorElementType::Float16) {
            return Err(bad(format!(
                "input {name:?} is {ty:?}, expected float32 or float16"
            )));
        }
        let static_dim = |index: usize| {
            shape
                .get(index)
                .and_then(|&dim| usize::try_from(dim).ok())
                .filter(|&dim| dim > 0)
        };
        let (Some(heads), Some(head_dim), 4) = (static_dim(1), static_dim(3), shape.len()) else {
            return Err(bad(format!(
                "input {name:?} has shape {:?}; expected [batch, heads, past, head_dim] with static heads and head_dim",
                &shape[..]
            )));
        };
        slots.push(KvSlot {
            past: name.clone(),
            present,
            dtype: *ty,
            heads,
            head_dim,
        });
    }
    if slots.is_empty() {
        return Err(bad(
            "the language model declares no past_key_values.* inputs".into(),
        ));
    }
    Ok(slots)
}
