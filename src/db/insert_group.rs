//! Accepted registrations that arrive together are inserted together: one
//! statement and one durable commit for all of them, instead of one each.
//!
//! A request that reaches the insert while fewer than two groups are being
//! written leads: it takes every registration waiting (its own among them),
//! inserts them on its own connection, and hands each waiter its outcome.
//! The others wait for that, their connections idle, and the next to find
//! room leads the next group. A lone request leads a group of one at once,
//! so nothing waits when nothing else is happening.
//!
//! Nothing is promised differently from inserting alone. Each answer is sent
//! only after the group's commit; each row gets its audit entry from the
//! same trigger in the same transaction; an id bound meanwhile (ON CONFLICT
//! DO NOTHING) is reported as taken, exactly as alone. A group that fails as
//! a whole (a key made PENDING by another instance, two requests of the
//! group for one key, a lost connection) hands every member back to insert
//! alone, where each gets its own outcome.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::prepared::Prepared;
use super::registrations::NewRegistration;
use super::requests::{Accepted, NewRequest, insert_accepted, row_binds};

/// Most registrations in one group. The pool's size bounds how many can wait
/// at once anyway; each size is one prepared statement per connection.
const GROUP_MAX: usize = 16;

/// Groups written at once. With two, a request that arrives while a group is
/// being written starts the next at once instead of waiting for the first
/// to commit; PostgreSQL commits the two together.
const LEADERS: usize = 2;

/// The insert shared by registrations that arrive together.
#[derive(Default)]
pub struct InsertGroup {
    state: Mutex<GroupState>,
    settled: Condvar,
}

#[derive(Default)]
struct GroupState {
    next_ticket: u64,
    waiting: Vec<Waiting>,
    /// Groups being written now.
    leading: usize,
    /// Outcomes by ticket; `None`: the group failed, insert alone.
    settled: HashMap<u64, Option<Accepted>>,
}

struct Waiting {
    ticket: u64,
    request: NewRequest,
    registration: NewRegistration,
}

impl InsertGroup {
    /// Binds `request` and inserts `registration` with it, atomically, in a
    /// group with whatever registrations arrive meanwhile.
    pub fn insert_accepted(
        &self,
        conn: &mut PgConnection,
        request: &NewRequest,
        registration: &NewRegistration,
    ) -> QueryResult<Accepted> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push(Waiting {
            ticket,
            request: request.clone(),
            registration: registration.clone(),
        });
        loop {
            if let Some(settled) = state.settled.remove(&ticket) {
                drop(state);
                return match settled {
                    Some(accepted) => Ok(accepted),
                    None => insert_accepted(conn, request, registration),
                };
            }
            if state.leading >= LEADERS || state.waiting.is_empty() {
                // The leader's statement is bounded by the connection's
                // statement and lock timeouts, so this wait is too.
                state = self
                    .settled
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.leading += 1;
            let take = state.waiting.len().min(GROUP_MAX);
            let group: Vec<Waiting> = state.waiting.drain(..take).collect();
            drop(state);
            if let [only] = group.as_slice()
                && only.ticket == ticket
            {
                // Alone: the plain statement, its error this caller's to see.
                let lead = Lead {
                    group: self,
                    tickets: Vec::new(),
                    outcomes: Vec::new(),
                };
                let alone = insert_accepted(conn, request, registration);
                drop(lead);
                return alone;
            }
            let mut lead = Lead {
                group: self,
                tickets: group.iter().map(|w| w.ticket).collect(),
                outcomes: Vec::new(),
            };
            lead.outcomes = insert_group(conn, &group);
            drop(lead);
            state = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, GroupState> {
        // The state is consistent between statements: a panic elsewhere
        // leaves nothing half-written in it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A group being inserted. Dropping it hands the outcomes over and lets the
/// next leader in, also when the insert unwinds: then every member inserts
/// alone.
struct Lead<'a> {
    group: &'a InsertGroup,
    tickets: Vec<u64>,
    outcomes: Vec<(u64, Option<Accepted>)>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        state.leading -= 1;
        for ticket in &self.tickets {
            state.settled.insert(*ticket, None);
        }
        state.settled.extend(self.outcomes.drain(..));
        drop(state);
        self.group.settled.notify_all();
    }
}

/// Inserts a group (of one, when it is another request's) in one statement;
/// each member's outcome, `None` for all when the statement failed.
fn insert_group(conn: &mut PgConnection, group: &[Waiting]) -> Vec<(u64, Option<Accepted>)> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        registration_request_id: String,
    }
    let binds = group
        .iter()
        .flat_map(|w| row_binds(&w.request, &w.registration))
        .collect();
    let stored: Vec<Stored> = match Prepared::new(group_sql(group.len()), binds).load(conn) {
        Ok(stored) => stored,
        Err(e) => {
            tracing::debug!(error = %e, members = group.len(), "a group insert failed; its members insert alone");
            return group.iter().map(|w| (w.ticket, None)).collect();
        }
    };
    let ids: HashMap<&str, i64> = stored
        .iter()
        .map(|s| (s.registration_request_id.as_str(), s.id))
        .collect();
    group
        .iter()
        .map(|w| {
            let accepted = match ids.get(w.request.registration_request_id.as_str()) {
                Some(id) => Accepted::Stored(*id),
                // Bound meanwhile by a request elsewhere: as when alone.
                None => Accepted::IdTaken,
            };
            (w.ticket, Some(accepted))
        })
        .collect()
}

