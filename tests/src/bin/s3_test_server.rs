//! `s3-test-server`: a real S3-compatible server (s3s-fs: SigV4 auth, path-style,
//! objects as files under a root directory) for tests and for local development
//! without Docker. Listens on loopback; port 0 picks a free port, printed on stdout.
//!
//! s3s-fs does not implement `ListMultipartUploads`, which the store's cleanup of
//! interrupted uploads needs; [`TestS3`] adds it over s3s-fs's own bookkeeping files.
//!
//! s3s-fs checks `If-Match` / `If-None-Match` and then writes, in separate steps, and
//! writes an object's file before the bookkeeping file its ETag is read from; two
//! conditional writes could both pass their check, and a read could pair new bytes with an
//! old ETag (or old bytes with a new one). [`TestS3`] makes each key's writes one at a
//! time and keeps reads out of a write in progress ([`KeyLocks`]), as S3 does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// Serves an S3-compatible API over a directory.
#[derive(Debug, Parser)]
#[command(name = "s3-test-server", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Access key clients must sign with.
    #[arg(long, default_value = "speechtest")]
    access_key: String,

    /// Secret key clients must sign with.
    #[arg(long, default_value = "speechtest-secret")]
    secret_key: String,

    /// Buckets to create at startup (each is a directory under the root).
    #[arg(long)]
    bucket: Vec<String>,

    /// Fault injection for retry tests: a file holding `N [CODE [STATUS]]` makes the next N
    /// requests fail with that S3 error code (default `SlowDown`) and status (default 503),
    /// counting down in the file; a missing or empty file injects nothing.
    #[arg(long)]
    faults: Option<PathBuf>,

    /// Directory holding the buckets.
    root: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("cannot create {}", args.root.display()))?;
    for bucket in &args.bucket {
        std::fs::create_dir_all(args.root.join(bucket))
            .with_context(|| format!("cannot create bucket {bucket}"))?;
    }
    let fs = s3s_fs::FileSystem::new(&args.root)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", args.root.display()))?;
    let root = args
        .root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", args.root.display()))?;
    let mut builder = S3ServiceBuilder::new(TestS3 {
        fs,
        root,
        keys: KeyLocks::default(),
    });
    builder.set_auth(SimpleAuth::from_single(
        args.access_key.clone(),
        args.secret_key.clone(),
    ));
    let service = builder.build();

    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .context("cannot listen")?;
    println!(
        "s3-test-server listening on http://{}",
        listener.local_addr()?
    );
    let server = ConnBuilder::new(TokioExecutor::new());
    let faults = Arc::new(Faults {
        file: args.faults.clone(),
        lock: Mutex::new(()),
    });
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let (service, faults) = (service.clone(), Arc::clone(&faults));
        let faulty = hyper::service::service_fn(move |request| {
            let (service, faults) = (service.clone(), Arc::clone(&faults));
            async move {
                match faults.take() {
                    Some(fault) => Ok(fault),
                    None => hyper::service::Service::call(&service, request).await,
                }
            }
        });
        let connection = server
            .serve_connection(TokioIo::new(socket), faulty)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

/// Injected failures (`--faults`): the file is the count, so a test changes it at any time.
struct Faults {
    file: Option<PathBuf>,
    lock: Mutex<()>,
}

impl Faults {
    /// The error answer for this request when a failure is due (and counts it down).
    fn take(&self) -> Option<http::Response<s3s::Body>> {
        let file = self.file.as_ref()?;
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let text = std::fs::read_to_string(file).ok()?;
        let mut words = text.split_whitespace();
        let count: u64 = words.next()?.parse().ok()?;
        if count == 0 {
            return None;
        }
        let code = words.next().unwrap_or("SlowDown").to_owned();
        let status: u16 = words.next().and_then(|s| s.parse().ok()).unwrap_or(503);
        std::fs::write(file, format!("{} {code} {status}", count - 1)).ok()?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>injected failure</Message></Error>"
        );
        http::Response::builder()
            .status(status)
            .header("content-type", "application/xml")
            .body(s3s::Body::from(body))
            .ok()
    }
}

/// s3s-fs with `ListMultipartUploads`, and with atomic writes and consistent ETags.
struct TestS3 {
    fs: s3s_fs::FileSystem,
    /// The directory s3s-fs keeps its buckets and bookkeeping files in.
    root: PathBuf,
    /// Per-key locks around writes (exclusive) and reads (shared).
    keys: KeyLocks,
}

