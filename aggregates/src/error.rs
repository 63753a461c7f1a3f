//! Errors of the domain: [`DomainError`] is what `decide` rejects a command with, classified by
//! [`ErrorKind`] so the gRPC/HTTP edges map them in one place; [`DecodeError`] is what reading a
//! stored event can fail with.

use thiserror::Error;

use crate::{
    ids::{ReservationId, SkuId},
    money::{Currency, Money, MoneyError},
};

/// The class of a [`DomainError`], for the edges' single mapping to status codes.
///
/// The rule used to classify: a command that is wrong *on its own*, whatever the state, is
/// [`InvalidArgument`](ErrorKind::InvalidArgument); a well-formed command that the *current
/// state* forbids is [`FailedPrecondition`](ErrorKind::FailedPrecondition) (or one of the two
/// more specific state classes, [`NotFound`](ErrorKind::NotFound) and
/// [`AlreadyExists`](ErrorKind::AlreadyExists)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// gRPC `INVALID_ARGUMENT`, HTTP 400. Retrying the same command can never succeed.
    InvalidArgument,
    /// gRPC `NOT_FOUND`, HTTP 404: the aggregate does not exist yet, or an entity inside it
    /// (a SKU, a reservation, a cart line) is unknown.
    NotFound,
    /// gRPC `ALREADY_EXISTS`, HTTP 409: creating something whose id is already taken.
    AlreadyExists,
    /// gRPC `FAILED_PRECONDITION`, HTTP 409 or 422: a business rule forbids the command in the
    /// current state. It may succeed later, after the state changes.
    FailedPrecondition,
}

