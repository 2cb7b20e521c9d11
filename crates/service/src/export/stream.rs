//! Reading a finished archive for its download.

use super::Download;
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_store::{ByteStream, StoreError};
use std::ops::Range;

impl Hiatus {
    /// Streams the bytes `range` of the archive a download link opened
    /// ([`Hiatus::open_download`]); the range must lie inside it. An archive gone from the
    /// store (expired, or erased with its member) is `Gone` with the code `export_expired`;
    /// any other failure of the store is `Internal`, for the caller to answer "try again".
    pub async fn read_download(
        &self,
        d: &Download,
        range: Range<u64>,
    ) -> ServiceResult<ByteStream> {
        self.blobs.read(&d.key, range).await.map_err(|e| match e {
            StoreError::Blob(io) if io.kind() == std::io::ErrorKind::NotFound => {
                ServiceError::Gone {
                    code: "export_expired",
                    message: "this export is no longer available; request a new one".into(),
                }
            }
            e => ServiceError::Internal(e),
        })
    }
}
