//! Filesystem backend, the embedded default: one file per object under a root directory.
//!
//! Writes go to a dot-named temporary file in the destination directory and are
//! renamed into place, so readers never see a torn object and a crash leaves at
//! most a hidden temporary file, which `reclaim_incomplete_writes` removes once it is
//! old enough. Folders exist only while they hold objects, as on S3: deleting the
//! last object of a folder removes the empty directories.
//!
//! Several processes may share the directory (replicas on one disk): every change of an
//! object's file happens under its directory's lock ([`crate::fs_lock`]), so a
//! conditional write compares the current content's hash and renames its file in as
//! one step. The lock covers only that step; the body is written and flushed first.

use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::conditional::{check, content_version};
use crate::fs_listing::{self, DirIndex, meta_from};
use crate::fs_lock::{lock_dir, lock_dirs, prune_empty_dirs};
use crate::{
    Entry, Error, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta,
    ObjectStore, Precondition, ReclaimReport, Result, Version, check_range, into_listing, paginate,
};

/// How the names of writes' temporary files start (hidden, so listings skip them).
pub(crate) const TEMP_PREFIX: &str = ".tmp-";
const READ_CHUNK: usize = 64 * 1024;

/// A store rooted at a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    index: Arc<DirIndex>,
}

impl FsStore {
    /// Opens (creating if needed) the store rooted at `dir`; relative paths are
    /// resolved against the current working directory once, here.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
            let root = dir
                .canonicalize()
                .map_err(|e| Error::io(dir.display(), e))?;
            Ok(Self {
                root,
                index: Arc::default(),
            })
        })
        .await
    }

    /// The absolute root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &Key) -> PathBuf {
        // Safe: a Key has no absolute, empty, dot or backslash segments.
        self.root.join(key.as_str())
    }

    fn dir_of(&self, prefix: &KeyPrefix) -> PathBuf {
        self.root.join(prefix.trimmed())
    }

    /// Every object under `prefix` (one folder level, with prefixes, for `delimiter`), unsorted.
    async fn entries(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Vec<Entry>> {
        let dir = self.dir_of(prefix);
        let prefix = prefix.clone();
        let index = self.index.clone();
        blocking(move || {
            let mut entries = Vec::new();
            let listed = if delimiter {
                fs_listing::list_one_level(&dir, prefix.as_str(), &mut entries)
            } else {
                index.list(&dir, prefix.as_str(), &mut entries)
            };
            listed.map_err(|e| Error::io(prefix.as_str(), e))?;
            Ok(entries)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io {
            path: "<blocking task>".into(),
            source: std::io::Error::other(e),
        })?
}

/// The metadata of the file holding `key`; a directory or a missing path is `NotFound`.
fn object_metadata(path: &Path, key: &Key) -> Result<std::fs::Metadata> {
    let md = std::fs::metadata(path).map_err(map_io(key))?;
    if md.is_file() {
        Ok(md)
    } else {
        Err(Error::NotFound {
            key: key.to_string(),
        })
    }
}

fn map_io(key: &Key) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(key, e)
}

/// Writes `body` to a new temporary file in `dir` (created if needed) and flushes it to
/// disk; the caller renames it into place or removes it.
fn write_temp(dir: &Path, body: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = match std::fs::File::create(&temp) {
            // A concurrent delete or cleanup pruned the directory, empty until this
            // file exists; once it does, nobody can prune it.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                std::fs::File::create(&temp)?
            }
            other => other?,
        };
        file.write_all(body)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// The directory of an object's file.
fn parent_of<'a>(path: &'a Path, key: &Key) -> Result<&'a Path> {
    path.parent().ok_or_else(|| Error::NotFound {
        key: key.to_string(),
    })
}

