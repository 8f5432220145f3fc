//! S3 backend over `aws-sdk-s3`: AWS S3, MinIO or any S3-compatible server.
//!
//! Objects live under an optional prefix inside one bucket. Small objects are one
//! `PutObject`; large ones use a multipart upload that is aborted on failure, so a
//! failed write never leaves a partial object behind (and an upload a crash left
//! unfinished is aborted by `reclaim_incomplete_writes`). Conditional writes are in
//! [`crate::s3_conditional`].
//!
//! Every request has the deadlines of [`StoreTimeouts`]; requests that carry a body
//! get more time in proportion to its size, so a slow link is not mistaken for a
//! dead one.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{
    Error, GetStream, Key, KeyPrefix, ListOptions, ListPage, MAX_LIST_PAGE, ObjectMeta,
    ObjectStore, Precondition, ReclaimReport, Result, StoreTimeouts, Version, check_range,
};

/// Objects larger than this are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// Size of each part of a multipart upload (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// `DeleteObjects` takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;
/// Attempts per request, the first included; all of them fit in the operation deadline.
/// The SDK's standard strategy retries connection failures, attempt timeouts, 5xx answers
/// and throttling with exponential backoff and full jitter, and stops retrying while its
/// process-wide retry quota is spent (an outage does not multiply the load on the store).
const MAX_ATTEMPTS: u32 = 3;

/// Characters escaped in a `CopySource` header: everything but unreserved ones and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How to reach an S3-compatible service. Unset fields fall back to the standard
/// AWS configuration chain (environment, profile, instance or task role).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Custom endpoint such as `http://127.0.0.1:9000` (MinIO, other S3-compatible servers).
    pub endpoint: Option<String>,
    /// Region; defaults to the AWS chain's, then `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by MinIO and most local servers.
    pub path_style: bool,
    /// Access key id; with `secret_access_key`, overrides the AWS chain.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<crate::Secret>,
    /// Deadlines of each request (connection, attempt, whole operation with retries).
    pub timeouts: StoreTimeouts,
}

/// A store in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: KeyPrefix,
    endpoint: Option<String>,
    timeouts: StoreTimeouts,
}

impl S3Store {
    /// Builds a client for `bucket` (objects under `prefix`). Connects lazily:
    /// the first request reports an unreachable endpoint or a missing bucket.
    pub async fn connect(bucket: &str, prefix: &KeyPrefix, settings: &S3Settings) -> Result<Self> {
        let mut loader = crate::sdk_loader(
            "S3",
            settings.region.as_deref(),
            settings.access_key_id.as_deref(),
            settings.secret_access_key.as_ref(),
        )
        .await?;
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            // Many S3-compatible servers reject the newer default checksum headers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(timeout_config(&settings.timeouts, Duration::ZERO))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .build();
        Ok(Self {
            client: Client::from_conf(config),
            bucket: bucket.to_owned(),
            prefix: prefix.clone(),
            endpoint: settings.endpoint.clone(),
            timeouts: settings.timeouts,
        })
    }

    /// The underlying SDK client (tests use it to create buckets).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix every key of this store is under.
    pub(crate) fn prefix(&self) -> &KeyPrefix {
        &self.prefix
    }

    /// Deadlines for a request carrying `bytes` of body, when they differ from the
    /// client's: the body's time at the minimum throughput is added to the attempt and
    /// the operation. Bodies that take under a second keep the client's deadlines (and
    /// its connection pool, which the SDK keeps per set of timeouts).
    pub(crate) fn body_override(&self, bytes: usize) -> Option<aws_sdk_s3::config::Builder> {
        let bytes = bytes as u64;
        if bytes < self.timeouts.min_throughput_bytes_per_second {
            return None;
        }
        let allowance = self.timeouts.body_allowance(bytes);
        if allowance.is_zero() {
            return None;
        }
        Some(
            aws_sdk_s3::config::Builder::default()
                .timeout_config(timeout_config(&self.timeouts, allowance)),
        )
    }

    pub(crate) fn full_key(&self, key: &Key) -> String {
        format!("{}{}", self.prefix.as_str(), key.as_str())
    }

