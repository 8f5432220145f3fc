//! Wyoming's framing: one JSON header line per event (`type`, optional `data`,
//! `data_length`, `payload_length`), then `data_length` bytes of JSON merged into `data`,
//! then `payload_length` bytes of payload (raw audio). Every size a peer announces is
//! bounded before anything is read or allocated.

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest header line accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest `data` block accepted (text to speak travels here).
const MAX_DATA_BYTES: usize = 1024 * 1024;
/// Largest payload accepted (a TTS client sends none; audio from a confused peer is
/// skipped up to this size).
const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// The protocol version we speak (the `wyoming` package's, which Home Assistant uses).
pub const VERSION: &str = "1.10.2";

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `describe`, `synthesize`, `audio-chunk`, ...
    pub kind: String,
    /// Its fields.
    pub data: Map<String, Value>,
    /// Raw bytes after it (audio).
    pub payload: Vec<u8>,
}

impl Event {
    /// An event without payload.
    pub fn new(kind: &str, data: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            data: match data {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            payload: Vec::new(),
        }
    }

    /// A string field of `data`.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }
}

/// Why a peer's bytes were not an event.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes broke the framing (the connection cannot be trusted after that).
    #[error("{0}")]
    Malformed(String),
}

/// Reads the next event; `None` when the peer closed the connection between events.
pub async fn read_event<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Result<Option<Event>, FrameError> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_HEADER_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(FrameError::Malformed(if line.len() > MAX_HEADER_BYTES {
            format!("an event header longer than {MAX_HEADER_BYTES} bytes")
        } else {
            "the connection closed inside an event header".into()
        }));
    }
    let header: Value = serde_json::from_slice(&line)
        .map_err(|e| FrameError::Malformed(format!("an event header that is not JSON: {e}")))?;
    let kind = header
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FrameError::Malformed("an event header without a type".into()))?
        .to_owned();
    let mut data = match header.get("data") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let data_length = length(&header, "data_length", MAX_DATA_BYTES)?;
    if data_length > 0 {
        let mut bytes = vec![0; data_length];
        reader.read_exact(&mut bytes).await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(more)) => data.extend(more),
            _ => {
                return Err(FrameError::Malformed(
                    "event data that is not a JSON object".into(),
                ));
            }
        }
    }
    let payload_length = length(&header, "payload_length", MAX_PAYLOAD_BYTES)?;
    let mut payload = vec![0; payload_length];
    reader.read_exact(&mut payload).await?;
    Ok(Some(Event {
        kind,
        data,
        payload,
    }))
}

/// A declared length, refused above `max`.
fn length(header: &Value, field: &str, max: usize) -> Result<usize, FrameError> {
    match header.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => match value.as_u64() {
            Some(n) if n as usize <= max => Ok(n as usize),
            Some(n) => Err(FrameError::Malformed(format!(
                "{field} {n} is over the {max}-byte limit"
            ))),
            None => Err(FrameError::Malformed(format!("{field} is not a size"))),
        },
    }
}

/// Writes one event as the `wyoming` package does (data after the header line).
pub async fn write_event<W: AsyncWrite + Unpin>(
    writer: &mut W,
    event: &Event,
) -> std::io::Result<()> {
    let data = if event.data.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(&event.data).map_err(std::io::Error::other)?
    };
    let mut header = json!({"type": event.kind, "version": VERSION});
    if !data.is_empty() {
        header["data_length"] = json!(data.len());
    }
    if !event.payload.is_empty() {
        header["payload_length"] = json!(event.payload.len());
    }
    let mut frame = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    frame.push(b'\n');
    frame.extend_from_slice(&data);
    frame.extend_from_slice(&event.payload);
    writer.write_all(&frame).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(event: &Event) -> Event {
        let mut bytes = Vec::new();
        write_event(&mut bytes, event).await.unwrap();
        let mut reader = BufReader::new(bytes.as_slice());
        let back = read_event(&mut reader).await.unwrap().unwrap();
        assert!(read_event(&mut reader).await.unwrap().is_none());
        back
    }

    #[tokio::test]
    async fn events_round_trip_with_data_and_payload() {
        let mut chunk = Event::new(
            "audio-chunk",
            json!({"rate": 24000, "width": 2, "channels": 1}),
        );
        chunk.payload = vec![1, 2, 3, 4];
        assert_eq!(roundtrip(&chunk).await, chunk);
        let bare = Event::new("describe", Value::Null);
        assert_eq!(roundtrip(&bare).await, bare);
    }

    #[tokio::test]
    async fn inline_data_and_data_blocks_merge() {
        let bytes = b"{\"type\":\"synthesize\",\"data\":{\"voice\":{\"name\":\"x\"}},\"data_length\":14}\n{\"text\":\"Hi.\"}";
        let mut reader = BufReader::new(&bytes[..]);
        let event = read_event(&mut reader).await.unwrap().unwrap();
        assert_eq!(event.text("text"), Some("Hi."));
        assert_eq!(event.data["voice"]["name"], "x");
    }

    #[tokio::test]
    async fn hostile_frames_are_refused_before_allocating() {
        for bytes in [
            &b"{\"type\":\"x\",\"payload_length\":99999999999}\n"[..],
            &b"{\"type\":\"x\",\"data_length\":-1}\n"[..],
            &b"{\"data\":{}}\n"[..],
            &b"not json\n"[..],
            &b"{\"type\":\"x\",\"data_length\":4}\n[1]\n"[..],
            &b"{\"type\":\"x\""[..],
        ] {
            let mut reader = BufReader::new(bytes);
            assert!(
                matches!(read_event(&mut reader).await, Err(FrameError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let long = vec![b'a'; MAX_HEADER_BYTES + 10];
        let mut reader = BufReader::new(long.as_slice());
        assert!(matches!(
            read_event(&mut reader).await,
            Err(FrameError::Malformed(_))
        ));
    }
}
