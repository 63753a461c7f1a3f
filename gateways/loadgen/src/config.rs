//! What a load run does: where the shop's APIs are, how tokens are signed, how many virtual
//! customers run which flows for how long (closed loop) or at which offered rate (open loop),
//! and which error kinds count as expected.

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;

use crate::{LoadError, error::ErrorKind};

/// How bearer tokens are signed: the `[auth]` section every process checks tokens with.
pub use settings::AuthSettings;

/// A storefront flow a virtual customer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// `GET /api/v1/products` (a page of the catalogue, sometimes the next page).
    Browse,
    /// `GET /api/v1/products/{id}` of a product of the run's catalogue.
    Detail,
    /// `CartCommands.AddItem` of one item of a product of the catalogue.
    AddToCart,
    /// `GET /api/v1/cart` with the consistency token of the customer's last cart write.
    ViewCart,
    /// `OrderCommands.Checkout` by balance (after adding an item when the customer has not
    /// added one since their last checkout); the purchase's outcome is then followed over
    /// `GET /api/v1/orders/{id}/checkout`.
    Checkout,
}

impl Flow {
    /// Every flow, in report order.
    pub const ALL: [Flow; 5] = [
        Flow::Browse,
        Flow::Detail,
        Flow::AddToCart,
        Flow::ViewCart,
        Flow::Checkout,
    ];

    /// The flow's name in reports (`add_to_cart`).
    pub fn name(self) -> &'static str {
        match self {
            Flow::Browse => "browse",
            Flow::Detail => "detail",
            Flow::AddToCart => "add_to_cart",
            Flow::ViewCart => "view_cart",
            Flow::Checkout => "checkout",
        }
    }
}

/// Relative weights of the flows: each flow a virtual customer starts is drawn with probability
/// weight / sum of weights. The default is the storefront mix of issue 15: browse 10, product
/// detail 5, add to cart 2, view cart 3, checkout 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weights(pub BTreeMap<Flow, u32>);

impl Default for Weights {
    fn default() -> Self {
        Self(
            [
                (Flow::Browse, 10),
                (Flow::Detail, 5),
                (Flow::AddToCart, 2),
                (Flow::ViewCart, 3),
                (Flow::Checkout, 1),
            ]
            .into_iter()
            .collect(),
        )
    }
}

impl Weights {
    /// The weight of `flow` (0 when not listed).
    pub fn of(&self, flow: Flow) -> u32 {
        self.0.get(&flow).copied().unwrap_or(0)
    }

    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        self.0.values().map(|&w| u64::from(w)).sum()
    }

    /// The flow a uniformly random `roll` selects: flows take consecutive ranges of
    /// `0..total()` in [`Flow::ALL`] order, each as wide as its weight. `None` when every weight
    /// is zero.
    pub fn pick(&self, roll: u64) -> Option<Flow> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let mut rest = roll % total;
        for flow in Flow::ALL {
            let weight = u64::from(self.of(flow));
            if rest < weight {
                return Some(flow);
            }
            rest -= weight;
        }
        None
    }

    /// Parses `browse=10,detail=5,add_to_cart=2,view_cart=3,checkout=1`; flows left out weigh 0.
    pub fn parse(text: &str) -> Result<Self, LoadError> {
        let mut weights = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let invalid = || LoadError::Config(format!("weight {part:?}: expected <flow>=<n>"));
            let (name, weight) = part.split_once('=').ok_or_else(invalid)?;
            let flow = Flow::ALL
                .into_iter()
                .find(|flow| flow.name() == name.trim())
                .ok_or_else(invalid)?;
            weights.insert(flow, weight.trim().parse().map_err(|_| invalid())?);
        }
        Ok(Self(weights))
    }
}

/// Where the shop's APIs are: the gRPC command services used (by name) and the HTTP read API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// The customer command service, `http://host:port`.
    pub customer: String,
    /// The product command service.
    pub product: String,
    /// The cart command service.
    pub cart: String,
    /// The order command service (`Checkout`).
    pub order: String,
    /// The HTTP read API's base URL (without `/api/v1`).
    pub http: String,
}

