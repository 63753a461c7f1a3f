//! One queue's lane: its unacknowledged events in `$all` order, at most one send in flight.
//!
//! # Invariant
//!
//! `seqs` holds the sequence numbers of every event of the lane not yet acknowledged, oldest
//! first; the messages of the last `waiting.len()` of them wait in `waiting`, the others are in
//! the one send (or retry pause) under way. A send takes messages from the front of `waiting`
//! only while nothing is under way, and gives back what was not acknowledged to the front, in
//! order. So every send starts at the lane's first unacknowledged event, and an event is sent
//! only after every earlier event of the lane was acknowledged.

use std::collections::VecDeque;

/// One queue's unacknowledged events, oldest first.
pub(super) struct Lane<M> {
    seqs: VecDeque<u64>,
    waiting: VecDeque<M>,
    /// A send or a retry pause is under way.
    busy: bool,
    /// Queued among the lanes ready to send.
    queued: bool,
    /// Failed sends in a row.
    failures: u32,
}

impl<M> Default for Lane<M> {
    fn default() -> Self {
        Self {
            seqs: VecDeque::new(),
            waiting: VecDeque::new(),
            busy: false,
            queued: false,
            failures: 0,
        }
    }
}

impl<M> Lane<M> {
    /// Adds event `seq` (above every earlier one). True if the lane just became ready to send:
    /// queue it.
    pub(super) fn push(&mut self, seq: u64, message: M) -> bool {
        debug_assert!(self.seqs.back().is_none_or(|last| *last < seq));
        self.seqs.push_back(seq);
        self.waiting.push_back(message);
        self.become_ready()
    }

    /// Takes the next batch, at most `max` messages from the front; the lane is busy until
    /// [`Lane::acknowledged`] or [`Lane::retry_due`].
    pub(super) fn start_send(&mut self, max: usize) -> Vec<M> {
        debug_assert!(!self.busy && !self.waiting.is_empty());
        self.queued = false;
        self.busy = true;
        let count = self.waiting.len().min(max.max(1));
        self.waiting.drain(..count).collect()
    }

    /// The first `acknowledged` messages of `batch` (the one [`Lane::start_send`] gave) are
    /// acknowledged; the rest goes back to the front. True if the lane is ready to send again.
    pub(super) fn acknowledged(&mut self, mut batch: Vec<M>, acknowledged: usize) -> bool {
        let acknowledged = acknowledged.min(batch.len());
        self.failures = 0;
        self.seqs.drain(..acknowledged);
        self.give_back(batch.split_off(acknowledged));
        self.busy = false;
        self.become_ready()
    }

    /// The send of `batch` failed: it goes back to the front, and the lane stays busy until
    /// [`Lane::retry_due`]. Returns the failures in a row.
    pub(super) fn failed(&mut self, batch: Vec<M>) -> u32 {
        self.give_back(batch);
        self.failures += 1;
        self.failures
    }

    /// The pause after a failure is over. True if the lane is ready to send again.
    pub(super) fn retry_due(&mut self) -> bool {
        self.busy = false;
        self.become_ready()
    }

    /// The sequence number of the lane's first unacknowledged event.
    pub(super) fn first_unacknowledged(&self) -> Option<u64> {
        self.seqs.front().copied()
    }

    fn give_back(&mut self, batch: Vec<M>) {
        for message in batch.into_iter().rev() {
            self.waiting.push_front(message);
        }
    }

    fn become_ready(&mut self) -> bool {
        let ready = !self.busy && !self.queued && !self.waiting.is_empty();
        self.queued |= ready;
        ready
    }
}
