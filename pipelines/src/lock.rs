//! Who may write to an output location right now: one run at a time, enforced.
//!
//! A run takes the location's write lock before any work and holds it until it has published
//! (or failed). A second run into the same location stops at once with [`Busy`] (exit code
//! 8), naming the holder.
//!
//! - **Locally**: `<out>/.ardent.lock`, locked with the operating system's advisory file lock
//!   (`flock`), which the kernel releases when the process dies however it dies. The file
//!   holds the holder's description (host, pid, run id, since when) for the message a second
//!   run prints. A file left by a dead process is not locked, so the next run simply takes it
//!   and says whose it was.
//! - **In an object store**: `<prefix>/_lock.json`, a lease object created only if absent
//!   (object_store's `PutMode::Create`: S3 `If-None-Match: *`), which the holder renews every
//!   a quarter of its length by a conditional update on the version it wrote (`PutMode::Update`: S3
//!   `If-Match`). A lease not renewed for [`LEASE`] (its holder died) is taken over by the next
//!   run, again by a conditional update, so of two runs taking over only one wins. A holder
//!   that fails to renew (its lease was taken) refuses to publish ([`WriteLock::check`]).

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ardent_engine::EngineError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::location::{Location, Remote};
use crate::printer::Printer;

/// The lock file of a local output.
pub const LOCAL_LOCK: &str = ".ardent.lock";
/// The lease object of an output in an object store.
pub const REMOTE_LOCK: &str = "_lock.json";
/// How long a lease lasts without renewal (renewed every quarter of it).
pub const LEASE: Duration = Duration::from_secs(120);

/// The lease length: [`LEASE`], or `ARDENT_LOCK_LEASE_SECONDS` (a store whose clients' clocks
/// differ by more than a minute wants longer; tests want shorter). Renewed every third of it.
fn lease_length() -> Duration {
    std::env::var("ARDENT_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s >= 1)
        .map_or(LEASE, Duration::from_secs)
}

/// Who holds a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub run_id: String,
    /// When the lock was taken (RFC 3339, UTC).
    pub since: String,
    /// (object stores) When the lease ends unless renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Holder {
    fn me(run_id: &str) -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
            run_id: run_id.to_string(),
            since: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            expires: None,
        }
    }

    fn describe(&self) -> String {
        format!("run {} (pid {} on {}, since {})", self.run_id, self.pid, self.host, self.since)
    }
}

/// Another run holds the output's write lock (exit code 8).
#[derive(Debug, thiserror::Error)]
#[error("{out} is being written by {holder}; one run writes an output at a time. {what}")]
pub struct Busy {
    pub out: String,
    pub holder: String,
    what: &'static str,
}

/// The write lock of one output location, held until dropped.
#[derive(Debug)]
pub struct WriteLock {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Local {
        file: std::fs::File,
        path: PathBuf,
        /// The output folder, when this run created it (removed again when the run leaves it empty).
        created_root: Option<PathBuf>,
    },
    Remote(RemoteLease),
}

impl WriteLock {
    /// Take the write lock of `out` for run `run_id`, or fail with [`Busy`].
    pub fn acquire(out: &Location, run_id: &str, printer: &Printer) -> anyhow::Result<WriteLock> {
        let inner = match out {
            Location::Local(root) => acquire_local(root, run_id, printer)?,
            Location::Remote(remote) => Inner::Remote(RemoteLease::acquire(remote, run_id, printer)?),
        };
        Ok(WriteLock { inner })
    }

    /// Name the run holding the lock once its id is known (a run takes the lock before it has
    /// read the inputs its id is derived from).
    pub fn name_run(&self, run_id: &str) {
        match &self.inner {
            Inner::Local { file, .. } => {
                let mut me = Holder::me(run_id);
                if let Ok(text) = std::fs::read_to_string(self.path())
                    && let Ok(h) = serde_json::from_str::<Holder>(&text)
                {
                    me.since = h.since;
                }
                let mut f = file;
                let bytes = serde_json::to_vec(&me).unwrap_or_default();
                let _ = f.set_len(0).and_then(|_| f.rewind()).and_then(|_| f.write_all(&bytes));
            }
            Inner::Remote(lease) => lease.name_run(run_id),
        }
    }

    fn path(&self) -> PathBuf {
        match &self.inner {
            Inner::Local { path, .. } => path.clone(),
            Inner::Remote(lease) => PathBuf::from(lease.remote.url_of(REMOTE_LOCK)),
        }
    }

