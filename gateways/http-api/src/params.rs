//! Turning path segments, query strings and the consistency header into the values of the gRPC
//! requests. Every failure is a 400 naming the parameter; nothing here reaches the network.

use aggregates::order::OrderStatus;
use proto::query::ConsistencyToken;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::ApiError;

/// Largest page size.
pub const MAX_LIMIT: u32 = 100;
/// Longest accepted cursor; real ones are far shorter, so a longer one is a client bug.
const MAX_CURSOR_LEN: usize = 1024;
/// Longest accepted title prefix.
const MAX_TITLE_PREFIX_LEN: usize = 200;

/// `limit` and `cursor` of a paged list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page. Digits (a position in
    /// the read model).
    #[param(max_length = 1024, pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The parameters of the product list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    /// Page size, 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page. The last product's id.
    #[param(
        max_length = 1024,
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
    /// Only products whose title starts with this text (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
}

/// The parameters of an order list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListParams {
    /// Only orders in this state: `placed`, `stock_reserved`, `paid`, `shipped`, `cancelled` or
    /// `refunded`.
    // utoipa takes only a string literal here; a test checks it against `OrderStatus::ALL`.
    #[param(value_type = Option<String>, pattern = "^(placed|stock_reserved|paid|shipped|cancelled|refunded)$")]
    pub status: Option<String>,
    /// Page size, 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page. Digits (a position in
    /// the read model).
    #[param(max_length = 1024, pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The states an order can be in, as `Order.status` names them ([`OrderStatus::name`]).
fn order_status_names() -> Vec<&'static str> {
    OrderStatus::ALL.map(OrderStatus::name).to_vec()
}

/// A validated page request: the limit (0 for the service's default) and the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 1..=100 (or the route's own largest page), or 0 for the default.
    pub limit: u32,
    /// Opaque cursor, empty for the first page.
    pub cursor: String,
}

/// A present, non-empty parameter value; an empty one (`?limit=`) counts as absent.
pub(crate) fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty())
}

/// `limit` and `cursor` checked: the limit is 1..=100 (0 when absent, the service's default),
/// the cursor at most 1024 bytes and otherwise passed on as it is.
pub fn page(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, ApiError> {
    page_up_to(limit, cursor, MAX_LIMIT)
}

/// As [`page`], for a service whose largest page is `max_limit` (the audit queries take 500).
pub fn page_up_to(
    limit: Option<&str>,
    cursor: Option<&str>,
    max_limit: u32,
) -> Result<Page, ApiError> {
    let limit = match given(limit) {
        None => 0,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=max_limit).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    &format!("must be an integer from 1 to {max_limit}"),
                )
            })?,
    };
    let cursor = given(cursor).unwrap_or_default();
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(ApiError::invalid("cursor", "is too long"));
    }
    Ok(Page {
        limit,
        cursor: cursor.to_owned(),
    })
}

impl PageParams {
    /// The validated page.
    pub fn page(&self) -> Result<Page, ApiError> {
        page(self.limit.as_deref(), self.cursor.as_deref())
    }
}

impl ProductListParams {
    /// The validated page and title prefix (empty for all products).
    pub fn validate(&self) -> Result<(Page, String), ApiError> {
        let page = page(self.limit.as_deref(), self.cursor.as_deref())?;
        let prefix = given(self.q.as_deref()).unwrap_or_default();
        if prefix.chars().count() > MAX_TITLE_PREFIX_LEN {
            return Err(ApiError::invalid(
                "q",
                &format!("must be at most {MAX_TITLE_PREFIX_LEN} characters"),
            ));
        }
        Ok((page, prefix.to_owned()))
    }
}

impl OrderListParams {
    /// The validated page and status filter (empty for all states).
    pub fn validate(&self) -> Result<(Page, String), ApiError> {
        let page = page(self.limit.as_deref(), self.cursor.as_deref())?;
        let status = match given(self.status.as_deref()) {
            None => String::new(),
            Some(status) if OrderStatus::from_name(status).is_some() => status.to_owned(),
            Some(_) => {
                return Err(ApiError::invalid(
                    "status",
                    &format!("must be one of {}", order_status_names().join(", ")),
                ));
            }
        };
        Ok((page, status))
    }
}

/// A UUID in its hyphenated form (`8-4-4-4-12` hex digits, either case: what the document's
/// `format: uuid` promises), as the canonical lowercase string the read models key by.
pub fn uuid(field: &str, value: &str) -> Result<String, ApiError> {
    Some(value)
        .filter(|value| value.len() == 36)
        .and_then(|value| Uuid::try_parse(value).ok())
        .map(|id| id.hyphenated().to_string())
        .ok_or_else(|| ApiError::invalid(field, "must be a UUID"))
}