    async fn put_multipart(&self, key: &Key, full_key: &str, body: &Bytes) -> Result<()> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(full_key)
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", key, e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(key, full_key, &upload_id, body).await;
        if result.is_err() {
            // Best effort: an orphaned upload costs storage but is invisible to listings.
            if let Err(e) = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(full_key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(key = %key, error = %DisplayErrorContext(&e), "could not abort multipart upload");
            }
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &Key,
        full_key: &str,
        upload_id: &str,
        body: &Bytes,
    ) -> Result<()> {
        let mut parts = Vec::new();
        for (index, start) in (0..body.len()).step_by(PART_SIZE).enumerate() {
            let part_number =
                i32::try_from(index + 1).map_err(|_| Error::Config("too many parts".into()))?;
            let chunk = body.slice(start..(start + PART_SIZE).min(body.len()));
            let slow_link = self.body_override(chunk.len());
            let mut request = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(full_key)
                .upload_id(upload_id)
                .part_number(part_number)
                .body(ByteStream::from(chunk))
                .customize();
            if let Some(config) = slow_link {
                request = request.config_override(config);
            }
            let uploaded = request
                .send()
                .await
                .map_err(|e| s3_error("UploadPart", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .set_e_tag(uploaded.e_tag)
                    .part_number(part_number)
                    .build(),
            );
        }
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full_key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize();
        // The service assembles the whole object before it answers (S3 may take minutes
        // for a large one), so the answer gets the time of the whole body.
        if let Some(config) = self.body_override(body.len()) {
            request = request.config_override(config);
        }
        request
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }
}

/// The SDK's deadlines from ours, with `extra` added to the attempt and the operation.
/// An attempt's read deadline runs from sending the request to the first byte of the
/// answer, so it includes the upload of the body and gets `extra` too.
fn timeout_config(timeouts: &StoreTimeouts, extra: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.attempt + extra)
        .operation_attempt_timeout(timeouts.attempt + extra)
        .operation_timeout(timeouts.operation + extra)
        .build()
}

pub(crate) fn to_chrono(t: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(Utc::now)
}

