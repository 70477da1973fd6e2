//! Which writes can run while the next rows are built? [`Background`] runs jobs (writing one
//! partition file each) on worker threads of its own, at most a few queued, and hands back
//! their results in submission order, so a table builder that produces partitions one after
//! another does not wait for each file's encoding and compression.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{EngineError, Result};

type Job<T> = Box<dyn FnOnce() -> Result<T> + Send>;
/// Jobs tagged with their submission number, shared by the workers.
type Queue<T> = Arc<Mutex<Receiver<(usize, Job<T>)>>>;
/// What a worker hands back: (submission number, result) of each job it ran.
type Done<T> = Vec<(usize, Result<T>)>;

/// Worker threads running jobs in the background.
pub struct Background<T: Send + 'static> {
    sender: Option<SyncSender<(usize, Job<T>)>>,
    workers: Vec<JoinHandle<Done<T>>>,
    submitted: usize,
}

impl<T: Send + 'static> std::fmt::Debug for Background<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").field("workers", &self.workers.len()).field("submitted", &self.submitted).finish()
    }
}

impl<T: Send + 'static> Background<T> {
    /// `threads` workers (at least one); `submit` blocks while `threads` jobs are queued.
    pub fn new(threads: usize) -> Background<T> {
        let threads = threads.max(1);
        let (sender, jobs) = sync_channel::<(usize, Job<T>)>(threads);
        let jobs: Queue<T> = Arc::new(Mutex::new(jobs));
        let workers = (0..threads)
            .map(|_| {
                let jobs = Arc::clone(&jobs);
                std::thread::spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        // The lock is held only to take the next job.
                        let next = jobs.lock().map(|rx| rx.recv());
                        match next {
                            Ok(Ok((seq, job))) => done.push((seq, job())),
                            _ => return done,
                        }
                    }
                })
            })
            .collect();
        Background { sender: Some(sender), workers, submitted: 0 }
    }

    /// Queue `job`.
    pub fn submit(&mut self, job: impl FnOnce() -> Result<T> + Send + 'static) -> Result<()> {
        let seq = self.submitted;
        self.submitted += 1;
        let sent = self.sender.as_ref().is_some_and(|s| s.send((seq, Box::new(job))).is_ok());
        if !sent {
            return Err(EngineError::Analysis { message: "the background writers stopped".into() });
        }
        Ok(())
    }

    /// Wait for every job; their results in submission order, or the first job's error.
    pub fn finish(mut self) -> Result<Vec<T>> {
        drop(self.sender.take());
        let mut all = Vec::with_capacity(self.submitted);
        for w in self.workers.drain(..) {
            all.extend(w.join().map_err(|_| EngineError::Analysis { message: "a background writer panicked".into() })?);
        }
        all.sort_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, r)| r).collect()
    }
}

impl<T: Send + 'static> Drop for Background<T> {
    fn drop(&mut self) {
        drop(self.sender.take());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Results come back in submission order whatever order the workers finish in, and the
    /// first failed job's error is the one returned.
    #[test]
    fn results_keep_submission_order_and_the_first_error_wins() {
        let mut bg = Background::new(3);
        for i in 0..20u64 {
            bg.submit(move || {
                std::thread::sleep(std::time::Duration::from_millis((20 - i) % 7));
                Ok(i * i)
            })
            .unwrap();
        }
        assert_eq!(bg.finish().unwrap(), (0..20u64).map(|i| i * i).collect::<Vec<_>>());

        let mut bg = Background::new(2);
        for i in 0..6u64 {
            bg.submit(move || if i >= 3 { Err(EngineError::Analysis { message: format!("job {i}") }) } else { Ok(i) })
                .unwrap();
        }
        let err = bg.finish().unwrap_err().to_string();
        assert!(err.contains("job 3"), "{err}");
    }
}