impl Endpoints {
    /// The endpoints a process of the shop reads from its settings: the command services where
    /// the checkout process manager finds them (`checkout.<service>_endpoint`) and the HTTP API
    /// where it listens (`http.listen`).
    pub fn from_settings(settings: &settings::Settings) -> Self {
        let checkout = &settings.checkout;
        Self {
            customer: checkout.customer_endpoint.clone(),
            product: checkout.product_endpoint.clone(),
            cart: checkout.cart_endpoint.clone(),
            order: checkout.order_endpoint.clone(),
            http: format!("http://{}", settings.http.listen),
        }
    }

    /// Loopback endpoints from a map of role → port with the keys `customer`, `product`,
    /// `cart`, `order` and `http` (what `checkout::testing::Stack::ports` holds); `None` if one
    /// is missing.
    pub fn loopback<K: AsRef<str> + Ord>(ports: &BTreeMap<K, u16>) -> Option<Self> {
        let url = |role: &str| {
            ports
                .iter()
                .find(|(name, _)| name.as_ref() == role)
                .map(|(_, port)| format!("http://127.0.0.1:{port}"))
        };
        Some(Self {
            customer: url("customer")?,
            product: url("product")?,
            cart: url("cart")?,
            order: url("order")?,
            http: url("http")?,
        })
    }
}

/// Everything a load run needs. Build one with [`LoadConfig::for_endpoints`] and change the
/// fields that matter.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where the APIs are.
    pub endpoints: Endpoints,
    /// How tokens are signed (the same `[auth]` settings the processes check them with).
    pub auth: AuthSettings,
    /// Virtual customers, each registered in the setup phase with an id of its own. In closed
    /// loop each runs one flow after another; in open loop the scheduled flows go to them in
    /// turn.
    pub users: usize,
    /// How long the timed phase runs; `None`: until the `stop` future of [`crate::run`]
    /// completes.
    pub duration: Option<Duration>,
    /// `Some(flows per second)`: open loop — flows start on a fixed schedule whether or not
    /// earlier ones finished, latency counts from the scheduled start, starts more than
    /// [`LATE_START`](crate::LATE_START) behind schedule are counted as late. `None`: closed
    /// loop.
    pub rate: Option<f64>,
    /// The flow mix.
    pub weights: Weights,
    /// Seed of the random choices (flows, products); one seed gives one sequence per customer.
    pub seed: u64,
    /// Error kinds that count as tolerated (reported, but not as unexpected): the fault suite
    /// tolerates [`ErrorKind::during_faults`] while it kills processes.
    pub tolerate: Vec<ErrorKind>,
    /// Products created in the setup phase (one SKU each); every fourth is scarce (2 items) so
    /// sell-outs happen, the others get [`LoadConfig::stock`].
    pub products: usize,
    /// Stock of each product that is not scarce.
    pub stock: u32,
    /// Balance each customer gets in the setup phase, in euro cents; prices are 1–50 EUR.
    pub balance: i64,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// How long a purchase's outcome is followed after `Checkout` was acknowledged; a purchase
    /// not settled by then is an error of kind [`ErrorKind::Unsettled`].
    pub settle_timeout: Duration,
    /// After the stop, how long flows already started may take to finish before they are
    /// abandoned (and counted as such). Following a purchase's outcome stops at once.
    pub drain: Duration,
    /// How long the setup phase may wait for its products and customers to show in the read
    /// models.
    pub setup_timeout: Duration,
}

