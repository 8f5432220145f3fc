//! placeholder, replaced by the piper work.
