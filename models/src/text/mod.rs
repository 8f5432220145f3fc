//! The text front end shared by the engines: the original's request-level clean-up
//! ([`preprocess`]), sentence splitting ([`split_sentences`]) and grouping of sentences into
//! chunks that one engine call can read ([`chunk_text`]).
//!
//! Pure Rust and engine-independent. Unlike the original it never drops text: short
//! sentences survive and long ones are split instead of skipped.

mod chunk;
pub mod normalize;
mod preprocess;
mod sentences;
pub mod ssml;

pub use chunk::{ChunkOptions, chunk_text, group_pieces, split_long};
pub use preprocess::{TextOptions, is_speakable, preprocess, strip_invisible};
pub use sentences::split_sentences;
