//! placeholder, replaced by the text work.
