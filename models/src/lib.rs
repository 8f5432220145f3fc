//! Speech engines: the ONNX Runtime wrapper, Piper (the embedded default voice) and
//! Chatterbox (text-to-speech with voice cloning, and voice conversion).
//!
//! The engines arrive with the text-to-speech and voice-conversion milestones; until then
//! this crate is intentionally empty, so the workspace layout (`handler` over `storage`,
//! `audio` and `models`) is in place and nothing half-built can be called.