/// An `X-Consistency-Token` value, `<stream_id>@<version>`: the stream id `<category>-<uuid>`
/// (split at the last `@`), the version a decimal `u64`.
pub fn consistency_token(value: &str) -> Result<ConsistencyToken, ApiError> {
    let invalid = |problem: &str| ApiError::invalid("X-Consistency-Token", problem);
    let (stream_id, version) = value
        .rsplit_once('@')
        .ok_or_else(|| invalid("must be <stream_id>@<version>, e.g. cart-<uuid>@3"))?;
    let version = Some(version)
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u64>().ok())
        .ok_or_else(|| invalid("has a version that is not an unsigned 64-bit integer"))?;
    let (category, id) = stream_id
        .split_once('-')
        .ok_or_else(|| invalid("has a stream id that is not <category>-<uuid>"))?;
    let category_ok = !category.is_empty()
        && category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    // Only the hyphenated form: that is how stream ids are written.
    let id_ok = id.len() == 36 && Uuid::try_parse(id).is_ok();
    if !category_ok || !id_ok {
        return Err(invalid("has a stream id that is not <category>-<uuid>"));
    }
    Ok(ConsistencyToken {
        stream_id: stream_id.to_owned(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5b0c8a52-3c1e-4d0e-9a55-4b7d2f1f0a11";

    #[test]
    fn limits_are_1_to_100_and_absent_means_the_default() {
        assert_eq!(page(None, None).unwrap().limit, 0);
        assert_eq!(page(Some(""), None).unwrap().limit, 0);
        assert_eq!(page(Some("1"), None).unwrap().limit, 1);
        assert_eq!(page(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "abc", "-1", "1.5", "99999999999"] {
            let error = page(Some(bad), None).unwrap_err();
            assert!(error.to_string().starts_with("limit "), "{bad}: {error}");
        }
    }

    #[test]
    fn a_route_may_allow_larger_pages() {
        assert_eq!(page_up_to(Some("500"), None, 500).unwrap().limit, 500);
        let error = page_up_to(Some("501"), None, 500).unwrap_err();
        assert_eq!(
            error,
            ApiError::InvalidArgument("limit must be an integer from 1 to 500".into())
        );
    }

    #[test]
    fn cursors_pass_through_opaquely_up_to_a_length() {
        assert_eq!(page(None, Some("a b+c/=")).unwrap().cursor, "a b+c/=");
        assert!(page(None, Some(&"x".repeat(2000))).is_err());
    }

    #[test]
    fn order_status_must_be_a_known_state() {
        let params = |status: &str| OrderListParams {
            status: Some(status.to_owned()),
            ..OrderListParams::default()
        };
        assert_eq!(params("paid").validate().unwrap().1, "paid");
        assert_eq!(params("").validate().unwrap().1, "");
        assert!(params("PAID").validate().is_err());
        assert!(params("lost").validate().is_err());
    }

    #[test]
    fn the_documented_status_pattern_names_every_order_status() {
        let params = OrderListParams::into_params(|| None);
        let status = params.iter().find(|param| param.name == "status").unwrap();
        let schema = serde_json::to_value(&status.schema).unwrap();
        let expected = format!("^({})$", order_status_names().join("|"));
        assert_eq!(schema["pattern"], expected.as_str());
    }

    #[test]
    fn hyphenated_uuids_are_normalised_and_anything_else_refused() {
        assert_eq!(uuid("order_id", &ID.to_uppercase()).unwrap(), ID);
        for other_spelling in [
            ID.replace('-', ""),
            format!("{{{ID}}}"),
            format!("urn:uuid:{ID}"),
        ] {
            assert!(
                uuid("order_id", &other_spelling).is_err(),
                "{other_spelling}"
            );
        }
        let error = uuid("order_id", "42").unwrap_err();
        assert_eq!(
            error,
            ApiError::InvalidArgument("order_id must be a UUID".into())
        );
    }

    #[test]
    fn consistency_tokens_are_parsed_strictly_at_the_last_at_sign() {
        let token = consistency_token(&format!("cart-{ID}@3")).unwrap();
        assert_eq!(token.stream_id, format!("cart-{ID}"));
        assert_eq!(token.version, 3);
        let max = consistency_token(&format!("order-{ID}@{}", u64::MAX)).unwrap();
        assert_eq!(max.version, u64::MAX);
        for bad in [
            String::new(),
            format!("cart-{ID}"),
            format!("cart-{ID}@"),
            format!("cart-{ID}@+3"),
            format!("cart-{ID}@-3"),
            format!("cart-{ID}@3x"),
            format!("cart-{ID}@18446744073709551616"),
            format!("cart-{ID}@3@4"),
            "@3".to_owned(),
            "cart@3".to_owned(),
            format!("-{ID}@3"),
            format!("Cart-{ID}@3"),
            format!("cart-{}@3", ID.replace('-', "")),
            "cart-42@3".to_owned(),
            format!("cart-{ID} @3"),
        ] {
            assert!(consistency_token(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
