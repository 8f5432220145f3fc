//! Where the tests find the speech engines: the runtime assets the setup step fetched
//! (ONNX Runtime, the Piper voice and ffmpeg) and the Chatterbox stand-in bundles in the repo.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The runtime assets folder: `SPEECH_MODELS_DIR`, else `<workspace>/.cache/models`.
/// Panics with the fix when the setup step has not run, so a missing asset is a failure,
/// never a silently skipped test.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("SPEECH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/models"));
    assert!(
        dir.join("piper/en_US-joe-medium.onnx").is_file(),
        "the Piper voice is missing from {}: run ./scripts/test.sh (it fetches the runtime assets)",
        dir.display()
    );
    dir
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH`, else the one the setup step fetched.
pub fn onnxruntime_library() -> PathBuf {
    let path = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir().join("onnxruntime-1.32.0/libonnxruntime.so"));
    assert!(
        path.is_file(),
        "ONNX Runtime is missing at {}: run ./scripts/test.sh (it fetches the runtime assets)",
        path.display()
    );
    path
}

/// The built-in Piper voice loaded as the service loads it, on a runtime with
/// `intra_threads` threads (0: every CPU).
pub fn piper_voice(intra_threads: usize) -> models::piper::PiperVoice {
    let runtime = models::OnnxRuntime::load(models::RuntimeSettings {
        library: onnxruntime_library(),
        provider: models::ExecutionProvider::Cpu,
        intra_threads,
        spinning: models::Spinning::default(),
    })
    .expect("ONNX Runtime loads");
    models::piper::PiperVoice::load(
        &runtime,
        &models_dir().join("piper/en_US-joe-medium.onnx"),
        None,
    )
    .expect("the Piper voice loads")
}

/// The ffmpeg program the setup step fetched (`<models-dir>/ffmpeg/ffmpeg`), which the
/// service runs for AAC output by default. Panics with the fix when it is missing.
pub fn ffmpeg() -> PathBuf {
    let path = models_dir().join("ffmpeg/ffmpeg");
    assert!(
        path.is_file(),
        "ffmpeg is missing at {}: run ./scripts/test.sh (it fetches the runtime assets)",
        path.display()
    );
    path
}

/// Whether `bytes` start with an ADTS frame header (sync word, no CRC: `0xFFF1` for
/// MPEG-4, `0xFFF9` for MPEG-2).
pub fn is_adts(bytes: &[u8]) -> bool {
    matches!(bytes, [0xFF, 0xF1 | 0xF9, ..])
}

/// A Chatterbox stand-in bundle (`original` or `turbo`): tiny graphs with the real interfaces.
pub fn chatterbox_standins(family: &str) -> PathBuf {
    workspace_root()
        .join("models/tests/fixtures/chatterbox-standins")
        .join(family)
}

/// A test recording of the stand-in fixtures (`ref_7s.wav`, `src_3s.wav`; 24 kHz mono).
pub fn standin_audio(name: &str) -> Vec<u8> {
    let path = workspace_root()
        .join("models/tests/fixtures/chatterbox-standins")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