    /// Fail when the lock was lost (an object-store lease taken over after this run failed
    /// to renew it): a run must not publish without it.
    pub fn check(&self) -> anyhow::Result<()> {
        match &self.inner {
            Inner::Local { .. } => Ok(()),
            Inner::Remote(lease) => lease.check(),
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Local { file, path, created_root } => {
                // The file goes while it is still locked: a run that opened it meanwhile
                // finds, once it holds the lock, that its file is no longer the lock file
                // and opens the new one (see `acquire_local`).
                let _ = std::fs::remove_file(&*path);
                let _ = file.unlock();
                if let Some(root) = created_root {
                    let _ = std::fs::remove_dir(root);
                }
            }
            Inner::Remote(lease) => lease.release(),
        }
    }
}

fn acquire_local(root: &Path, run_id: &str, printer: &Printer) -> anyhow::Result<Inner> {
    let created_root = (!root.exists()).then(|| root.to_path_buf());
    std::fs::create_dir_all(root).map_err(EngineError::io("creating", root))?;
    let path = root.join(LOCAL_LOCK);
    // A run that opened the file just before its holder removed it locks a file nobody else
    // will see: it then opens the file at the path again.
    for _ in 0..100 {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(EngineError::io("opening the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file)
                    .map(|h| h.describe())
                    .unwrap_or_else(|| "another run (starting up)".to_string());
                return Err(Busy {
                    out: root.display().to_string(),
                    holder,
                    what: "Run again once it has finished (a run that dies releases its lock with it)",
                }
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(EngineError::Io { action: "locking", path: path.clone(), error: e }.into());
            }
        }
        if !same_file(&file, &path) {
            continue;
        }
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        if let Ok(h) = serde_json::from_str::<Holder>(&previous) {
            printer.line(format!(
                "lock: took over the lock of {} at {}, which ended without releasing it",
                h.describe(),
                root.display()
            ));
        }
        let me = serde_json::to_vec(&Holder::me(run_id)).unwrap_or_default();
        let written = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(&me));
        written.map_err(EngineError::io("writing the lock file", &path))?;
        return Ok(Inner::Local { file, path, created_root });
    }
    Err(EngineError::Io {
        action: "locking",
        path,
        error: std::io::Error::other("the lock file kept being replaced while it was taken"),
    }
    .into())
}

