//! A tiny given/when/then harness for aggregate tests:
//! `given::<Customer>(events).when(command).then(expected_events)` or `.then_error(error)`.
//!
//! Public so that the command services' tests can reuse it; it has no dependencies beyond the
//! domain itself.

use std::{fmt, marker::PhantomData};

use crate::aggregate::Aggregate;

/// The history of a test: events already in the stream.
pub struct Given<A: Aggregate> {
    state: A::State,
    _aggregate: PhantomData<A>,
}

/// Starts a test from the stream holding `events`.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().collect();
    Given {
        state: A::fold(&events),
        _aggregate: PhantomData,
    }
}

impl<A: Aggregate> Given<A> {
    /// Runs `decide` for `command` against the history.
    pub fn when(self, command: A::Command) -> When<A> {
        let result = A::decide(&self.state, command);
        When {
            state: self.state,
            result,
        }
    }
}

/// The outcome of `decide`, to be checked.
pub struct When<A: Aggregate> {
    state: A::State,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A>
where
    A::Error: fmt::Debug,
{
    /// Asserts that the command produced exactly `expected` and returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A::State {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        assert_eq!(self.result, Ok(expected.clone()));
        A::fold_from(self.state, &expected)
    }

    /// Asserts that the command was rejected with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) {
        assert_eq!(self.result, Err(expected));
    }

    /// The raw outcome, for assertions the two helpers above do not cover.
    pub fn result(self) -> Result<Vec<A::Event>, A::Error> {
        self.result
    }
}