impl LoadConfig {
    /// A closed-loop run of 4 customers for 30 s with the default mix, 20 products and nothing
    /// tolerated, against `endpoints` with tokens signed by `auth`.
    ///
    /// For a `checkout::testing::Stack`:
    /// `LoadConfig::for_endpoints(Endpoints::loopback(&stack.ports).unwrap(), stack.db.settings.auth.clone())`.
    pub fn for_endpoints(endpoints: Endpoints, auth: AuthSettings) -> Self {
        Self {
            endpoints,
            auth,
            users: 4,
            duration: Some(Duration::from_secs(30)),
            rate: None,
            weights: Weights::default(),
            seed: 1,
            tolerate: Vec::new(),
            products: 20,
            stock: 1_000,
            balance: 100_000,
            request_timeout: Duration::from_secs(10),
            settle_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(60),
        }
    }

    /// Checks what the types cannot; the error says which field.
    pub fn validate(&self) -> Result<(), LoadError> {
        let fail = |text: &str| Err(LoadError::Config(text.to_owned()));
        if self.users == 0 {
            return fail("users must be at least 1");
        }
        if self.products == 0 {
            return fail("products must be at least 1");
        }
        if self.weights.total() == 0 {
            return fail("at least one flow needs a positive weight");
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return fail("rate must be a positive number of flows per second");
        }
        if self.balance < 0 {
            return fail("balance must not be negative");
        }
        Ok(())
    }

    /// Whether an error of `kind` is tolerated in this run.
    pub fn tolerates(&self, kind: &ErrorKind) -> bool {
        self.tolerate.contains(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_pick_each_flow_in_proportion() {
        let weights = Weights::default();
        assert_eq!(weights.total(), 21);
        let mut counts = BTreeMap::new();
        for roll in 0..21 * 100 {
            *counts.entry(weights.pick(roll).unwrap()).or_insert(0) += 1;
        }
        assert_eq!(counts[&Flow::Browse], 1000);
        assert_eq!(counts[&Flow::Detail], 500);
        assert_eq!(counts[&Flow::AddToCart], 200);
        assert_eq!(counts[&Flow::ViewCart], 300);
        assert_eq!(counts[&Flow::Checkout], 100);
    }

    #[test]
    fn a_zero_weight_flow_is_never_picked() {
        let weights = Weights::parse("browse=1,checkout=0,view_cart=2").unwrap();
        let picked: Vec<Flow> = (0..30).filter_map(|roll| weights.pick(roll)).collect();
        assert!(!picked.contains(&Flow::Checkout));
        assert_eq!(picked.iter().filter(|&&f| f == Flow::ViewCart).count(), 20);
        assert_eq!(Weights::parse("").unwrap().pick(3), None);
    }

    #[test]
    fn weights_refuse_unknown_flows_and_bad_numbers() {
        assert!(Weights::parse("shop=1").is_err());
        assert!(Weights::parse("browse=-1").is_err());
        assert!(Weights::parse("browse").is_err());
    }

    #[test]
    fn loopback_endpoints_need_every_role() {
        let mut ports: BTreeMap<&str, u16> =
            [("customer", 1), ("product", 2), ("cart", 3), ("order", 4)]
                .into_iter()
                .collect();
        assert_eq!(Endpoints::loopback(&ports), None);
        ports.insert("http", 5);
        let endpoints = Endpoints::loopback(&ports).unwrap();
        assert_eq!(endpoints.order, "http://127.0.0.1:4");
        assert_eq!(endpoints.http, "http://127.0.0.1:5");
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let endpoints = Endpoints::loopback(
            &[
                ("customer", 1),
                ("product", 2),
                ("cart", 3),
                ("order", 4),
                ("http", 5),
            ]
            .into_iter()
            .collect::<BTreeMap<&str, u16>>(),
        )
        .unwrap();
        let mut config = LoadConfig::for_endpoints(endpoints, AuthSettings::development());
        assert!(config.validate().is_ok());
        config.rate = Some(0.0);
        assert!(config.validate().unwrap_err().to_string().contains("rate"));
        config.rate = None;
        config.users = 0;
        assert!(config.validate().unwrap_err().to_string().contains("users"));
    }
}
