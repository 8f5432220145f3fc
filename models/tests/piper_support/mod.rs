//! Shared by the Piper tests: finds the runtime assets the setup step fetches, and fails
//! (never skips) when they are missing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use models::piper::PiperVoice;
use models::{ExecutionProvider, OnnxRuntime, RuntimeSettings};

const SETUP_HINT: &str = "run ./scripts/test.sh once (it fetches the ONNX Runtime library, the Piper voice and espeak-ng), or set ORT_DYLIB_PATH and SPEECH_MODELS_DIR";

/// `SPEECH_MODELS_DIR`, or `<workspace>/.cache/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("SPEECH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models"))
}

/// `ORT_DYLIB_PATH`, or the library the setup step installs.
pub fn ort_library() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir().join("onnxruntime-1.32.0/libonnxruntime.so"))
}

/// The joe voice's model path (checked to exist).
pub fn joe_model() -> PathBuf {
    let model = models_dir().join("piper/en_US-joe-medium.onnx");
    assert!(
        model.is_file(),
        "Piper voice {} not found: {SETUP_HINT}",
        model.display()
    );
    model
}

/// The process-wide runtime (CPU, default threads).
pub fn runtime() -> Arc<OnnxRuntime> {
    let library = ort_library();
    assert!(
        library.is_file(),
        "ONNX Runtime {} not found: {SETUP_HINT}",
        library.display()
    );
    OnnxRuntime::load(RuntimeSettings {
        library,
        provider: ExecutionProvider::Cpu,
        intra_threads: 0,
        spinning: models::Spinning::default(),
    })
    .unwrap()
}

/// The joe voice, loaded once per test binary.
pub fn joe() -> &'static PiperVoice {
    static VOICE: OnceLock<PiperVoice> = OnceLock::new();
    VOICE.get_or_init(|| {
        assert!(
            std::process::Command::new("espeak-ng")
                .arg("--version")
                .output()
                .is_ok(),
            "espeak-ng not found on PATH: {SETUP_HINT}"
        );
        PiperVoice::load(&runtime(), &joe_model(), None).unwrap()
    })
}
