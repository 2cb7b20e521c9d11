//! Blobs in an S3-compatible object store, through the `object_store` crate.

use super::{ByteStream, not_found};
use crate::error::{StoreError, StoreResult};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart,
};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Size of one part of a multipart upload (S3 wants at least 5 MiB but for the last).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts uploaded at once while an archive is published.
const PARTS_IN_FLIGHT: usize = 4;

/// How to reach the object store; what is unset comes from the `AWS_…` environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT`, …) as the AWS tools read them.
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// An S3-compatible server instead of AWS (`http://127.0.0.1:9000`); plain `http://`
    /// is allowed for such an endpoint.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for logs.
    url: String,
    endpoint: Option<String>,
    spool: PathBuf,
}

fn err(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { path, .. } => not_found(&path),
        e => StoreError::Blob(std::io::Error::other(e.to_string())),
    }
}

/// `s3://bucket/a/b` → ("bucket", "a/b").
fn parse(url: &str) -> StoreResult<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        StoreError::Config(format!(
            "the object store must be an s3:// URL (s3://bucket/prefix), not {url:?}"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StoreError::Config(
            "the object store URL names no bucket (s3://bucket/prefix)".into(),
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") {
        return Err(StoreError::Config(
            "the object store prefix must not contain . or .. segments".into(),
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

impl ObjectBlobs {
    pub(super) fn new(url: &str, o: &S3Options, spool: PathBuf) -> StoreResult<Self> {
        let (bucket, prefix) = parse(url)?;
        // A few quick retries: a worker retries its whole job later anyway, and a server
        // should answer a download (or its failure) in bounded time.
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_retry(RetryConfig {
                max_retries: 4,
                retry_timeout: std::time::Duration::from_secs(60),
                ..Default::default()
            });
        if let Some(ep) = &o.endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"))
                // S3-compatible servers are addressed by path (`endpoint/bucket/key`).
                .with_virtual_hosted_style_request(false);
        }
        if let Some(r) = &o.region {
            b = b.with_region(r);
        }
        if let Some(k) = &o.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &o.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let s3 = b
            .build()
            .map_err(|e| StoreError::Config(format!("the object store {url}: {e}")))?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix.as_str()))
        };
        std::fs::create_dir_all(&spool)?;
        Ok(ObjectBlobs {
            store,
            url: format!(
                "s3://{bucket}{}{prefix}",
                if prefix.is_empty() { "" } else { "/" }
            ),
            endpoint: o.endpoint.clone(),
            spool,
        })
    }

    pub(super) fn describe(&self) -> String {
        match &self.endpoint {
            Some(ep) => format!("{} at {ep}", self.url),
            None => self.url.clone(),
        }
    }

    pub(super) fn spool(&self) -> &Path {
        &self.spool
    }

    fn path(key: &str) -> StoreResult<ObjectPath> {
        ObjectPath::parse(key).map_err(|e| StoreError::Corrupt(format!("blob key {key:?}: {e}")))
    }

    pub(super) async fn put(&self, key: &str, bytes: &[u8]) -> StoreResult<()> {
        self.store
            .put(&Self::path(key)?, bytes.to_vec().into())
            .await
            .map_err(err)?;
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> StoreResult<Vec<u8>> {
        let r = self.store.get(&Self::path(key)?).await.map_err(err)?;
        Ok(r.bytes().await.map_err(err)?.to_vec())
    }

    pub(super) async fn size(&self, key: &str) -> StoreResult<Option<u64>> {
        match self.store.head(&Self::path(key)?).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    pub(super) async fn read(&self, key: &str, range: Range<u64>) -> StoreResult<ByteStream> {
        if range.is_empty() {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let r = self
            .store
            .get_opts(
                &Self::path(key)?,
                GetOptions {
                    range: Some(GetRange::Bounded(range)),
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
        Ok(Box::pin(r.into_stream().map(|c| {
            c.map_err(|e| std::io::Error::other(e.to_string()))
        })))
    }

    pub(super) async fn list(&self, folder: &str) -> StoreResult<Vec<String>> {
        use futures_util::TryStreamExt;
        let prefix = Self::path(folder)?;
        let mut out: Vec<String> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .map_err(err)?;
        out.sort();
        Ok(out)
    }

    pub(super) async fn delete(&self, key: &str) -> StoreResult<()> {
        match self.store.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// Uploads a local file in parts, a few at a time; a failed upload is aborted so that no
    /// parts are left behind.
    pub(super) async fn upload(&self, key: &str, file: &Path) -> StoreResult<u64> {
        let upload = self
            .store
            .put_multipart(&Self::path(key)?)
            .await
            .map_err(err)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let sent = async {
            let mut f = tokio::fs::File::open(file).await?;
            let mut buf = vec![0u8; PART_BYTES];
            let mut total = 0u64;
            loop {
                w.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(err)?;
                let mut filled = 0;
                while filled < buf.len() {
                    let n = f.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    return Ok::<u64, StoreError>(total);
                }
                w.write(&buf[..filled]);
                total += filled as u64;
            }
        }
        .await;
        match sent {
            Ok(total) => {
                w.finish().await.map_err(err)?;
                Ok(total)
            }
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn urls() {
        assert_eq!(parse("s3://b").unwrap(), ("b".into(), "".into()));
        assert_eq!(parse("s3://b/").unwrap(), ("b".into(), "".into()));
        assert_eq!(parse("s3://b/x/y/").unwrap(), ("b".into(), "x/y".into()));
        assert!(parse("http://b/x").is_err());
        assert!(parse("s3:///x").is_err());
        assert!(parse("s3://b/../x").is_err());
    }
}
