//! placeholder, replaced by the chatterbox work.
