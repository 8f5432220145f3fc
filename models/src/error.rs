//! The one error type of the `models` crate; the handler maps it to HTTP.

use std::path::PathBuf;

/// What can go wrong loading or running a speech engine.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The ONNX Runtime shared library could not be loaded.
    #[error("ONNX Runtime could not be loaded from {path}: {message}")]
    RuntimeUnavailable {
        /// The library path tried.
        path: PathBuf,
        /// Why it failed.
        message: String,
    },
    /// A model file (or its external-weights sidecar) is missing.
    #[error("model file not found: {0}")]
    MissingFile(PathBuf),
    /// A model file exists but does not have the interface this engine expects.
    #[error("model {path} is not usable: {message}")]
    BadModel {
        /// The file that was loaded.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// ONNX Runtime failed while running a graph.
    #[error("inference failed in {graph}: {message}")]
    Inference {
        /// Which graph was running.
        graph: String,
        /// ONNX Runtime's message.
        message: String,
    },
    /// The phonemizer (espeak-ng) could not be run or failed.
    #[error("phonemizer failed: {0}")]
    Phonemizer(String),
    /// The tokenizer could not be loaded or failed on the text.
    #[error("tokenizer failed: {0}")]
    Tokenizer(String),
    /// The caller asked for something the engine cannot do with these inputs
    /// (the handler answers 4xx).
    #[error("{0}")]
    InvalidInput(String),
    /// The caller withdrew the work (its client went away) and it stopped early.
    #[error("generation stopped: nobody is waiting for it any more")]
    Stopped,
    /// Reading a model or config file failed.
    #[error("could not read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ModelError {
    /// Wraps an ONNX Runtime error raised while running `graph`.
    pub fn inference(graph: &str, error: impl std::fmt::Display) -> Self {
        Self::Inference {
            graph: graph.to_owned(),
            message: error.to_string(),
        }
    }

    /// A model that loaded but does not fit the expected interface.
    pub fn bad_model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::BadModel {
            path: path.into(),
            message: message.into(),
        }
    }
}
