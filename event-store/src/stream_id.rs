//! Stream identifiers: `<category>-<id>`.
//!
//! The category is everything before the first dash and matches `[a-z][a-z0-9_]*`; the id is the
//! rest and may itself contain dashes (a UUID, say). Category reads (`$ce-…` in EventStoreDB terms)
//! group streams by that prefix.

use std::fmt;

/// Longest accepted stream id, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 256;

/// A validated stream id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    value: String,
    category_len: usize,
}

/// Why a string is not a stream id. The caller sent a malformed id: reject the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream id {value:?}: {reason}")]
pub struct InvalidStreamId {
    /// The rejected input, cut to 80 characters so a huge input does not flood logs.
    pub value: String,
    /// What rule it breaks.
    pub reason: &'static str,
}

impl StreamId {
    /// Parses and validates `<category>-<id>`.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidStreamId> {
        let value = value.into();
        let fail = |reason| {
            Err(InvalidStreamId {
                value: value.chars().take(80).collect(),
                reason,
            })
        };
        if value.len() > MAX_STREAM_ID_LEN {
            return fail("longer than 256 bytes");
        }
        let Some((category, id)) = value.split_once('-') else {
            return fail("expected <category>-<id>");
        };
        if let Err(reason) = validate_category(category) {
            return fail(reason);
        }
        if id.is_empty() {
            return fail("the id after the category is empty");
        }
        if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return fail("the id contains whitespace or control characters");
        }
        let category_len = category.len();
        Ok(Self {
            value,
            category_len,
        })
    }

    /// Builds `<category>-<id>` from its parts.
    pub fn new(category: &str, id: impl fmt::Display) -> Result<Self, InvalidStreamId> {
        Self::parse(format!("{category}-{id}"))
    }

    /// The whole id, `<category>-<id>`, as stored.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before the first dash.
    pub fn category(&self) -> &str {
        &self.value[..self.category_len]
    }

    /// The part after the first dash.
    pub fn id(&self) -> &str {
        &self.value[self.category_len + 1..]
    }
}

/// Checks a category name: `[a-z][a-z0-9_]*`, at most 64 bytes.
pub fn validate_category(category: &str) -> Result<(), &'static str> {
    let mut chars = category.chars();
    match chars.next() {
        None => Err("the category is empty"),
        Some(c) if !c.is_ascii_lowercase() => Err("the category must start with a-z"),
        _ if category.len() > 64 => Err("the category is longer than 64 bytes"),
        _ if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') => {
            Err("the category may contain only a-z, 0-9 and _")
        }
        _ => Ok(()),
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl serde::Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for StreamId {
    /// Validates like [`StreamId::parse`]: a malformed id fails to deserialize.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(value).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&str> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_is_everything_before_the_first_dash() {
        let id = StreamId::parse("cart-6f1c2d3e-aaaa-bbbb-cccc-000000000001").unwrap();
        assert_eq!(id.category(), "cart");
        assert_eq!(id.id(), "6f1c2d3e-aaaa-bbbb-cccc-000000000001");
        assert_eq!(
            StreamId::new("order_line", 7).unwrap().as_str(),
            "order_line-7"
        );
    }

    #[test]
    fn malformed_stream_ids_are_rejected_with_a_reason() {
        for bad in [
            "", "cart", "-42", "cart-", "Cart-1", "1cart-1", "ca rt-1", "cart-4 2", "cart-1\n",
            "ca.rt-1",
        ] {
            let err = StreamId::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad:?}");
        }
        assert!(StreamId::parse(format!("a-{}", "x".repeat(300))).is_err());
    }
}