/// One row of the group's input, typed as the columns it fills, in the order
/// of [`row_binds`].
const GROUP_ROW: &str = "(?::text, ?::text, ?::text, ?::text, ?::text, ?::bytea, ?::text, ?::text, \
     ?::text, ?::text[], ?::text, ?::text, ?::text, ?::text, ?::text, ?::text[], ?::timestamptz, \
     ?::text, ?::text, ?::text, ?::text, ?::boolean, ?::text, ?::text, ?::text)";

/// The statement for a group of `n`, made once per size (its text is the
/// prepared-statement cache's key, so it must live as long as the process).
fn group_sql(n: usize) -> &'static str {
    static TEXTS: [OnceLock<String>; GROUP_MAX + 1] = [const { OnceLock::new() }; GROUP_MAX + 1];
    TEXTS[n.min(GROUP_MAX)].get_or_init(|| {
        let rows = vec![GROUP_ROW; n].join(", ");
        format!(
            "WITH input (registration_request_id, client_id, reference_merchant_id, reference_store_id,
                        raw_request, request_fingerprint, result_code, response_body,
                        status, product_codes, merchant_name, legal_name, merchant_mcc, region,
                        registration_notify_url, review_flags, decided_at, decided_by, reason,
                        reject_code, search_text, is_update, triage_rule, triage_action, rules_version)
                 AS (VALUES {rows}),
             bound AS (
                INSERT INTO requests (registration_request_id, client_id, reference_merchant_id,
                                      reference_store_id, raw_request, request_fingerprint,
                                      result_code, response_body)
                SELECT registration_request_id, client_id, reference_merchant_id, reference_store_id,
                       raw_request, request_fingerprint, result_code, response_body
                  FROM input
                ON CONFLICT DO NOTHING
                RETURNING registration_request_id, received_at)
             INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id,
                                        reference_store_id, product_codes, merchant_name, legal_name,
                                        merchant_mcc, region, registration_notify_url, review_flags,
                                        received_at, decided_at, decided_by, reason, reject_code,
                                        search_text, is_update, triage_rule, triage_action, rules_version)
             SELECT i.registration_request_id, i.client_id, i.status, i.reference_merchant_id,
                    i.reference_store_id, i.product_codes, i.merchant_name, i.legal_name,
                    i.merchant_mcc, i.region, i.registration_notify_url, i.review_flags,
                    b.received_at, i.decided_at, i.decided_by, i.reason, i.reject_code,
                    i.search_text, i.is_update, i.triage_rule, i.triage_action, i.rules_version
               FROM bound b JOIN input i ON i.registration_request_id = b.registration_request_id
             RETURNING id, registration_request_id"
        )
    })
}
