//! Where a run reads and writes: a local path, or a folder in an object store (`s3://`,
//! `gs://`, `az://`) reached through object_store. [`Location::parse`] builds one from a
//! config value or a flag; credentials and endpoints come from the environment (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`, as the cloud SDKs read them) and are never printed: a location
//! displays as its URL without user info.
//!
//! The engine reads and writes local files only. Remote inputs are fetched into a local
//! folder before ingest ([`Remote::fetch`]); outputs are written locally and uploaded by
//! the publishing modules. Data moves one way and the engine never sees a URL.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::config_error::ConfigError;

/// An object-store operation that failed (exit code 6, or 3 when an input is missing).
#[derive(Debug, thiserror::Error)]
#[error(
    "{action} {url}: {cause}. Check the URL, the credentials in the environment (AWS_*, GOOGLE_*, AZURE_*) and that the store is reachable"
)]
pub struct StoreError {
    pub action: &'static str,
    pub url: String,
    /// Shown in the message, not chained: object_store's errors already repeat their
    /// sources in their text, and the chain would print each of them again.
    pub cause: object_store::Error,
}

impl StoreError {
    /// Whether the object did not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.cause, object_store::Error::NotFound { .. })
    }
}

/// A local folder or file, or a prefix in an object store.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Remote(Remote),
}

impl Location {
    /// Parse `text`: a URL with a scheme object_store knows (`s3`, `s3a`, `gs`, `az`,
    /// `abfs`, `abfss`), a `file://` URL, or a local path (relative paths are resolved
    /// against `base`).
    pub fn parse(text: &str, base: &Path) -> Result<Location, ConfigError> {
        let Some((scheme, _)) = text.split_once("://") else {
            let path = Path::new(text);
            return Ok(Location::Local(if path.is_absolute() { path.to_path_buf() } else { base.join(path) }));
        };
        if scheme == "file" {
            return Ok(Location::Local(PathBuf::from(&text["file://".len()..])));
        }
        Remote::parse(text).map(Location::Remote)
    }

    /// Whether an output was published here (a root `_manifest.json` exists).
    pub fn has_published(&self) -> anyhow::Result<bool> {
        match self {
            Location::Local(root) => Ok(root.join(crate::layout::MANIFEST).exists()),
            Location::Remote(r) => Ok(r.exists(crate::layout::MANIFEST)?),
        }
    }

    /// Whether this is an object-store location.
    pub fn is_remote(&self) -> bool {
        matches!(self, Location::Remote(_))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Remote(r) => write!(f, "{}", r.url),
        }
    }
}

