//! Storage URLs: `file://<dir>`, `s3://bucket/prefix` and `memory://`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{Error, KeyPrefix};

/// Where the service keeps its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// The embedded filesystem store rooted at a directory (relative paths are
    /// resolved against the working directory when the store opens).
    File(PathBuf),
    /// An S3 bucket, optionally under a key prefix shared by all objects.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Prefix inside the bucket (root when empty).
        prefix: KeyPrefix,
    },
    /// A process-local in-memory store (tests and demos; nothing survives a restart).
    Memory,
}

impl FromStr for StorageUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(Error::Config(
                    "file:// needs a directory, e.g. file://./data".into(),
                ));
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !valid_bucket {
                return Err(Error::Config(format!(
                    "invalid bucket name {bucket:?} in {url:?}: use 3-63 lowercase letters, digits, '-' or '.'"
                )));
            }
            let prefix = KeyPrefix::new(prefix)
                .map_err(|e| Error::Config(format!("invalid prefix in {url:?}: {e}")))?;
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix,
            });
        }
        if url == "memory://" || url == "memory" {
            return Ok(Self::Memory);
        }
        Err(Error::Config(format!(
            "unsupported storage URL {url:?}: use file://<dir>, s3://bucket/prefix or memory://"
        )))
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{}", prefix.as_str()),
            Self::Memory => f.write_str("memory://"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        assert_eq!(
            "file://./data".parse::<StorageUrl>().unwrap(),
            StorageUrl::File("./data".into())
        );
        assert_eq!(
            "file:///srv/x".parse::<StorageUrl>().unwrap(),
            StorageUrl::File("/srv/x".into())
        );
        assert_eq!(
            "s3://speech/prod/v1".parse::<StorageUrl>().unwrap(),
            StorageUrl::S3 {
                bucket: "speech".into(),
                prefix: KeyPrefix::new("prod/v1").unwrap()
            }
        );
        assert_eq!(
            "s3://speech".parse::<StorageUrl>().unwrap(),
            StorageUrl::S3 {
                bucket: "speech".into(),
                prefix: KeyPrefix::root()
            }
        );
        assert_eq!(
            "memory://".parse::<StorageUrl>().unwrap(),
            StorageUrl::Memory
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "./data",
            "file://",
            "s3://",
            "s3://UPPER/x",
            "s3://b/../x",
            "http://x",
        ] {
            assert!(bad.parse::<StorageUrl>().is_err(), "{bad:?}");
        }
    }
}
