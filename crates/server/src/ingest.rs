//! Group commit for the inbox: plain remote notes arriving on concurrent
//! requests are written many to a statement (`remote::store_plain`), so a
//! busy inbox pays one statement, one commit and one run of the counting
//! trigger per batch rather than per activity.
//!
//! No long-lived task: each request queues its note and, while fewer than
//! `WRITERS` batches are being written, takes the queue and has it written
//! — its own note and whatever others queued meanwhile — by a task that
//! answers each request with its note's outcome. A request is answered
//! only once its note is committed, so an accepted activity is never
//! lost. A batch that fails is written again note by note, so one bad note
//! fails only its own request.

use guise_core::remote::{store_plain, PlainNote};
use guise_core::{Clock, CoreError, CoreResult, Db, SharedClock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Semaphore};

/// Batches written at once (each holds one connection).
const WRITERS: usize = 2;
/// Notes in one statement at most.
const MAX_BATCH: usize = 64;

type Waiting = (PlainNote, oneshot::Sender<CoreResult<()>>);

pub struct Batcher {
    queue: Mutex<Vec<Waiting>>,
    writers: Arc<Semaphore>,
    /// Statements that wrote notes, and the notes they wrote.
    statements: AtomicU64,
    notes: AtomicU64,
}

impl Default for Batcher {
    fn default() -> Self {
        Batcher {
            queue: Mutex::new(Vec::new()),
            writers: Arc::new(Semaphore::new(WRITERS)),
            statements: AtomicU64::new(0),
            notes: AtomicU64::new(0),
        }
    }
}

impl Batcher {
    /// Writes `note`, with others' if they are waiting too; returns once
    /// it is committed (or skipped: stored already, or deleted). A batch is
    /// written by a task of its own, so a request that goes away midway
    /// leaves the others' notes written and answered.
    pub async fn store(
        self: &Arc<Self>,
        db: &Db,
        clock: &SharedClock,
        note: PlainNote,
    ) -> CoreResult<()> {
        let (tx, mut rx) = oneshot::channel();
        self.take_queue(|q| q.push((note, tx)));
        loop {
            tokio::select! {
                biased;
                answer = &mut rx => return answered(answer),
                permit = self.writers.clone().acquire_owned() => {
                    let permit = permit
                        .map_err(|_| CoreError::Internal("the batcher is closed".into()))?;
                    let batch = self.take_queue(|q| {
                        let n = q.len().min(MAX_BATCH);
                        q.drain(..n).collect::<Vec<_>>()
                    });
                    // Nothing queued: this note is in a batch being written.
                    if batch.is_empty() {
                        drop(permit);
                        return answered(rx.await);
                    }
                    let (this, db, clock) = (self.clone(), db.clone(), clock.clone());
                    tokio::spawn(async move {
                        this.write(&db, clock.as_ref(), batch).await;
                        drop(permit);
                    });
                }
            }
        }
    }

    /// Notes queued and not yet taken by a writer.
    pub fn waiting(&self) -> usize {
        self.take_queue(|q| q.len())
    }

    /// Statements that wrote notes so far, and how many notes they wrote.
    pub fn written(&self) -> (u64, u64) {
        (
            self.statements.load(Ordering::Relaxed),
            self.notes.load(Ordering::Relaxed),
        )
    }

    fn take_queue<T>(&self, f: impl FnOnce(&mut Vec<Waiting>) -> T) -> T {
        match self.queue.lock() {
            Ok(mut q) => f(&mut q),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Writes one batch and answers each of its requests.
    async fn write(&self, db: &Db, clock: &dyn Clock, batch: Vec<Waiting>) {
        let (notes, answers): (Vec<PlainNote>, Vec<_>) = batch.into_iter().unzip();
        if notes.is_empty() {
            return;
        }
        let together = self.statement(db, clock, &notes).await;
        // A request that went away needs no answer.
        match (together, answers.len()) {
            (together, 1) => {
                if let Some(tx) = answers.into_iter().next() {
                    let _ = tx.send(together);
                }
            }
            (Ok(()), _) => {
                for tx in answers {
                    let _ = tx.send(Ok(()));
                }
            }
            (Err(_), _) => {
                for (note, tx) in notes.iter().zip(answers) {
                    let alone = self.statement(db, clock, std::slice::from_ref(note)).await;
                    let _ = tx.send(alone);
                }
            }
        }
    }

    async fn statement(&self, db: &Db, clock: &dyn Clock, notes: &[PlainNote]) -> CoreResult<()> {
        let mut conn = db.conn().await?;
        store_plain(&mut conn, clock, notes).await?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.notes.fetch_add(notes.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn answered(answer: Result<CoreResult<()>, oneshot::error::RecvError>) -> CoreResult<()> {
    answer.unwrap_or_else(|_| Err(CoreError::Internal("a batch writer stopped".into())))
}