/// Why `decide` rejected a command. Messages are lowercase; amounts print in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field of the command is malformed (empty or too long text, an empty or duplicated list,
    /// an id that does not belong to this stream).
    /// Handle: reject as `INVALID_ARGUMENT`; the client must fix the input.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An amount that must be greater than zero is zero or negative.
    /// Handle: reject as `INVALID_ARGUMENT`.
    #[error("{field} must be positive, got {amount}")]
    NonPositiveAmount {
        /// The offending field.
        field: &'static str,
        /// The amount sent.
        amount: Money,
    },

    /// A quantity is outside its allowed range.
    /// Handle: reject as `INVALID_ARGUMENT` (a quantity of zero is never a way to remove).
    #[error("{field} must be between {min} and {max}, got {quantity}")]
    InvalidQuantity {
        /// The offending field.
        field: &'static str,
        /// The quantity sent.
        quantity: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },

    /// Amounts inside one command are in different currencies (e.g. order lines).
    /// Handle: reject as `INVALID_ARGUMENT`; never convert currencies implicitly.
    #[error("{field} mixes currencies {first} and {other}")]
    MixedCurrencies {
        /// The field holding the amounts.
        field: &'static str,
        /// The first currency seen.
        first: Currency,
        /// A different currency seen later.
        other: Currency,
    },

    /// A currency code is not three uppercase letters (raised when parsing input).
    /// Handle: reject as `INVALID_ARGUMENT`.
    #[error("invalid currency code {code:?}: expected three uppercase letters")]
    InvalidCurrency {
        /// The code sent.
        code: String,
    },

    /// An amount or count would not fit its integer type.
    /// Handle: reject as `INVALID_ARGUMENT`; such numbers are never legitimate.
    #[error("{what} is too large")]
    Overflow {
        /// What overflowed.
        what: &'static str,
    },

    /// The aggregate's stream has no events yet: the command needs a created aggregate.
    /// Handle: `NOT_FOUND`; the id the caller used (the stream's) is unknown.
    #[error("{entity} does not exist")]
    NotCreated {
        /// Kind of aggregate (`customer`, `product`, `order`, `payment`).
        entity: &'static str,
    },

    /// An entity inside the aggregate (a SKU, a reservation, a cart line) is unknown.
    /// Handle: `NOT_FOUND`; check the id.
    #[error("{entity} {id} does not exist")]
    NotFound {
        /// Kind of thing looked for (`sku`, `reservation`, `cart line`).
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// A creation command (or a reservation, or a debit for one payment) reuses an id.
    /// Handle: `ALREADY_EXISTS`. A retried command should have been caught earlier by the
    /// command-id idempotency check, so this means a genuine duplicate.
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// Kind of thing.
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// The target is deactivated, discontinued or otherwise not available.
    /// Handle: `FAILED_PRECONDITION`; show the status to the user.
    #[error("{entity} {id} is {status}")]
    Inactive {
        /// Kind of thing.
        entity: &'static str,
        /// Its id.
        id: String,
        /// Its status, e.g. `deactivated` or `discontinued`.
        status: &'static str,
    },

    /// An amount's currency differs from the currency the aggregate already holds (a customer's
    /// balance, a cart's lines, an order's total, a payment's amount).
    /// Handle: `FAILED_PRECONDITION`; the client must send the aggregate's currency.
    #[error("expected currency {expected}, got {actual}")]
    CurrencyMismatch {
        /// The aggregate's currency.
        expected: Currency,
        /// The currency sent.
        actual: Currency,
    },

    /// A debit larger than the customer's balance.
    /// Handle: `FAILED_PRECONDITION`; the payment fails (the saga fails the payment).
    #[error("insufficient balance: {balance} available, {requested} requested")]
    InsufficientBalance {
        /// Current balance.
        balance: Money,
        /// Amount asked for.
        requested: Money,
    },

    /// Not enough available (on hand minus reserved) stock.
    /// Handle: `FAILED_PRECONDITION`; the order cannot be fulfilled now (the saga cancels it),
    /// or the cart line is refused.
    #[error("insufficient stock for sku {sku_id}: {available} available, {requested} requested")]
    InsufficientStock {
        /// The SKU.
        sku_id: SkuId,
        /// Stock available for new reservations.
        available: u32,
        /// Quantity asked for.
        requested: u32,
    },

    /// The reservation was already released or committed; it resolves exactly once.
    /// Handle: `FAILED_PRECONDITION`; a saga seeing this for its own step can treat it as done
    /// only if the resolution is the one it wanted.
    #[error("reservation {reservation_id} was already {resolution}")]
    ReservationResolved {
        /// The reservation.
        reservation_id: ReservationId,
        /// `released` or `committed`.
        resolution: &'static str,
    },

    /// Adding a new line to a cart that already has the maximum number of lines.
    /// Handle: `FAILED_PRECONDITION`; the user must remove a line first.
    #[error("cart is full: at most {max_lines} lines")]
    CartFull {
        /// The limit.
        max_lines: usize,
    },

    /// Adding to an existing cart line would exceed the per-line quantity cap.
    /// Handle: `FAILED_PRECONDITION`; tell the user the maximum.
    #[error("line for sku {sku_id} would hold {quantity} items, more than {max}")]
    LineQuantityExceeded {
        /// The SKU of the line.
        sku_id: SkuId,
        /// The quantity the line would reach.
        quantity: u32,
        /// The cap.
        max: u32,
    },

    /// The aggregate's state machine does not allow this command in its current status.
    /// Handle: `FAILED_PRECONDITION`; never retry blindly, re-read the status.
    #[error("cannot {action} {entity} in status {status}")]
    IllegalTransition {
        /// `order` or `payment`.
        entity: &'static str,
        /// The current status.
        status: &'static str,
        /// The attempted command, e.g. `ship`.
        action: &'static str,
    },

    /// An amount must equal one the aggregate already knows (a payment for an order's total).
    /// Handle: `FAILED_PRECONDITION`; the payment does not settle this order.
    #[error("amount {actual} does not match the expected {expected}")]
    AmountMismatch {
        /// The amount the aggregate expects.
        expected: Money,
        /// The amount sent.
        actual: Money,
    },

    /// A refund larger than what is left to refund (captured minus already refunded).
    /// Handle: `FAILED_PRECONDITION`; refund at most `refundable`.
    #[error("refund of {requested} exceeds the refundable {refundable}")]
    RefundExceedsCaptured {
        /// Captured minus already refunded.
        refundable: Money,
        /// Amount asked for.
        requested: Money,
    },
}