pub(crate) fn s3_error<E>(
    operation: &'static str,
    key: impl std::fmt::Display,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    let code = err.code().map(str::to_owned);
    if status == Some(404) || matches!(code.as_deref(), Some("NoSuchKey" | "NotFound")) {
        return Error::NotFound {
            key: key.to_string(),
        };
    }
    // 412: a condition (`If-Match`, `If-None-Match`) did not hold. 409
    // ConditionalRequestConflict: a concurrent conditional write of the same key won;
    // AWS asks for a retry, which for the caller is the same as a mismatch.
    if status == Some(412)
        || matches!(
            code.as_deref(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
    {
        return Error::PreconditionFailed {
            key: key.to_string(),
        };
    }
    let message = DisplayErrorContext(&err).to_string();
    // What the SDK's retries (backoff with jitter, within the operation deadline and its
    // retry quota) could not get past: no connection, no answer in time, a server error
    // or throttling. An outage for the caller (503 with `Retry-After`), not a bug.
    let server_side = status.is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            code.as_deref(),
            Some(
                "SlowDown"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "ServiceUnavailable"
                    | "InternalError"
                    | "RequestTimeout"
            )
        );
    if server_side
        || matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        )
    {
        return Error::Unavailable {
            operation,
            message,
            source: Some(Box::new(err)),
        };
    }
    Error::S3 {
        operation,
        key: key.to_string(),
        message,
        source: Some(Box::new(err)),
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!(
                "s3://{}/{} at {endpoint}",
                self.bucket,
                self.prefix.as_str()
            ),
            None => format!("s3://{}/{}", self.bucket, self.prefix.as_str()),
        }
    }

    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        let full_key = self.full_key(key);
        let size = body.len() as u64;
        if body.len() > MULTIPART_THRESHOLD {
            self.put_multipart(key, &full_key, &body).await?;
        } else {
            let slow_link = self.body_override(body.len());
            let mut request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&full_key)
                .body(ByteStream::from(body))
                .customize();
            if let Some(config) = slow_link {
                request = request.config_override(config);
            }
            request
                .send()
                .await
                .map_err(|e| s3_error("PutObject", key, e))?;
        }
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            last_modified: Utc::now(),
        })
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        self.put_on_condition(key, body, &condition).await
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        self.get_with_etag(key).await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key));
        let mut known = None;
        if let Some(wanted) = range {
            let meta = self.head(key).await?;
            let wanted = check_range(key, Some(wanted), meta.size)?;
            if wanted.is_empty() {
                return Ok(GetStream {
                    meta,
                    range: wanted,
                    body: futures::stream::empty().boxed(),
                });
            }
            request = request.range(format!("bytes={}-{}", wanted.start, wanted.end - 1));
            known = Some((meta, wanted));
        }
        let output = request
            .send()
            .await
            .map_err(|e| s3_error("GetObject", key, e))?;
        let (meta, range) = match known {
            Some(known) => known,
            None => {
                let size = u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0);
                let meta = ObjectMeta {
                    key: key.clone(),
                    size,
                    last_modified: to_chrono(output.last_modified()),
                };
                (meta, 0..size)
            }
        };
        let key_name = key.to_string();
        let body = futures::stream::unfold(Some(output.body), move |state| {
            let key_name = key_name.clone();
            async move {
                let mut body = state?;
                match body.next().await {
                    Some(Ok(bytes)) => Some((Ok(bytes), Some(body))),
                    Some(Err(e)) => Some((
                        Err(Error::S3 {
                            operation: "GetObject",
                            key: key_name,
                            message: e.to_string(),
                            source: Some(Box::new(e)),
                        }),
                        None,
                    )),
                    None => None,
                }
            }
        })
        .boxed();
        Ok(GetStream { meta, range, body })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map_err(|e| s3_error("HeadObject", key, e))?;
        Ok(ObjectMeta {
            key: key.clone(),
            size: u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0),
            last_modified: to_chrono(output.last_modified()),
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match s3_error("DeleteObject", key, e) {
                Error::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(self.full_key(key)).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Config(format!("invalid delete request: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Config(format!("invalid delete request: {e}")))?;
            let first = batch.first().map(Key::to_string).unwrap_or_default();
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| s3_error("DeleteObjects", &first, e))?;
            if let Some(failed) = output
                .errors()
                .iter()
                .find(|e| e.code() != Some("NoSuchKey"))
            {
                return Err(Error::S3 {
                    operation: "DeleteObjects",
                    key: failed.key().unwrap_or_default().to_owned(),
                    message: format!(
                        "{}: {}",
                        failed.code().unwrap_or("?"),
                        failed.message().unwrap_or("")
                    ),
                    source: None,
                });
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        let full_prefix = format!("{}{}", self.prefix.as_str(), prefix.as_str());
        let max_keys = options
            .max_keys
            .unwrap_or(MAX_LIST_PAGE)
            .clamp(1, MAX_LIST_PAGE);
        let mut request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_prefix)
            .max_keys(i32::try_from(max_keys).unwrap_or(1000))
            .set_continuation_token(options.continuation.clone());
        if options.delimiter {
            request = request.delimiter("/");
        }
        let output = request
            .send()
            .await
            .map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
        let strip = |full: &str| full.strip_prefix(self.prefix.as_str()).map(str::to_owned);
        let mut page = ListPage::default();
        for object in output.contents() {
            // Keys we could not have written (invalid under our rules) are not listed.
            let Some(key) = object.key().and_then(strip).and_then(|k| Key::new(k).ok()) else {
                continue;
            };
            page.objects.push(ObjectMeta {
                key,
                size: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                last_modified: to_chrono(object.last_modified()),
            });
        }
        for common in output.common_prefixes() {
            if let Some(prefix) = common
                .prefix()
                .and_then(strip)
                .and_then(|p| KeyPrefix::new(p).ok())
            {
                page.common_prefixes.push(prefix);
            }
        }
        page.next_continuation = if output.is_truncated() == Some(true) {
            output.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        Ok(page)
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        let source = format!(
            "{}/{}",
            self.bucket,
            utf8_percent_encode(&self.full_key(from), COPY_SOURCE)
        );
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full_key(to))
            .copy_source(source)
            .send()
            .await
            .map_err(|e| s3_error("CopyObject", from, e))?;
        Ok(())
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        crate::s3_reclaim::abort_stale_uploads(self, older_than).await
    }

    async fn presigned_get(&self, key: &Key, expires_in: Duration) -> Result<Option<String>> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::Config(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .presigned(config)
            .await
            .map_err(|e| s3_error("GetObject (presign)", key, e))?;
        Ok(Some(request.uri().to_owned()))
    }
}
