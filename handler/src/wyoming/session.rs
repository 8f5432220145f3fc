//! One Wyoming connection: events in, speech out. Problems with a request (an unknown
//! voice, nothing to speak, an engine not installed) are answered with an `error` event and
//! the connection stays open; only broken framing ends it.

use audio::encode::ExportFormat;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncWrite, BufReader};
use tokio::net::TcpStream;

use super::protocol::{Event, FrameError, read_event, write_event};
use crate::error::Error;
use crate::openai::catalog::{self, Named, Voice};
use crate::service::area::{Area, Entry};
use crate::service::engines::EngineKind;
use crate::service::speech_stream::{self, RawSink, StreamRequest};
use crate::service::tts::TtsRequest;
use crate::state::AppState;

/// Sample rate of every answer (Chatterbox's own; Piper is resampled to it).
const RATE: u32 = 24_000;

/// A streaming synthesis in progress: its voice, the text not spoken yet, and whether
/// `audio-start` has gone out.
struct Streaming {
    voice: Option<String>,
    pending: String,
    started: bool,
}

/// Serves one connection until the peer closes it.
pub async fn run(stream: TcpStream, state: &AppState) -> Result<(), FrameError> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut streaming: Option<Streaming> = None;
    while let Some(event) = read_event(&mut reader).await? {
        match event.kind.as_str() {
            "describe" => write_event(&mut write, &info(state).await).await?,
            "ping" => {
                let text = event.data.get("text").cloned().unwrap_or(Value::Null);
                write_event(&mut write, &Event::new("pong", json!({"text": text}))).await?;
            }
            // Streaming clients also send the whole text for servers that cannot stream;
            // while streaming it is already being spoken.
            "synthesize" if streaming.is_some() => {}
            "synthesize" => {
                let voice = voice_name(&event.data);
                let text = event.text("text").unwrap_or_default();
                let mut started = false;
                if speak(state, &mut write, text, voice.as_deref(), &mut started).await? {
                    write_event(&mut write, &audio_event("audio-stop")).await?;
                }
            }
            "synthesize-start" => {
                streaming = Some(Streaming {
                    voice: voice_name(&event.data),
                    pending: String::new(),
                    started: false,
                });
            }
            "synthesize-chunk" => {
                if let Some(s) = streaming.as_mut() {
                    s.pending.push_str(event.text("text").unwrap_or_default());
                    if let Some(complete) = take_complete_sentences(&mut s.pending) {
                        speak(
                            state,
                            &mut write,
                            &complete,
                            s.voice.as_deref(),
                            &mut s.started,
                        )
                        .await?;
                    }
                }
            }
            "synthesize-stop" => {
                if let Some(mut s) = streaming.take() {
                    let rest = std::mem::take(&mut s.pending);
                    if !rest.trim().is_empty() {
                        speak(state, &mut write, &rest, s.voice.as_deref(), &mut s.started).await?;
                    }
                    if !s.started {
                        write_event(&mut write, &audio_event("audio-start")).await?;
                    }
                    write_event(&mut write, &audio_event("audio-stop")).await?;
                }
                write_event(&mut write, &Event::new("synthesize-stopped", Value::Null)).await?;
            }
            other => tracing::debug!(event = other, "Wyoming: ignored an event"),
        }
    }
    Ok(())
}

