//! Speech engines over ONNX Runtime: Piper (the embedded default voice), Chatterbox
//! (text-to-speech with voice cloning, and voice conversion), and the text front end that
//! prepares what they read.
//!
//! Everything here is synchronous and transport-free: the handler runs it on blocking
//! threads behind a per-engine semaphore. Sessions are created once per process
//! ([`runtime::OnnxRuntime`]) and reused.

pub mod chatterbox;
pub mod cpu_pressure;
pub mod error;
pub mod piper;
pub mod runtime;
pub mod text;
pub mod waveform;

pub use error::ModelError;
pub use runtime::{ExecutionProvider, OnnxRuntime, RuntimeSettings, Spinning};
pub use waveform::Waveform;
