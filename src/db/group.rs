//! Statements shared by requests that arrive together: one statement (and,
//! for a write, one durable commit) for all of them instead of one each.
//!
//! A request that reaches the statement while fewer than two groups are
//! running leads: it takes every item waiting (its own among them), runs
//! them together on its own connection, and hands each waiter its outcome.
//! The others wait for that, their connections idle, and the next to find
//! room leads the next group. A waiter is woken only when its own outcome is
//! in or when it is to lead: waking every waiter at each group's end, most
//! of them to sleep again, cost each request two thread switches more. A
//! lone request runs its item alone at once, so nothing waits when nothing
//! else is happening. A group that fails as a whole hands every item back
//! to its owner, which runs it alone and gets its own outcome, exactly as
//! without groups.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, Thread};

use diesel::QueryResult;

/// Most items in one group. The pool's size bounds how many can wait at
/// once anyway; each size is one prepared statement per connection.
pub const GROUP_MAX: usize = 16;

/// Groups running at once. With two, a request that arrives while a group
/// runs starts the next at once instead of waiting for the first to finish;
/// PostgreSQL commits the two together.
const LEADERS: usize = 2;

/// A statement that can run for one item or for several at once.
pub trait Grouped {
    /// What the statements run on: a `PgConnection` (a stand-in in tests).
    type Conn;
    type Item: Send;
    type Outcome;

    /// The statement for one item; its error is its caller's.
    fn alone(conn: &mut Self::Conn, item: &Self::Item) -> QueryResult<Self::Outcome>;

    /// One statement for several items: their outcomes in the same order.
    /// An error sends each item back to run alone.
    fn together(conn: &mut Self::Conn, items: &[Self::Item]) -> QueryResult<Vec<Self::Outcome>>;
}

/// Where requests meet to run `G`'s statement together.
pub struct Group<G: Grouped> {
    state: Mutex<State<G>>,
}

struct State<G: Grouped> {
    next_ticket: u64,
    waiting: Vec<(u64, G::Item)>,
    leading: usize,
    /// Outcomes by ticket; `Err` hands the item back to run alone.
    settled: HashMap<u64, Result<G::Outcome, G::Item>>,
    /// The threads asleep in `run`, by ticket.
    asleep: HashMap<u64, Thread>,
}

impl<G: Grouped> State<G> {
    /// The sleeping owner of the oldest waiting item, if a group could
    /// start: woken, it leads the next one. Asked whenever a group starts or
    /// ends, so room for a leader never goes unused while items wait.
    fn next_leader(&mut self) -> Option<Thread> {
        if self.leading >= LEADERS {
            return None;
        }
        let (ticket, _) = self.waiting.first()?;
        self.asleep.remove(ticket)
    }
}

impl<G: Grouped> Default for Group<G> {
    fn default() -> Self {
        Group {
            state: Mutex::new(State {
                next_ticket: 0,
                waiting: Vec::new(),
                leading: 0,
                settled: HashMap::new(),
                asleep: HashMap::new(),
            }),
        }
    }
}

