//! Conditional writes: object versions and the preconditions a write can be made on,
//! so that a read-modify-write (a usage count in a sidecar) loses no update when several
//! replicas make it at once.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// An opaque object version: the S3 ETag, a content hash on the filesystem and memory
/// backends. Two versions of one key are equal when the object was not changed in
/// between (or was changed back to the same bytes, which a compare-and-swap may treat
/// as unchanged). Compare versions only with versions of the same key and store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// A version as a backend reports it (an ETag, quotes included, or a hash).
    pub fn new(version: impl Into<String>) -> Self {
        Self(version.into())
    }

    /// The version as the backend spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What must hold for a conditional write ([`crate::ObjectStore::put_if`]) to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No object exists at the key (create, never replace).
    Absent,
    /// The object exists and its current version is this one (compare-and-swap).
    Matches(Version),
}

/// The version the filesystem and memory backends give `body`: its SHA-256, in hex.
pub(crate) fn content_version(body: &[u8]) -> Version {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    Version(hex)
}

/// Checks `condition` against the `current` version of `key` (`None`: no object).
pub(crate) fn check(
    key: &impl std::fmt::Display,
    condition: &Precondition,
    current: Option<&Version>,
) -> Result<()> {
    let holds = match (condition, current) {
        (Precondition::Absent, current) => current.is_none(),
        (Precondition::Matches(expected), Some(current)) => expected == current,
        (Precondition::Matches(_), None) => false,
    };
    if holds {
        Ok(())
    } else {
        Err(Error::PreconditionFailed {
            key: key.to_string(),
        })
    }
}