/// One read-write lock per `(bucket, key)` in use: every write of the key (put, copy to
/// it, delete, completion of a multipart upload) holds it exclusively, so a conditional
/// `PutObject` checks and writes as one step; `GetObject` and `HeadObject` hold it shared
/// while s3s-fs opens the file and reads the ETag, so both come from the same write (the
/// body then streams from the file already open, which a later write replaces by a rename
/// and never changes).
#[derive(Default)]
struct KeyLocks {
    locks: Mutex<HashMap<ObjectId, Weak<RwLock<()>>>>,
}

/// `(bucket, key)`.
type ObjectId = (String, String);

impl KeyLocks {
    fn lock_for(&self, bucket: &str, key: &str) -> Arc<RwLock<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let id = (bucket.to_owned(), key.to_owned());
        if let Some(lock) = locks.get(&id).and_then(Weak::upgrade) {
            return lock;
        }
        // Drop the entries nobody holds, so the map stays as small as the keys in use.
        locks.retain(|_, weak| weak.strong_count() > 0);
        let lock = Arc::new(RwLock::new(()));
        locks.insert(id, Arc::downgrade(&lock));
        lock
    }

    async fn write(&self, bucket: &str, key: &str) -> OwnedRwLockWriteGuard<()> {
        self.lock_for(bucket, key).write_owned().await
    }

    async fn read(&self, bucket: &str, key: &str) -> OwnedRwLockReadGuard<()> {
        self.lock_for(bucket, key).read_owned().await
    }

    /// Exclusive locks on several keys, taken in key order so that two callers cannot
    /// each hold a lock the other waits for.
    async fn write_all(&self, bucket: &str, keys: &[String]) -> Vec<OwnedRwLockWriteGuard<()>> {
        let mut keys: Vec<&String> = keys.iter().collect();
        keys.sort();
        keys.dedup();
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            guards.push(self.write(bucket, key).await);
        }
        guards
    }
}

/// Implements [`S3`] for [`TestS3`]: the listed operations go to s3s-fs unchanged, those
/// that read or write one object's file go to it under [`KeyLocks`], and
/// `ListMultipartUploads` to [`TestS3::list_uploads`]. (One macro for the whole impl,
/// because `async_trait` must see every method it rewrites.)
macro_rules! delegate_to_s3s_fs {
    ($($method:ident: $input:ident => $output:ident),* $(,)?) => {
        #[async_trait::async_trait]
        impl S3 for TestS3 {
            $(
                async fn $method(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.fs.$method(req).await
                }
            )*

            async fn list_multipart_uploads(
                &self,
                req: S3Request<ListMultipartUploadsInput>,
            ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
                self.list_uploads(req.input).map(S3Response::new)
            }

            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                self.refuse_folder(&req.input.bucket, &req.input.key)?;
                let _read = self.keys.read(&req.input.bucket, &req.input.key).await;
                self.fs.get_object(req).await
            }

            async fn head_object(
                &self,
                req: S3Request<HeadObjectInput>,
            ) -> S3Result<S3Response<HeadObjectOutput>> {
                self.refuse_folder(&req.input.bucket, &req.input.key)?;
                let _read = self.keys.read(&req.input.bucket, &req.input.key).await;
                self.fs.head_object(req).await
            }

            async fn put_object(
                &self,
                req: S3Request<PutObjectInput>,
            ) -> S3Result<S3Response<PutObjectOutput>> {
                let _write = self.keys.write(&req.input.bucket, &req.input.key).await;
                self.fs.put_object(req).await
            }

            async fn copy_object(
                &self,
                req: S3Request<CopyObjectInput>,
            ) -> S3Result<S3Response<CopyObjectOutput>> {
                let _write = self.keys.write(&req.input.bucket, &req.input.key).await;
                self.fs.copy_object(req).await
            }

            async fn delete_object(
                &self,
                req: S3Request<DeleteObjectInput>,
            ) -> S3Result<S3Response<DeleteObjectOutput>> {
                let _write = self.keys.write(&req.input.bucket, &req.input.key).await;
                self.fs.delete_object(req).await
            }

            async fn delete_objects(
                &self,
                req: S3Request<DeleteObjectsInput>,
            ) -> S3Result<S3Response<DeleteObjectsOutput>> {
                let keys: Vec<String> =
                    req.input.delete.objects.iter().map(|o| o.key.clone()).collect();
                let _writes = self.keys.write_all(&req.input.bucket, &keys).await;
                self.fs.delete_objects(req).await
            }

            async fn complete_multipart_upload(
                &self,
                req: S3Request<CompleteMultipartUploadInput>,
            ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
                let _write = self.keys.write(&req.input.bucket, &req.input.key).await;
                self.fs.complete_multipart_upload(req).await
            }
        }
    };
}

