//! Reading multipart forms with limits: files are counted while they stream in and
//! refused with 413 as soon as they pass their limit; text fields are small.

use std::collections::HashMap;

use audio::memory::Lease;
use axum::extract::multipart::{Field, MultipartError};
use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::service::upload::AudioUpload;

/// Longest accepted text field, in bytes.
const MAX_TEXT_FIELD: usize = 64 * 1024;
/// Most parts accepted in one form.
const MAX_PARTS: usize = 256;

/// A parsed form: its files in order and its text fields.
#[derive(Debug, Default)]
pub struct Form {
    /// Files by field name, in the order they arrived.
    pub files: Vec<(String, AudioUpload)>,
    /// Text fields (the last value wins when a name repeats).
    pub texts: HashMap<String, String>,
}

impl Form {
    /// Reads every part. `file_fields` names the parts that carry files; each file may
    /// be `max_file_bytes` long and all together `max_total_bytes`. Any other part is
    /// read as text. File bytes are reserved on `lease` (the process's audio memory
    /// budget) before they are buffered, so many large uploads at once get 503, not the
    /// machine's memory.
    pub async fn read(
        mut multipart: axum::extract::Multipart,
        file_fields: &[&'static str],
        max_file_bytes: usize,
        max_total_bytes: usize,
        lease: &Lease,
    ) -> Result<Self> {
        let mut total = 0usize;
        let mut form = Form::default();
        let mut parts = 0;
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(Error::BadRequest(format!(
                    "Too many form fields (at most {MAX_PARTS})"
                )));
            }
            let name = field.name().unwrap_or_default().to_owned();
            if let Some(&file_field) = file_fields.iter().find(|f| **f == name) {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                if file_name.is_empty() {
                    return Err(Error::BadRequest(format!(
                        "Form field {name:?} must be a file upload with a file name"
                    )));
                }
                let allowed = max_file_bytes.min(max_total_bytes.saturating_sub(total));
                let Some(bytes) = read_limited(field, allowed, Some(lease)).await? else {
                    return Err(Error::TooLarge(if allowed < max_file_bytes {
                        format!(
                            "the uploaded files together are larger than the {} limit",
                            human_size(max_total_bytes)
                        )
                    } else {
                        format!(
                            "{file_name} is larger than the {} limit",
                            human_size(max_file_bytes)
                        )
                    }));
                };
                total += bytes.len();
                form.files.push((
                    name,
                    AudioUpload {
                        field: file_field,
                        file_name,
                        bytes,
                    },
                ));
            } else {
                let Some(bytes) = read_limited(field, MAX_TEXT_FIELD, None).await? else {
                    return Err(Error::TooLarge(format!(
                        "form field {name:?} is larger than {}",
                        human_size(MAX_TEXT_FIELD)
                    )));
                };
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    Error::BadRequest(format!("Form field {name:?} is not valid UTF-8"))
                })?;
                form.texts.insert(name, text);
            }
        }
        Ok(form)
    }

    /// Takes the single file of `field`; 400 when it is missing.
    pub fn take_file(&mut self, field: &str) -> Result<AudioUpload> {
        let index = self
            .files
            .iter()
            .position(|(name, _)| name == field)
            .ok_or_else(|| Error::BadRequest(format!("Missing file field {field:?}")))?;
        Ok(self.files.remove(index).1)
    }

    /// A text field, trimmed, `None` when absent or blank.
    pub fn text(&self, field: &str) -> Option<String> {
        self.texts
            .get(field)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A boolean text field (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`); 422 otherwise.
    pub fn flag(&self, field: &str, default: bool) -> Result<bool> {
        match self.text(field).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(Error::invalid(
                field,
                format!("{field} must be true or false, got {other:?}"),
            )),
        }
    }
}

/// The field's bytes, or `None` as soon as they pass `limit` (the rest is not read).
/// With a lease, the buffer's growth is reserved on it before it happens.
pub(crate) async fn read_limited(
    mut field: Field<'_>,
    limit: usize,
    lease: Option<&Lease>,
) -> Result<Option<Bytes>> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        let needed = buffer.len() + chunk.len();
        if needed > limit {
            return Ok(None);
        }
        if needed > buffer.capacity() {
            // Grow geometrically (as BytesMut would), but only after reserving the room.
            let capacity = needed.max(buffer.capacity().saturating_mul(2)).min(limit);
            if let Some(lease) = lease {
                lease.reserve((capacity - buffer.capacity()) as u64)?;
            }
            buffer.reserve(capacity - buffer.len());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Some(buffer.freeze()))
}

pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

pub(crate) fn multipart_error(err: MultipartError) -> Error {
    if err.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge("Upload is larger than the configured limit".into())
    } else {
        Error::BadRequest(format!("Malformed multipart body: {}", err.body_text()))
    }
}
