//! The aggregate contract shared by every bounded context: `decide` holds all business logic,
//! `evolve` holds none (a pure fold), and the state is rebuilt by folding a stream's events.

use std::fmt;

use crate::event::DomainEvent;

/// An event-sourced aggregate. Implemented by a unit type per context ([`crate::Customer`],
/// [`crate::Product`], ...), so calls read `Customer::decide(&state, command)`.
///
/// Both functions are deterministic: time, ids and prices come in through the command.
pub trait Aggregate {
    /// The stream category: the stream of aggregate `id` is `<CATEGORY>-<id>`.
    const CATEGORY: &'static str;

    /// The aggregate's identifier (the `<id>` part of its stream id).
    type Id: fmt::Display;
    /// What a caller asks for.
    type Command: fmt::Debug;
    /// What happened: past-tense facts, stored in the event log.
    type Event: DomainEvent + Clone + fmt::Debug + PartialEq;
    /// The state folded from events. `Default` is the state of an empty stream.
    type State: Default + Clone + fmt::Debug + PartialEq;
    /// Why a command is rejected.
    type Error: std::error::Error + Clone + PartialEq;

    /// Checks `command` against `state` and returns the events that record it; all business
    /// rules live here. An empty `Vec` means the command changes nothing (nothing to append).
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one event to the state. Never fails and makes no decisions: events are facts.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after `events`, starting from an empty stream.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        Self::fold_from(Self::State::default(), events)
    }

    /// The state after applying `events` to `state` (e.g. a snapshot).
    fn fold_from<'a>(
        state: Self::State,
        events: impl IntoIterator<Item = &'a Self::Event>,
    ) -> Self::State
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(state, Self::evolve)
    }

    /// The stream id of aggregate `id`: `<CATEGORY>-<id>`.
    fn stream_id(id: &Self::Id) -> String {
        format!("{}-{}", Self::CATEGORY, id)
    }
}