// Every other operation s3s-fs 0.14.1 implements (its `impl S3 for FileSystem`).
delegate_to_s3s_fs!(
    create_bucket: CreateBucketInput => CreateBucketOutput,
    delete_bucket: DeleteBucketInput => DeleteBucketOutput,
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
    head_bucket: HeadBucketInput => HeadBucketOutput,
    list_buckets: ListBucketsInput => ListBucketsOutput,
    list_objects: ListObjectsInput => ListObjectsOutput,
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
    upload_part: UploadPartInput => UploadPartOutput,
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
    list_parts: ListPartsInput => ListPartsOutput,
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
);

/// One in-progress upload found in s3s-fs's bookkeeping.
struct Upload {
    key: String,
    upload_id: String,
    initiated: SystemTime,
}

impl TestS3 {
    /// s3s-fs keeps objects as files, so a key naming a "folder" (`outputs/book` while
    /// `outputs/book/a.wav` exists) is a directory, which it answers with an internal
    /// error; S3 has no such key.
    fn refuse_folder(&self, bucket: &str, key: &str) -> S3Result<()> {
        let plain = !key.split('/').any(|s| s == ".." || s == ".");
        if plain && self.root.join(bucket).join(key).is_dir() {
            return Err(s3_error!(NoSuchKey));
        }
        Ok(())
    }

    /// `ListMultipartUploads` without a delimiter: the uploads of `bucket` under `prefix`,
    /// by key then upload id, after the markers, at most `max_uploads` (1000) per page.
    fn list_uploads(
        &self,
        input: ListMultipartUploadsInput,
    ) -> S3Result<ListMultipartUploadsOutput> {
        if input.delimiter.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "ListMultipartUploads with a delimiter is not implemented"
            ));
        }
        if !self.root.join(&input.bucket).is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut uploads: Vec<Upload> = in_progress_uploads(&self.root, &input.bucket)
            .map_err(S3Error::internal_error)?
            .into_iter()
            .filter(|upload| upload.key.starts_with(&prefix))
            .collect();
        uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        if let Some(key_marker) = input.key_marker.as_deref().filter(|m| !m.is_empty()) {
            let id_marker = input.upload_id_marker.as_deref().unwrap_or_default();
            uploads.retain(|u| {
                u.key.as_str() > key_marker
                    || (!id_marker.is_empty()
                        && u.key == key_marker
                        && u.upload_id.as_str() > id_marker)
            });
        }
        let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(1, 1000)).unwrap_or(1000);
        let is_truncated = uploads.len() > max;
        uploads.truncate(max);
        let (next_key_marker, next_upload_id_marker) = match uploads.last() {
            Some(last) if is_truncated => (Some(last.key.clone()), Some(last.upload_id.clone())),
            _ => (None, None),
        };
        Ok(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: i32::try_from(max).ok(),
            is_truncated: Some(is_truncated),
            next_key_marker,
            next_upload_id_marker,
            uploads: Some(
                uploads
                    .into_iter()
                    .map(|u| MultipartUpload {
                        key: Some(u.key),
                        upload_id: Some(u.upload_id),
                        initiated: Some(u.initiated.into()),
                        ..MultipartUpload::default()
                    })
                    .collect(),
            ),
            ..ListMultipartUploadsOutput::default()
        })
    }
}

/// The uploads of `bucket` in progress: s3s-fs writes
/// `.bucket-<base64url(bucket)>.object-<base64url(key)>.upload-<uuid>.metadata.json` when
/// one starts, and `.upload-<uuid>.json` while it may still be completed or aborted.
fn in_progress_uploads(root: &Path, bucket: &str) -> std::io::Result<Vec<Upload>> {
    let bucket_part = format!(".bucket-{}.object-", URL_SAFE_NO_PAD.encode(bucket));
    let mut uploads = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&bucket_part))
            .and_then(|n| n.strip_suffix(".metadata.json"))
        else {
            continue;
        };
        // Base64url has no '.', so the first ".upload-" ends the key.
        let Some((encoded_key, upload_id)) = rest.split_once(".upload-") else {
            continue;
        };
        let Some(key) = URL_SAFE_NO_PAD
            .decode(encoded_key)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            continue;
        };
        if !root.join(format!(".upload-{upload_id}.json")).is_file() {
            continue;
        }
        let initiated = match entry.metadata().and_then(|md| md.modified()) {
            Ok(time) => time,
            // Completed or aborted since the directory was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        uploads.push(Upload {
            key,
            upload_id: upload_id.to_owned(),
            initiated,
        });
    }
    Ok(uploads)
}
