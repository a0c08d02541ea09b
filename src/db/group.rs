//! Statements shared by requests that arrive together: one statement (and,
//! for a write, one durable commit) for all of them instead of one each.
//!
//! A request that reaches the statement while fewer than two groups are
//! running leads: it takes every item waiting (its own among them), runs
//! them together on its own connection, and hands each waiter its outcome.
//! The others wait for that, their connections idle, and the next to find
//! room leads the next group. A lone request runs its item alone at once, so
//! nothing waits when nothing else is happening. A group that fails as a
//! whole hands every item back to its owner, which runs it alone and gets
//! its own outcome, exactly as without groups.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use diesel::QueryResult;
use diesel::pg::PgConnection;

/// Most items in one group. The pool's size bounds how many can wait at
/// once anyway; each size is one prepared statement per connection.
pub const GROUP_MAX: usize = 16;

/// Groups running at once. With two, a request that arrives while a group
/// runs starts the next at once instead of waiting for the first to finish;
/// PostgreSQL commits the two together.
const LEADERS: usize = 2;

/// A statement that can run for one item or for several at once.
pub trait Grouped {
    type Item: Send;
    type Outcome;

    /// The statement for one item; its error is its caller's.
    fn alone(conn: &mut PgConnection, item: &Self::Item) -> QueryResult<Self::Outcome>;

    /// One statement for several items: their outcomes in the same order.
    /// An error sends each item back to run alone.
    fn together(conn: &mut PgConnection, items: &[Self::Item]) -> QueryResult<Vec<Self::Outcome>>;
}

/// Where requests meet to run `G`'s statement together.
pub struct Group<G: Grouped> {
    state: Mutex<State<G>>,
    settled: Condvar,
}

struct State<G: Grouped> {
    next_ticket: u64,
    waiting: Vec<(u64, G::Item)>,
    leading: usize,
    /// Outcomes by ticket; `Err` hands the item back to run alone.
    settled: HashMap<u64, Result<G::Outcome, G::Item>>,
}

impl<G: Grouped> Default for Group<G> {
    fn default() -> Self {
        Group {
            state: Mutex::new(State {
                next_ticket: 0,
                waiting: Vec::new(),
                leading: 0,
                settled: HashMap::new(),
            }),
            settled: Condvar::new(),
        }
    }
}

impl<G: Grouped> Group<G> {
    /// Runs `item`'s statement, in a group with whatever items arrive meanwhile.
    pub fn run(&self, conn: &mut PgConnection, item: G::Item) -> QueryResult<G::Outcome> {
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
                // A leader's statement is bounded by its connection's
                // statement and lock timeouts, so this wait is too.
                state = self
                    .settled
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.leading += 1;
            let take = state.waiting.len().min(GROUP_MAX);
            let mut taken: Vec<(u64, G::Item)> = state.waiting.drain(..take).collect();
            drop(state);
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
        match self.outcomes.take() {
            Some(outcomes) => {
                for (ticket, outcome) in tickets.into_iter().zip(outcomes) {
                    state.settled.insert(ticket, Ok(outcome));
                }
            }
            None => {
                for (ticket, item) in tickets.into_iter().zip(items) {
                    state.settled.insert(ticket, Err(item));
                }
            }
        }
        drop(state);
        self.group.settled.notify_all();
    }
}
