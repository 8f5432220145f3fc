//! The AWS SDK settings every AWS client of this service starts from (the S3 store here,
//! the job queue in `handler`): the region and credentials it was given, else the
//! standard AWS chain (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, instance and task
//! roles), with `us-east-1` when nothing names a region.

use aws_config::ConfigLoader;
use aws_sdk_s3::config::{Credentials, Region};

use crate::{Error, Result, Secret};

/// A loader with the region and, when both are given, the access key; the caller adds
/// what its client needs (endpoint, timeouts) and loads it. One of the two keys without
/// the other is a configuration error naming `what`, never a silent fall-back to the
/// chain.
pub async fn sdk_loader(
    what: &str,
    region: Option<&str>,
    access_key_id: Option<&str>,
    secret_access_key: Option<&Secret>,
) -> Result<ConfigLoader> {
    let region = match region {
        Some(region) => Region::new(region.to_owned()),
        None => aws_config::meta::region::RegionProviderChain::default_provider()
            .region()
            .await
            .unwrap_or_else(|| Region::new("us-east-1")),
    };
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
    match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => Ok(loader.credentials_provider(Credentials::new(
            id,
            secret.expose(),
            None,
            None,
            "speech-api-settings",
        ))),
        (None, None) => Ok(loader),
        _ => Err(Error::Config(format!(
            "{what} access key id and secret access key must be set together"
        ))),
    }
}