impl<G: Grouped> Group<G> {
    /// Runs `item`'s statement, in a group with whatever items arrive meanwhile.
    pub fn run(&self, conn: &mut G::Conn, item: G::Item) -> QueryResult<G::Outcome> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, item));
        loop {
            if let Some(settled) = state.settled.remove(&ticket) {
                drop(state);
                return match settled {
                    Ok(outcome) => Ok(outcome),
                    Err(item) => G::alone(conn, &item),
                };
            }
            if state.leading >= LEADERS || state.waiting.is_empty() {
                // Registered under the lock that saw no outcome, so a wake
                // sent after it is never missed (an unpark before the park
                // makes the park return at once). A leader's statement is
                // bounded by its connection's statement and lock timeouts,
                // so this wait is too; a spurious wake only loops.
                state.asleep.insert(ticket, thread::current());
                drop(state);
                thread::park();
                state = self.lock();
                state.asleep.remove(&ticket);
                continue;
            }
            state.leading += 1;
            let take = state.waiting.len().min(GROUP_MAX);
            let mut taken: Vec<(u64, G::Item)> = state.waiting.drain(..take).collect();
            let next = state.next_leader();
            drop(state);
            if let Some(thread) = next {
                thread.unpark();
            }
            if let [(only, _)] = taken.as_slice()
                && *only == ticket
            {
                // Alone: the plain statement, its error this caller's to see.
                // The guard holds no item: it only lets the next leader in.
                let lead = Lead {
                    group: self,
                    tickets: Vec::new(),
                    items: Vec::new(),
                    outcomes: None,
                };
                let (_, item) = taken.swap_remove(0);
                let alone = G::alone(conn, &item);
                drop(lead);
                return alone;
            }
            let mut lead = Lead {
                group: self,
                tickets: taken.iter().map(|(t, _)| *t).collect(),
                items: taken.into_iter().map(|(_, item)| item).collect(),
                outcomes: None,
            };
            lead.outcomes = G::together(conn, &lead.items)
                .inspect_err(|e| {
                    tracing::debug!(error = %e, members = lead.items.len(), "a group failed; its members run alone");
                })
                .ok()
                .filter(|outcomes| outcomes.len() == lead.items.len());
            drop(lead);
            state = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<G>> {
        // The state is consistent between statements: a panic elsewhere
        // leaves nothing half-written in it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A group being run. Dropping it hands the outcomes over (or, without
/// them, the items back) and lets the next leader in, also when the
/// statement unwinds.
struct Lead<'a, G: Grouped> {
    group: &'a Group<G>,
    tickets: Vec<u64>,
    items: Vec<G::Item>,
    outcomes: Option<Vec<G::Outcome>>,
}

impl<G: Grouped> Drop for Lead<'_, G> {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        state.leading -= 1;
        let tickets = std::mem::take(&mut self.tickets);
        let items = std::mem::take(&mut self.items);
        let mut woken = Vec::with_capacity(tickets.len() + 1);
        match self.outcomes.take() {
            Some(outcomes) => {
                for (ticket, outcome) in tickets.into_iter().zip(outcomes) {
                    woken.extend(state.asleep.remove(&ticket));
                    state.settled.insert(ticket, Ok(outcome));
                }
            }
            None => {
                for (ticket, item) in tickets.into_iter().zip(items) {
                    woken.extend(state.asleep.remove(&ticket));
                    state.settled.insert(ticket, Err(item));
                }
            }
        }
        woken.extend(state.next_leader());
        drop(state);
        for thread in woken {
            thread.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Doubles numbers; a group holding one of thread 5's items of an odd
    /// burst fails as a whole. The connection counts what ran on it.
    struct Doubling;

    #[derive(Default)]
    struct Counts {
        running_together: AtomicUsize,
        most_together: AtomicUsize,
        largest_group: AtomicUsize,
        failed_groups: AtomicUsize,
    }

    struct Conn(Arc<Counts>);

    impl Grouped for Doubling {
        type Conn = Conn;
        type Item = u64;
        type Outcome = u64;

        fn alone(_: &mut Conn, item: &u64) -> QueryResult<u64> {
            std::thread::sleep(Duration::from_micros(50));
            Ok(item * 2)
        }

        fn together(conn: &mut Conn, items: &[u64]) -> QueryResult<Vec<u64>> {
            let counts = &conn.0;
            let now = counts.running_together.fetch_add(1, Ordering::SeqCst) + 1;
            counts.most_together.fetch_max(now, Ordering::SeqCst);
            counts
                .largest_group
                .fetch_max(items.len(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
            counts.running_together.fetch_sub(1, Ordering::SeqCst);
            if items
                .iter()
                .any(|i| i / 1_000_000 == 5 && (i / 10) % 2 == 1)
            {
                counts.failed_groups.fetch_add(1, Ordering::SeqCst);
                return Err(diesel::result::Error::RollbackTransaction);
            }
            Ok(items.iter().map(|i| i * 2).collect())
        }
    }

    /// Bursts of callers, each its own outcome, none left asleep: a missed
    /// wake leaves a caller waiting forever, and the next burst never starts.
    #[test]
    fn every_caller_gets_its_own_outcome_and_nobody_is_left_waiting() {
        const THREADS: u64 = 40;
        const BURSTS: u64 = 150;
        let group = Arc::new(Group::<Doubling>::default());
        let counts = Arc::new(Counts::default());
        let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
        let (done, finished) = mpsc::channel();
        for t in 0..THREADS {
            let (group, counts, start, done) =
                (group.clone(), counts.clone(), start.clone(), done.clone());
            std::thread::spawn(move || {
                let mut conn = Conn(counts);
                for burst in 0..BURSTS {
                    start.wait();
                    // The first 32 of each burst at once, then a few more.
                    for i in 0..(1 + t / 32) {
                        let item = t * 1_000_000 + burst * 10 + i;
                        assert_eq!(group.run(&mut conn, item).unwrap(), item * 2);
                    }
                }
                done.send(t).unwrap();
            });
        }
        for _ in 0..THREADS {
            finished
                .recv_timeout(Duration::from_secs(20))
                .expect("a caller is still waiting: a wake was missed, or a caller panicked");
        }
        let state = group.lock();
        assert!(state.waiting.is_empty() && state.settled.is_empty() && state.asleep.is_empty());
        assert_eq!(state.leading, 0);
        assert!(
            counts.largest_group.load(Ordering::SeqCst) > 1,
            "no group formed"
        );
        assert!(counts.largest_group.load(Ordering::SeqCst) <= GROUP_MAX);
        assert!(counts.most_together.load(Ordering::SeqCst) <= LEADERS);
        assert!(
            counts.failed_groups.load(Ordering::SeqCst) > 0,
            "no group failed"
        );
    }
}
