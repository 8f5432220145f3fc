//! A small multipart/form-data encoder for requests built by hand.

/// A form under construction.
#[derive(Debug, Default, Clone)]
pub struct Form {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        });
        self
    }

    /// Adds a file field.
    pub fn file(mut self, name: &str, file_name: &str, data: impl Into<Vec<u8>>) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name: Some(file_name.into()),
            content_type: Some("application/octet-stream".into()),
            data: data.into(),
        });
        self
    }

    /// The `Content-Type` header value and the encoded body.
    pub fn encode(&self) -> (String, Vec<u8>) {
        let boundary = "----speech-api-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
            if let Some(file_name) = &part.file_name {
                disposition.push_str(&format!("; filename=\"{file_name}\""));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}