/// A prefix in an object store, with the runtime that drives its requests.
#[derive(Clone)]
pub struct Remote {
    /// `scheme://bucket/prefix`, without user info and without a trailing slash.
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Files larger than this go up in parts.
const PART_BYTES: usize = 16 << 20;

impl Remote {
    fn parse(text: &str) -> Result<Remote, ConfigError> {
        let bad = |why: String| ConfigError(format!("`{}`: {why}", redact(text)));
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("not a URL".into()))?;
        if rest.contains(['?', '#']) {
            return Err(bad(
                "a query string does not belong in the URL (it can carry credentials: aws_secret_access_key=, sig=, \
                 X-Amz-Credential=, …); name the object or prefix only and set credentials in the environment \
                 (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_SAS_KEY …)"
                    .into(),
            ));
        }
        if rest.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL; set them in the environment (AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY …)"
                    .into(),
            ));
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the URL names no bucket or container".into()));
        }
        let root = format!("{scheme}://{bucket}");
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(&root)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(&root)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            "az" | "abfs" | "abfss" | "adl" | "azure" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(&root)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            other => {
                return Err(bad(format!("unknown scheme `{other}`; use s3://, gs://, az:// or a local path")));
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the I/O runtime: {e}")))?;
        let key = key.trim_end_matches('/');
        let url = if key.is_empty() { root } else { format!("{root}/{key}") };
        Ok(Remote { url, store, prefix: ObjectPath::from(key), runtime: Arc::new(runtime) })
    }

    /// The URL of `rel` under this prefix.
    pub fn url_of(&self, rel: &str) -> String {
        if rel.is_empty() { self.url.clone() } else { format!("{}/{rel}", self.url) }
    }

    /// The store (at the bucket's root) and the runtime that drives it, for delta-rs.
    pub(crate) fn store_and_runtime(&self) -> (Arc<dyn ObjectStore>, Arc<tokio::runtime::Runtime>) {
        (self.store.clone(), self.runtime.clone())
    }

    /// The object path of `rel` under this prefix.
    pub(crate) fn path_of(&self, rel: &str) -> ObjectPath {
        rel.split('/').filter(|p| !p.is_empty()).fold(self.prefix.clone(), |p, part| p.clone().join(part))
    }

    fn err(&self, action: &'static str, rel: &str) -> impl FnOnce(object_store::Error) -> StoreError + '_ {
        let url = self.url_of(rel);
        move |cause| StoreError { action, url, cause }
    }

    /// Every object under `rel` (recursively), as paths relative to this prefix with
    /// their sizes, sorted.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let prefix = self.path_of(rel);
        let base = self.prefix.as_ref().len();
        let mut found: Vec<(String, u64)> = self
            .runtime
            .block_on(self.store.list(Some(&prefix)).try_collect::<Vec<_>>())
            .map_err(self.err("listing", rel))?
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref();
                let rel = full.get(base..).unwrap_or(full).trim_start_matches('/').to_string();
                (rel, m.size)
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// Whether `rel` exists (a HEAD request: nothing is downloaded).
    pub fn exists(&self, rel: &str) -> Result<bool, StoreError> {
        match self.runtime.block_on(self.store.head(&self.path_of(rel))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("reading", rel)(e)),
        }
    }

    /// The bytes of `rel`, or `None` when it does not exist.
    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(rel);
        let got = self.runtime.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        Ok(got.map_err(self.err("reading", rel))?.map(|b| b.to_vec()))
    }

    /// Download `rel` to the local file `to` (streamed, so memory stays bounded).
    pub fn fetch(&self, rel: &str, to: &Path) -> Result<(), anyhow::Error> {
        use std::io::Write;
        let path = self.path_of(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::io::BufWriter::new(std::fs::File::create(to)?);
        let result: Result<(), anyhow::Error> = self.runtime.block_on(async {
            let mut stream = self.store.get(&path).await.map_err(self.err("reading", rel))?.into_stream();
            while let Some(chunk) = stream.try_next().await.map_err(self.err("reading", rel))? {
                file.write_all(&chunk)?;
            }
            Ok(())
        });
        result?;
        file.flush()?;
        Ok(())
    }

    /// Write `bytes` to `rel` in one request (object stores make a single PUT visible
    /// atomically: readers see the old object or the new one).
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path_of(rel);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(self.err("writing", rel))
    }

    /// Create `rel` with `bytes` only if it does not exist (a conditional PUT: of two
    /// writers, one wins). Returns the version written, or `None` when `rel` existed.
    pub fn put_new(&self, rel: &str, bytes: Vec<u8>) -> Result<Option<object_store::UpdateVersion>, StoreError> {
        self.put_mode(rel, bytes, object_store::PutMode::Create)
    }

    /// Replace `rel` with `bytes` only if it is still at `version` (a conditional PUT).
    /// Returns the version written, or `None` when `rel` changed since.
    pub fn put_if(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        version: object_store::UpdateVersion,
    ) -> Result<Option<object_store::UpdateVersion>, StoreError> {
        self.put_mode(rel, bytes, object_store::PutMode::Update(version))
    }

    fn put_mode(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        mode: object_store::PutMode,
    ) -> Result<Option<object_store::UpdateVersion>, StoreError> {
        let path = self.path_of(rel);
        let opts = object_store::PutOptions { mode, ..Default::default() };
        match self.runtime.block_on(self.store.put_opts(&path, PutPayload::from(bytes), opts)) {
            Ok(r) => Ok(Some(object_store::UpdateVersion { e_tag: r.e_tag, version: r.version })),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(None),
            Err(e) => Err(self.err("writing", rel)(e)),
        }
    }

    /// The bytes of `rel` and their version, or `None` when it does not exist.
    pub fn get_versioned(&self, rel: &str) -> Result<Option<(Vec<u8>, object_store::UpdateVersion)>, StoreError> {
        let path = self.path_of(rel);
        let got = self.runtime.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => {
                    let version =
                        object_store::UpdateVersion { e_tag: r.meta.e_tag.clone(), version: r.meta.version.clone() };
                    r.bytes().await.map(|b| Some((b.to_vec(), version)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map_err(self.err("reading", rel))
    }

    /// Delete `rel` (nothing when it does not exist).
    pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
        match self.runtime.block_on(self.store.delete(&self.path_of(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("deleting", rel)(e)),
        }
    }

    /// Upload the local file `from` to `rel`, in parts when it is large.
    pub fn upload(&self, from: &Path, rel: &str) -> Result<(), anyhow::Error> {
        let len = std::fs::metadata(from)?.len();
        if len <= PART_BYTES as u64 {
            return Ok(self.put(rel, std::fs::read(from)?)?);
        }
        let path = self.path_of(rel);
        let mut file = std::fs::File::open(from)?;
        self.runtime.block_on(async {
            let upload = self.store.put_multipart(&path).await.map_err(self.err("writing", rel))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buf = vec![0u8; PART_BYTES];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(4).await.map_err(self.err("writing", rel))?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map_err(self.err("writing", rel))?;
            Ok(())
        })
    }

    /// Copy the export files this location names into the local folder `to`: the object at
    /// the prefix itself when there is one, else every file directly under the prefix whose
    /// name matches `pattern` (all when `None`; names starting with `.` or `_` are skipped,
    /// as locally). Returns the names copied, in name order.
    pub fn mirror(&self, pattern: Option<&glob::Pattern>, to: &Path) -> anyhow::Result<Vec<String>> {
        std::fs::create_dir_all(to)?;
        if pattern.is_none() && self.exists("")? {
            let name = self.prefix.filename().unwrap_or("export").to_string();
            self.fetch("", &to.join(&name))?;
            return Ok(vec![name]);
        }
        let mut names = Vec::new();
        for (rel, _) in self.list("")? {
            let direct = !rel.contains('/') && !rel.starts_with(['.', '_']);
            if direct && pattern.is_none_or(|p| p.matches(&rel)) {
                self.fetch(&rel, &to.join(&rel))?;
                names.push(rel);
            }
        }
        Ok(names)
    }

    /// Delete every object under `rel`.
    pub fn delete_all(&self, rel: &str) -> Result<(), StoreError> {
        let prefix = self.path_of(rel);
        self.runtime
            .block_on(async {
                let paths = self.store.list(Some(&prefix)).map_ok(|m| m.location).boxed();
                self.store.delete_stream(paths).try_collect::<Vec<_>>().await
            })
            .map(|_| ())
            .map_err(self.err("deleting", rel))
    }
}

/// `text` with any user info (`user:secret@`) after the scheme masked and any query string
/// or fragment cut off, for messages.
pub fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else { return text.to_string() };
    let rest = match rest.find(['?', '#']) {
        Some(i) => &rest[..i],
        None => rest,
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => format!("{scheme}://{rest}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_paths_resolve_against_the_base_and_file_urls_are_local() {
        let base = Path::new("/configs");
        assert!(matches!(Location::parse("out", base), Ok(Location::Local(p)) if p == Path::new("/configs/out")));
        assert!(matches!(Location::parse("/abs/out", base), Ok(Location::Local(p)) if p == Path::new("/abs/out")));
        assert!(matches!(Location::parse("file:///data/x", base), Ok(Location::Local(p)) if p == Path::new("/data/x")));
    }

    #[test]
    fn an_s3_url_names_its_objects_without_a_trailing_slash() {
        let Ok(Location::Remote(r)) = Location::parse("s3://bucket/some/prefix/", Path::new(".")) else {
            panic!("an s3 URL is remote")
        };
        assert_eq!(r.url_of(""), "s3://bucket/some/prefix");
        assert_eq!(r.url_of("runs/a/_manifest.json"), "s3://bucket/some/prefix/runs/a/_manifest.json");
        assert_eq!(r.path_of("runs/a").as_ref(), "some/prefix/runs/a");
    }

    #[test]
    fn credentials_in_a_url_are_refused_without_being_echoed() {
        let err = Location::parse("s3://AKIA:hunter2@bucket/x", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("credentials do not belong in the URL"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("AKIA"), "{err}");
        assert_eq!(redact("s3://user:pw@bucket/key"), "s3://***@bucket/key");
        assert_eq!(redact("s3://bucket/a@b"), "s3://bucket/a@b", "an @ in the key is not user info");
        let err =
            Location::parse("s3://bucket/x?aws_secret_access_key=hunter2", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("query string does not belong in the URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(redact("az://c/p?sig=hunter2#frag"), "az://c/p");
    }

    #[test]
    fn an_unknown_scheme_says_which_ones_work() {
        let err = Location::parse("ftp://host/x", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("unknown scheme `ftp`") && err.contains("s3://"), "{err}");
        let err = Location::parse("s3:///x", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("no bucket"), "{err}");
    }
}
