//! Conditional writes on S3: `GetObject` reports the object's ETag, and a write made on a
//! condition is one `PutObject` with `If-None-Match: *` or `If-Match: <etag>`, which the
//! service checks and applies as one step (AWS S3 since 2024, MinIO, the test server).

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chrono::Utc;

use crate::s3::s3_error;
use crate::{Error, Key, ObjectMeta, Precondition, Result, S3Store, Version};

impl S3Store {
    /// `GetObject`: the whole body and the ETag that came with it.
    pub(crate) async fn get_with_etag(&self, key: &Key) -> Result<(Bytes, Version)> {
        let output = self
            .client()
            .get_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .send()
            .await
            .map_err(|e| s3_error("GetObject", key, e))?;
        let Some(etag) = output.e_tag().map(Version::new) else {
            return Err(Error::S3 {
                operation: "GetObject",
                key: key.to_string(),
                message: "the server sent no ETag, so conditional writes cannot work".into(),
                source: None,
            });
        };
        let body = output.body.collect().await.map_err(|e| Error::S3 {
            operation: "GetObject",
            key: key.to_string(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        })?;
        Ok((body.into_bytes(), etag))
    }

    /// One `PutObject` carrying the condition, whatever the size (a multipart upload
    /// could only check it at completion, after uploading every part for nothing).
    pub(crate) async fn put_on_condition(
        &self,
        key: &Key,
        body: Bytes,
        condition: &Precondition,
    ) -> Result<ObjectMeta> {
        let size = body.len() as u64;
        let slow_link = self.body_override(body.len());
        let request = self
            .client()
            .put_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .body(ByteStream::from(body));
        let request = match condition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Matches(version) => request.if_match(version.as_str()),
        };
        let mut request = request.customize();
        if let Some(config) = slow_link {
            request = request.config_override(config);
        }
        match request
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))
        {
            Ok(_) => Ok(ObjectMeta {
                key: key.clone(),
                size,
                last_modified: Utc::now(),
            }),
            // AWS answers `If-Match` on a missing object with 404: the version asked for
            // is not the current one, like any other mismatch.
            Err(Error::NotFound { .. }) if matches!(condition, Precondition::Matches(_)) => {
                Err(Error::PreconditionFailed {
                    key: key.to_string(),
                })
            }
            Err(e) => Err(e),
        }
    }
}