impl DomainError {
    /// The class of this error, for mapping to a gRPC status or an HTTP status in one place.
    pub fn kind(&self) -> ErrorKind {
        use DomainError::*;
        match self {
            Invalid { .. }
            | NonPositiveAmount { .. }
            | InvalidQuantity { .. }
            | MixedCurrencies { .. }
            | InvalidCurrency { .. }
            | Overflow { .. } => ErrorKind::InvalidArgument,
            NotCreated { .. } | NotFound { .. } => ErrorKind::NotFound,
            AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Inactive { .. }
            | CurrencyMismatch { .. }
            | InsufficientBalance { .. }
            | InsufficientStock { .. }
            | ReservationResolved { .. }
            | CartFull { .. }
            | LineQuantityExceeded { .. }
            | IllegalTransition { .. }
            | AmountMismatch { .. }
            | RefundExceedsCaptured { .. } => ErrorKind::FailedPrecondition,
        }
    }
}

impl From<MoneyError> for DomainError {
    /// Money arithmetic inside `decide` combines a command's amount with the aggregate's, so a
    /// currency mismatch there is a [`DomainError::CurrencyMismatch`] (left = the aggregate's).
    fn from(error: MoneyError) -> Self {
        match error {
            MoneyError::InvalidCurrency(code) => DomainError::InvalidCurrency { code },
            MoneyError::CurrencyMismatch { left, right } => DomainError::CurrencyMismatch {
                expected: left,
                actual: right,
            },
            MoneyError::Overflow => DomainError::Overflow { what: "amount" },
        }
    }
}

/// Why a stored event could not be turned back into a domain event.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The event type is not one this enum knows.
    /// Handle: the event belongs to another category or was written by newer code; route by
    /// stream category before decoding, or deploy the newer code. Never skip it silently.
    #[error("unknown event type {event_type:?}")]
    UnknownEventType {
        /// The stored type.
        event_type: String,
    },

    /// The schema version is below 1 or newer than this code understands.
    /// Handle: deploy code that knows this version; do not guess.
    #[error(
        "unsupported schema version {schema_version} of {event_type} (this code reads 1 to {current})"
    )]
    UnsupportedSchemaVersion {
        /// The stored type.
        event_type: String,
        /// The stored version.
        schema_version: i32,
        /// The newest version this code reads.
        current: i32,
    },

    /// The stored payload is not a JSON object.
    /// Handle: the row is corrupt; report it (park the message), do not retry.
    #[error("payload of {event_type} is not a json object")]
    NotAnObject {
        /// The stored type.
        event_type: String,
    },

    /// An older schema version has no upcaster to the next version (a programming error).
    /// Handle: report it; add the missing upcaster.
    #[error("no upcaster from version {from_version} of {event_type}")]
    MissingUpcaster {
        /// The stored type.
        event_type: String,
        /// The version that could not be upcast.
        from_version: i32,
    },

    /// The payload (after upcasting) does not match the event's fields.
    /// Handle: the row is corrupt or an upcaster is wrong; report it (park the message).
    #[error("invalid payload of {event_type} version {schema_version}")]
    InvalidPayload {
        /// The stored type.
        event_type: String,
        /// The stored version.
        schema_version: i32,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_errors_become_domain_errors_of_the_right_kind() {
        let mismatch: DomainError = MoneyError::CurrencyMismatch {
            left: Currency::USD,
            right: Currency::EUR,
        }
        .into();
        assert_eq!(mismatch.kind(), ErrorKind::FailedPrecondition);
        assert_eq!(mismatch.to_string(), "expected currency USD, got EUR");

        let invalid: DomainError = MoneyError::InvalidCurrency("usd".into()).into();
        assert_eq!(invalid.kind(), ErrorKind::InvalidArgument);

        let overflow: DomainError = MoneyError::Overflow.into();
        assert_eq!(overflow.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn messages_are_lowercase() {
        let error = DomainError::IllegalTransition {
            entity: "order",
            status: "placed",
            action: "ship",
        };
        assert_eq!(error.to_string(), "cannot ship order in status placed");
    }
}