/// The voice a synthesis names (`{"voice": {"name": ...}}`), if any.
fn voice_name(data: &Map<String, Value>) -> Option<String> {
    data.get("voice")
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Takes from `pending` everything up to its last complete sentence (ending in `.`, `!`,
/// `?` or `…` followed by white space, or a line break), leaving the rest.
fn take_complete_sentences(pending: &mut String) -> Option<String> {
    let chars: Vec<(usize, char)> = pending.char_indices().collect();
    let mut cut = None;
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next_is_space = chars.get(i + 1).is_some_and(|(_, n)| n.is_whitespace());
        if c == '\n' || (matches!(c, '.' | '!' | '?' | '…') && next_is_space) {
            cut = Some(at + c.len_utf8());
        }
    }
    let cut = cut?;
    let rest = pending.split_off(cut);
    let complete = std::mem::replace(pending, rest);
    (!complete.trim().is_empty()).then_some(complete)
}

fn audio_event(kind: &str) -> Event {
    Event::new(kind, json!({"rate": RATE, "width": 2, "channels": 1}))
}

fn error_event(error: &Error) -> Event {
    Event::new(
        "error",
        json!({"text": error.to_string(), "code": error.code()}),
    )
}

/// Speaks `text`, sending `audio-start` first if it has not gone out yet, then its audio as
/// `audio-chunk`s. Answers whether audio started; a problem with the request is sent as an
/// `error` event (and answers false when nothing started).
async fn speak<W: AsyncWrite + Unpin>(
    state: &AppState,
    writer: &mut W,
    text: &str,
    voice: Option<&str>,
    started: &mut bool,
) -> Result<bool, FrameError> {
    let mut receiver = match start(state, text, voice).await {
        Ok(receiver) => receiver,
        Err(error) => {
            write_event(writer, &error_event(&error)).await?;
            return Ok(*started);
        }
    };
    if !*started {
        write_event(writer, &audio_event("audio-start")).await?;
        *started = true;
    }
    while let Some(piece) = receiver.recv().await {
        match piece {
            Ok(pcm) if pcm.is_empty() => {}
            Ok(pcm) => {
                let mut chunk = audio_event("audio-chunk");
                chunk.payload = pcm.to_vec();
                write_event(writer, &chunk).await?;
            }
            Err(error) => {
                write_event(writer, &error_event(&error)).await?;
                break;
            }
        }
    }
    Ok(true)
}

/// Resolves the voice and starts the synthesis.
async fn start(
    state: &AppState,
    text: &str,
    voice: Option<&str>,
) -> Result<tokio::sync::mpsc::Receiver<crate::error::Result<bytes::Bytes>>, Error> {
    let settings = state.engines().settings();
    let text = speech_stream::checked_text(text, settings.max_text_length)?;
    let entry = stored_voice(state, voice).await?;
    let lexicons = crate::service::lexicons::load(
        state.store().as_ref(),
        "--wyoming-lexicons",
        &state.config().access.wyoming_lexicons,
    )
    .await?;
    let defaults = TtsRequest::default();
    let params = speech_stream::chatterbox_params(
        defaults.temperature,
        defaults.exaggeration,
        defaults.cfg_weight,
        crate::service::generation::fresh_seed(),
        settings.chatterbox_max_new_tokens,
    );
    speech_stream::start(
        state,
        StreamRequest {
            engine: if entry.is_some() {
                EngineKind::Chatterbox
            } else {
                EngineKind::Piper
            },
            text,
            voice: entry,
            params,
            speed: 1.0,
            sample_rate: RATE,
            // Home Assistant speaks sensor values, times and units.
            normalize_text: true,
            lexicons,
            ssml: None,
        },
        Box::new(RawSink::encoding(
            state.encoders(),
            ExportFormat::Pcm,
            RATE,
        )?),
    )
    .await
}

/// The stored voice a name means; `None` for the built-in voice (no name, its id, an
/// OpenAI name, or an alias of it).
async fn stored_voice(state: &AppState, voice: Option<&str>) -> Result<Option<Entry>, Error> {
    let Some(name) = voice.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    match catalog::lookup(state, "voice", name).await? {
        Named::Voice(Voice::Builtin) => Ok(None),
        Named::Voice(Voice::Stored(entry)) => Ok(Some(entry)),
        Named::Unknown => Err(Error::not_found(Area::Voices.noun(), name)),
        Named::BrokenAlias { alias, target } => {
            Err(Error::Internal(Named::broken_alias(&alias, &target)))
        }
    }
}

/// `info`: one TTS program with the usable voices (the built-in one, and the stored ones
/// when Chatterbox is installed).
async fn info(state: &AppState) -> Event {
    let voices = crate::openai::voices::catalog(state)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v["usable"] == true && v["type"] != "alias")
        .map(|v| {
            let builtin = v["type"] == "builtin";
            json!({
                "name": v["id"],
                "description": v["name"],
                "attribution": if builtin {
                    json!({"name": "Piper voice en_US-joe-medium (CC0)", "url": "https://github.com/rhasspy/piper"})
                } else {
                    json!({"name": "Cloned by Chatterbox (Resemble AI)", "url": "https://github.com/resemble-ai/chatterbox"})
                },
                "installed": true,
                "version": null,
                "languages": [if builtin { "en_US" } else { "en" }],
                "speakers": null,
            })
        })
        .collect::<Vec<_>>();
    Event::new(
        "info",
        json!({
            "asr": [], "handle": [], "intent": [], "wake": [], "mic": [], "snd": [],
            "tts": [{
                "name": "speech-api",
                "description": "Self-hostable text to speech: the built-in Piper voice and voices cloned by Chatterbox",
                "attribution": {"name": "Speech API", "url": "https://github.com/rhasspy/wyoming"},
                "installed": true,
                "version": crate::api::VERSION,
                "voices": voices,
                "supports_synthesize_streaming": true,
            }],
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_sentences_are_taken_and_the_rest_kept() {
        let mut pending = "Hello there. How are".to_owned();
        assert_eq!(
            take_complete_sentences(&mut pending).as_deref(),
            Some("Hello there.")
        );
        assert_eq!(pending, " How are");
        pending.push_str(" you? Fine! And");
        assert_eq!(
            take_complete_sentences(&mut pending).as_deref(),
            Some(" How are you? Fine!")
        );
        assert_eq!(pending, " And");
        assert_eq!(take_complete_sentences(&mut pending), None);
        // A decimal point is not a sentence end; a line break is.
        let mut numbers = "It costs 3.50 euros\nthen".to_owned();
        assert_eq!(
            take_complete_sentences(&mut numbers).as_deref(),
            Some("It costs 3.50 euros\n")
        );
        assert_eq!(numbers, "then");
    }
}
