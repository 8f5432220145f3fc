//! Routes of other TTS servers that popular clients call, served from our engines so those
//! clients work unmodified.

pub mod chatterbox_server;
