//! Aborting the multipart uploads that interrupted writes left in an S3 bucket.
//!
//! A process that dies between `CreateMultipartUpload` and `CompleteMultipartUpload`
//! leaves its parts stored (and billed) but invisible to every listing; only
//! `ListMultipartUploads` finds them.

use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use chrono::Utc;

use crate::s3::{s3_error, to_chrono};
use crate::{ReclaimReport, Result, S3Store};

/// Aborts the uploads under `store`'s prefix initiated more than `older_than` ago.
pub(crate) async fn abort_stale_uploads(
    store: &S3Store,
    older_than: Duration,
) -> Result<ReclaimReport> {
    let older_than = chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(older_than)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let prefix = store.prefix().as_str();
    let mut report = ReclaimReport::default();
    let (mut key_marker, mut upload_id_marker) = (None, None);
    loop {
        let page = store
            .client()
            .list_multipart_uploads()
            .bucket(store.bucket())
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_id_marker.take())
            .send()
            .await
            .map_err(|e| s3_error("ListMultipartUploads", prefix, e))?;
        for upload in page.uploads() {
            let (Some(full_key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            // An upload without a start time cannot be shown to be stale; leave it.
            if upload.initiated().is_none() || to_chrono(upload.initiated()) > cutoff {
                continue;
            }
            let Some(key) = full_key.strip_prefix(prefix) else {
                continue;
            };
            let bytes = stored_bytes(store, full_key, upload_id).await;
            match store
                .client()
                .abort_multipart_upload()
                .bucket(store.bucket())
                .key(full_key)
                .upload_id(upload_id)
                .send()
                .await
            {
                Ok(_) => {}
                // Completed or aborted by someone else since the listing: gone either way.
                Err(e) if e.code() == Some("NoSuchUpload") => continue,
                Err(e) => return Err(s3_error("AbortMultipartUpload", full_key, e)),
            }
            report.multipart_uploads_aborted.push(key.to_owned());
            report.bytes_freed += bytes;
        }
        if page.is_truncated() != Some(true) {
            return Ok(report);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        upload_id_marker = page.next_upload_id_marker().map(str::to_owned);
        if key_marker.is_none() && upload_id_marker.is_none() {
            // A truncated page without markers cannot be continued; stop rather than loop.
            return Ok(report);
        }
    }
}

/// What an upload's parts hold, for the report; 0 when the store will not say. One
/// page of parts (up to 1000) covers every upload this store makes.
async fn stored_bytes(store: &S3Store, full_key: &str, upload_id: &str) -> u64 {
    match store
        .client()
        .list_parts()
        .bucket(store.bucket())
        .key(full_key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(parts) => parts
            .parts()
            .iter()
            .filter_map(|part| part.size())
            .map(|size| u64::try_from(size).unwrap_or(0))
            .sum(),
        Err(e) => {
            tracing::debug!(key = full_key, error = %DisplayErrorContext(&e), "could not list the parts of an upload");
            0
        }
    }
}
