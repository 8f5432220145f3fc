//! The storage error type shared by every backend.

/// Anything that can go wrong talking to an object store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key or prefix broke the [`crate::Key`] rules; the request must not reach a backend.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key (truncated to 200 characters).
        key: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// The object does not exist.
    #[error("object not found: {key}")]
    NotFound {
        /// The missing key.
        key: String,
    },

    /// A byte range outside the object was asked for.
    #[error("range {start}..{end} is outside object {key} of {size} bytes")]
    InvalidRange {
        /// The object.
        key: String,
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The object's size.
        size: u64,
    },

    /// The key collides with an existing one on a store with real folders: a file where
    /// a folder of the key is, or a folder where the file would go (`a.wav` and
    /// `a.wav/b.wav` cannot both exist on a filesystem).
    #[error("{key} cannot be written: {reason}")]
    Conflict {
        /// The key written.
        key: String,
        /// Which collision.
        reason: &'static str,
    },

    /// A conditional write ([`crate::ObjectStore::put_if`]) found the object in another
    /// state than its [`crate::Precondition`] asked for: another writer got there first.
    /// Nothing was written; read the object again and retry.
    #[error("{key} was changed by another writer; read it again and retry")]
    PreconditionFailed {
        /// The key written.
        key: String,
    },

    /// A storage URL or setting could not be understood.
    #[error("invalid storage configuration: {0}")]
    Config(String),

    /// The filesystem backend failed.
    #[error("filesystem error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The backend could not be reached (connection refused, DNS, timeout), or kept
    /// answering with server errors or throttling after the retries.
    #[error("storage unreachable during {operation}: {message}")]
    Unavailable {
        /// The operation that could not be sent.
        operation: &'static str,
        /// A readable summary of the transport error.
        message: String,
        /// The underlying error, kept for logs.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The S3 backend failed.
    #[error("S3 {operation} failed for {key}: {message}")]
    S3 {
        /// The S3 operation (`PutObject`, `ListObjectsV2`, ...).
        operation: &'static str,
        /// The key or prefix involved.
        key: String,
        /// A readable summary of the service or transport error.
        message: String,
        /// The SDK error, kept for logs.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// Whether the error means "no such object".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether the error is [`Error::PreconditionFailed`] (retry the read-modify-write).
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, Self::PreconditionFailed { .. })
    }

    /// A filesystem error while writing `path`: a file in the way of a folder, or a
    /// folder in the way of the file, is a [`Error::Conflict`].
    pub(crate) fn io_write(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        let reason = match source.kind() {
            // create_dir_all reports a file in the way as "exists" (mkdir's EEXIST).
            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
                "a file has the name of one of its folders"
            }
            std::io::ErrorKind::IsADirectory | std::io::ErrorKind::DirectoryNotEmpty => {
                "a folder has its name"
            }
            _ => return Self::io(path, source),
        };
        Self::Conflict {
            key: path.to_string(),
            reason,
        }
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        // A path through a file ("a.wav/b.wav" where a.wav is a file) does not exist.
        if matches!(
            source.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ) {
            return Self::NotFound {
                key: path.to_string(),
            };
        }
        Self::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Result alias for storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