/// The holder described in a locked lock file. A holder writes its description a moment
/// after taking the lock (the file may still be empty, or name the dead run before it):
/// read again for up to half a second until it names a live process.
fn read_holder(file: &mut std::fs::File) -> Option<Holder> {
    let mut last = None;
    for _ in 0..50 {
        let mut text = String::new();
        let read = file.rewind().and_then(|_| file.read_to_string(&mut text));
        if read.is_ok()
            && let Ok(h) = serde_json::from_str::<Holder>(&text)
        {
            if h.host != host_name() || alive(h.pid) {
                return Some(h);
            }
            last = Some(h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    last
}

/// Whether process `pid` of this host is running (always true where that cannot be told).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// Whether `file` is still the file at `path`.
#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

/// A lease in an object store, renewed by a thread of its own.
#[derive(Debug)]
struct RemoteLease {
    remote: Remote,
    /// The version of the lease object this run wrote last.
    version: Arc<Mutex<Option<object_store::UpdateVersion>>>,
    holder: Arc<Mutex<Holder>>,
    lost: Arc<AtomicBool>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl RemoteLease {
    fn acquire(remote: &Remote, run_id: &str, printer: &Printer) -> anyhow::Result<RemoteLease> {
        // (`mut`: the expiry is rewritten into it.)
        let mut me = Holder::me(run_id);
        let version = match remote.put_new(REMOTE_LOCK, lease_bytes(&mut me))? {
            Some(v) => v,
            None => {
                // Someone holds it, or held it and died: take it over only once it expired.
                let (bytes, current) = remote.get_versioned(REMOTE_LOCK)?.ok_or_else(|| EngineError::Io {
                    action: "locking",
                    path: PathBuf::from(remote.url_of(REMOTE_LOCK)),
                    error: std::io::Error::other("the lease vanished while it was read; retry"),
                })?;
                let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
                let expired = holder
                    .as_ref()
                    .and_then(|h| h.expires.as_deref())
                    .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                    .is_none_or(|e| e < Utc::now());
                let busy = |holder: &Option<Holder>| Busy {
                    out: remote.url_of(""),
                    holder: holder.as_ref().map_or("another run".to_string(), Holder::describe),
                    what: "Run again once it has finished (the lease of a run that died expires 2 minutes after its last renewal)",
                };
                if !expired {
                    return Err(busy(&holder).into());
                }
                match remote.put_if(REMOTE_LOCK, lease_bytes(&mut me), current)? {
                    Some(v) => {
                        printer.line(format!(
                            "lock: took over the expired lease of {} at {}",
                            holder.as_ref().map_or("an unknown run".to_string(), Holder::describe),
                            remote.url_of("")
                        ));
                        v
                    }
                    // Another run took it over first.
                    None => return Err(busy(&holder).into()),
                }
            }
        };
        let version = Arc::new(Mutex::new(Some(version)));
        let holder = Arc::new(Mutex::new(me));
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let renewer = {
            let lease = RemoteLease {
                remote: remote.clone(),
                version: version.clone(),
                holder: holder.clone(),
                lost: lost.clone(),
                stop: None,
                renewer: None,
            };
            std::thread::spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(lease_length() / 4) {
                    if !lease.renew() {
                        return;
                    }
                }
            })
        };
        Ok(RemoteLease { remote: remote.clone(), version, holder, lost, stop: Some(stop), renewer: Some(renewer) })
    }

    /// Write the lease again, with a fresh expiry, if it is still this run's. False when it
    /// is not (taken over, or the store unreachable for long enough that it may be): this
    /// run no longer holds the output.
    fn renew(&self) -> bool {
        let Ok(mut v) = self.version.lock() else { return false };
        let Some(current) = v.clone() else { return false };
        let bytes = match self.holder.lock() {
            Ok(mut me) => lease_bytes(&mut me),
            Err(_) => return false,
        };
        match self.remote.put_if(REMOTE_LOCK, bytes, current) {
            Ok(Some(next)) => {
                *v = Some(next);
                true
            }
            Ok(None) | Err(_) => {
                self.lost.store(true, Ordering::SeqCst);
                *v = None;
                false
            }
        }
    }

    fn name_run(&self, run_id: &str) {
        if let Ok(mut me) = self.holder.lock() {
            me.run_id = run_id.to_string();
        }
        self.renew();
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Busy {
                out: self.remote.url_of(""),
                holder: "another run, which took over this run's lease when it could not be renewed".into(),
                what: "Nothing was published by this run; run it again",
            }
            .into());
        }
        Ok(())
    }

    fn release(&mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        // Delete the lease only while it is still this run's.
        let mine = self.version.lock().ok().and_then(|v| v.clone());
        if let Some(mine) = mine
            && let Ok(Some((_, current))) = self.remote.get_versioned(REMOTE_LOCK)
            && current.e_tag == mine.e_tag
        {
            let _ = self.remote.delete(REMOTE_LOCK);
        }
    }
}

/// The lease's bytes, with a fresh expiry.
fn lease_bytes(me: &mut Holder) -> Vec<u8> {
    let expires = Utc::now() + chrono::Duration::from_std(lease_length()).unwrap_or_default();
    me.expires = Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    serde_json::to_vec(me).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_local_writer_is_refused_with_the_holder_named_and_the_lock_is_free_after() {
        let dir = tempfile::tempdir().unwrap();
        let out = Location::Local(dir.path().join("out"));
        let printer = Printer::new(crate::printer::LogFormat::Text);
        let first = WriteLock::acquire(&out, "run-a", &printer).unwrap();
        let err = WriteLock::acquire(&out, "run-b", &printer).unwrap_err();
        let busy = err.downcast_ref::<Busy>().expect("a Busy error");
        assert!(busy.holder.contains("run run-a") && busy.holder.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        assert!(!dir.path().join("out").exists(), "a lock that created the folder removes it");
        let again = WriteLock::acquire(&out, "run-c", &printer).unwrap();
        drop(again);
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let holder = Holder { host: "h".into(), pid: 1, run_id: "gone".into(), since: "x".into(), expires: None };
        std::fs::write(dir.path().join(LOCAL_LOCK), serde_json::to_vec(&holder).unwrap()).unwrap();
        let lock = WriteLock::acquire(
            &Location::Local(dir.path().to_path_buf()),
            "run-b",
            &Printer::new(crate::printer::LogFormat::Text),
        );
        assert!(lock.is_ok(), "an unlocked lock file is free");
        let text = std::fs::read_to_string(dir.path().join(LOCAL_LOCK)).unwrap();
        assert!(text.contains("run-b") && !text.contains("gone"), "{text}");
    }
}