/// Writes `body` at `path` (the file of `key`): a temporary file renamed into place under
/// the directory's lock, and only if `condition` (when given) holds at that moment.
fn write_object(
    path: &Path,
    key: &Key,
    body: &[u8],
    condition: Option<&Precondition>,
) -> Result<ObjectMeta> {
    let dir = parent_of(path, key)?;
    let temp = write_temp(dir, body).map_err(|e| Error::io_write(key, e))?;
    let result = (|| {
        let _lock = lock_dir(dir).map_err(|e| Error::io_write(key, e))?;
        if let Some(condition) = condition {
            check(
                key,
                condition,
                current_version(path, key, condition)?.as_ref(),
            )?;
        }
        std::fs::rename(&temp, path).map_err(|e| Error::io_write(key, e))?;
        let md = std::fs::metadata(path).map_err(map_io(key))?;
        Ok(meta_from(key.clone(), &md))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// The version of the object at `path` as far as `condition` needs it: whether one
/// exists for [`Precondition::Absent`], its content hash for [`Precondition::Matches`].
/// Call with the directory locked.
fn current_version(path: &Path, key: &Key, condition: &Precondition) -> Result<Option<Version>> {
    let missing = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
        )
    };
    match condition {
        // Absent asks only whether an object exists, so any version will do.
        Precondition::Absent => match std::fs::metadata(path) {
            Ok(md) if md.is_file() => Ok(Some(Version::new("exists"))),
            Ok(_) => Ok(None),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(Error::io(key, e)),
        },
        Precondition::Matches(_) => match std::fs::read(path) {
            Ok(body) => Ok(Some(content_version(&body))),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(Error::io(key, e)),
        },
    }
}

#[async_trait]
impl ObjectStore for FsStore {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn kind(&self) -> &'static str {
        "filesystem"
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking(move || write_object(&path, &key, &body, None)).await
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking(move || write_object(&path, &key, &body, Some(&condition))).await
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking(move || {
            object_metadata(&path, &key)?;
            // One read of a file that writers only ever replace by a rename: the hash is
            // of exactly these bytes.
            let body = std::fs::read(&path).map_err(map_io(&key))?;
            let version = content_version(&body);
            Ok((Bytes::from(body), version))
        })
        .await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        let path = self.path_of(key);
        let owned_key = key.clone();
        let (file, meta, range) = blocking(move || {
            let key = owned_key;
            let mut file = std::fs::File::open(&path).map_err(map_io(&key))?;
            let md = file.metadata().map_err(map_io(&key))?;
            if !md.is_file() {
                return Err(Error::NotFound {
                    key: key.to_string(),
                });
            }
            let range = check_range(&key, range, md.len())?;
            if range.start > 0 {
                file.seek(SeekFrom::Start(range.start))
                    .map_err(map_io(&key))?;
            }
            Ok((file, meta_from(key, &md), range))
        })
        .await?;
        let reader = tokio::fs::File::from_std(file).take(range.end - range.start);
        let key_name = key.to_string();
        let body = ReaderStream::with_capacity(reader, READ_CHUNK)
            .map(move |chunk| chunk.map_err(|e| Error::io(&key_name, e)))
            .boxed();
        Ok(GetStream { meta, range, body })
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking(move || {
            object_metadata(&path, &key)?;
            std::fs::read(&path).map(Bytes::from).map_err(map_io(&key))
        })
        .await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking(move || {
            let md = object_metadata(&path, &key)?;
            Ok(meta_from(key, &md))
        })
        .await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.delete_many(std::slice::from_ref(key)).await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        let root = self.root.clone();
        let keys = keys.to_vec();
        blocking(move || {
            for key in &keys {
                let path = root.join(key.as_str());
                match std::fs::symlink_metadata(&path) {
                    Ok(_) => {}
                    // Nothing to delete, and no lock file to leave in a folder that has none.
                    Err(e)
                        if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) =>
                    {
                        continue;
                    }
                    Err(e) => return Err(Error::io(key, e)),
                }
                let dir = parent_of(&path, key)?;
                let removed = {
                    let _lock = lock_dir(dir).map_err(|e| Error::io(key, e))?;
                    std::fs::remove_file(&path)
                };
                // Pruning needs the lock, so it comes after the lock is released.
                prune_empty_dirs(&root, dir);
                match removed {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(key, e)),
                }
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        let entries = self.entries(prefix, options.delimiter).await?;
        Ok(paginate(entries, &options))
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        Ok(into_listing(self.entries(prefix, delimiter).await?))
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        let (src, dst) = (self.path_of(from), self.path_of(to));
        let (from, to) = (from.clone(), to.clone());
        blocking(move || {
            object_metadata(&src, &from)?;
            let dir = parent_of(&dst, &to)?;
            // An empty temporary file first, so the folder cannot be pruned under the copy.
            let temp = write_temp(dir, &[]).map_err(|e| Error::io_write(&to, e))?;
            let result = std::fs::copy(&src, &temp)
                .map_err(|e| Error::io(&from, e))
                .and_then(|_| {
                    let _lock = lock_dir(dir).map_err(|e| Error::io_write(&to, e))?;
                    std::fs::rename(&temp, &dst).map_err(|e| Error::io_write(&to, e))
                });
            if result.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            result
        })
        .await
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        let root = self.root.clone();
        let (src, dst) = (self.path_of(from), self.path_of(to));
        let (from, to) = (from.clone(), to.clone());
        blocking(move || {
            object_metadata(&src, &from)?;
            let (src_dir, dst_dir) = (parent_of(&src, &from)?, parent_of(&dst, &to)?);
            let moved = lock_dirs(src_dir, dst_dir)
                .map_err(|e| Error::io_write(&to, e))
                .and_then(|_locks| {
                    std::fs::rename(&src, &dst).map_err(|e| Error::io_write(&to, e))
                });
            // After the locks are released: pruning needs them.
            prune_empty_dirs(&root, src_dir);
            if moved.is_err() {
                prune_empty_dirs(&root, dst_dir);
            }
            moved
        })
        .await
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        let root = self.root.clone();
        blocking(move || crate::fs_reclaim::reclaim(&root, older_than)).await
    }
}
