//! The gateway on a free port in front of a real payment command service over a fresh event
//! log; external payments to call back about; signed callbacks.

use std::{
    net::SocketAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use aggregates::{
    Aggregate, CustomerId, DomainEvent, Order, OrderId, ProductId, SkuId,
    money::{Currency, Money},
    order::{OrderCommand, OrderLine, OrderState},
};
use auth::{
    ROLE_SERVICE,
    testing::{authed, token},
};
use command::{ServiceKind, testing::Server};
use event_store::{ExpectedVersion, NewEvent, StreamId, testing::TestDatabase};
use http_api::{App, HttpConfig, routes::webhooks::WEBHOOK_PATH};
use proto::payment::{
    InitiateRequest, PaymentMethod, payment_commands_client::PaymentCommandsClient,
};
use serde_json::Value;
use settings::SecretString;
use tokio::sync::oneshot;
use uuid::Uuid;
use webhook::{Event, EventData, EventType, SIGNATURE_HEADER};

/// The provider signs with this one now…
pub const NEW_SECRET: &str = "whsec-test-new-secret-of-at-least-32-bytes";
/// …and did with this one, still accepted while it rotates (second in the list).
pub const OLD_SECRET: &str = "whsec-test-old-secret-of-at-least-32-bytes";
/// A secret we do not hold.
pub const FOREIGN_SECRET: &str = "whsec-someone-elses-secret-of-32-bytes-or-more";
/// The order total, and the payment's amount.
pub const AMOUNT: i64 = 5_000;

/// The gateway on a free port in front of a real payment service over a fresh database.
pub struct Webhook {
    pub db: TestDatabase,
    pub payments: Server,
    pub address: SocketAddr,
    pub config: HttpConfig,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts an error of `status` and `code`; its message.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
        self.body["error"]["message"].as_str().unwrap().to_owned()
    }

    /// Asserts 200 with `status` (`applied` or `ignored`); the body.
    #[track_caller]
    pub fn receipt(&self, status: &str) -> &Value {
        assert_eq!(self.status, 200, "{:#}", self.body);
        assert_eq!(self.body["status"], status, "{:#}", self.body);
        &self.body
    }
}

pub fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

impl Webhook {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// As [`Webhook::start`], with `adjust` applied to the gateway's configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut HttpConfig)) -> Self {
        let db = TestDatabase::create(4).await;
        let payments = Server::start(ServiceKind::Payment, &db, |_| {}).await;
        let mut config = HttpConfig::local();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.webhook.payment_endpoint = payments.url();
        config.webhook.secrets = vec![
            SecretString::from(NEW_SECRET),
            SecretString::from(OLD_SECRET),
        ];
        adjust(&mut config);
        let app = App::build(config.clone()).await.unwrap();
        let address = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            stopped.await.ok();
        }));
        Self {
            db,
            payments,
            address,
            config,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// The webhook's URL.
    pub fn url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.address)
    }

    /// A new external payment of [`AMOUNT`] for a new order, initiated by the checkout (a
    /// service caller): its id and its order's.
    pub async fn external_payment(&self) -> (Uuid, Uuid) {
        let (payment, order, customer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let placed = Order::decide(
            &OrderState::NotPlaced,
            OrderCommand::PlaceOrder {
                order_id: OrderId(order),
                customer_id: CustomerId(customer),
                lines: vec![OrderLine {
                    product_id: ProductId(Uuid::new_v4()),
                    sku_id: SkuId(Uuid::new_v4()),
                    title: "Tea pot".into(),
                    unit_price: Money::new(2_500, Currency::EUR),
                    quantity: 2,
                }],
                at: chrono::Utc::now(),
            },
        )
        .unwrap();
        let events: Vec<NewEvent> = placed
            .iter()
            .map(|event| NewEvent::new(event.event_type(), event.to_data()))
            .collect();
        let stream = StreamId::parse(format!("order-{order}")).unwrap();
        self.db
            .store()
            .append(&stream, ExpectedVersion::NoStream, &events)
            .await
            .unwrap();
        PaymentCommandsClient::new(self.payments.channel.clone())
            .initiate(authed(
                InitiateRequest {
                    command_id: Uuid::new_v4().to_string(),
                    payment_id: payment.to_string(),
                    order_id: order.to_string(),
                    customer_id: customer.to_string(),
                    amount: Some(proto::common::Money {
                        amount_minor: AMOUNT,
                        currency: "EUR".into(),
                    }),
                    method: PaymentMethod::External.into(),
                },
                &token("checkout", &[ROLE_SERVICE]),
            ))
            .await
            .unwrap();
        (payment, order)
    }

    /// The payment stream's events: (type, data).
    pub async fn payment_events(&self, payment: Uuid) -> Vec<(String, Value)> {
        let stream = StreamId::parse(format!("payment-{payment}")).unwrap();
        self.db
            .store()
            .read_stream_to_end(&stream)
            .await
            .unwrap()
            .into_iter()
            .map(|event| (event.event_type, event.data))
            .collect()
    }

    /// The payment stream's event types.
    pub async fn payment_history(&self, payment: Uuid) -> Vec<String> {
        self.payment_events(payment)
            .await
            .into_iter()
            .map(|(kind, _)| kind)
            .collect()
    }

    /// POSTs `body` with `signature` (no header when `None`).
    pub async fn post(&self, body: &[u8], signature: Option<&str>) -> Answer {
        let mut request = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// POSTs `event` signed now with the provider's current secret.
    pub async fn deliver(&self, event: &Event) -> Answer {
        let body = event.to_json();
        self.post(&body, Some(&sign(NEW_SECRET, unix_now(), &body)))
            .await
    }
}

pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    webhook::sign(secret.as_bytes(), t, body)
}

/// A new event of `kind` about `payment` of `order`.
pub fn event(kind: EventType, payment: Uuid, order: Uuid) -> Event {
    Event {
        id: format!("evt_{}", Uuid::new_v4()),
        kind,
        created: unix_now(),
        data: EventData {
            payment_id: payment,
            order_id: order,
            charge_id: webhook::charge_id(payment),
            amount_minor: AMOUNT,
            currency: "EUR".into(),
            refund_id: (kind == EventType::RefundSucceeded)
                .then(|| webhook::refund_id(Uuid::new_v4())),
            failure_reason: (kind == EventType::ChargeFailed).then(|| "card declined".into()),
        },
    }
}

/// `body` as a stream of 4 KiB chunks: a body of unknown length.
pub fn chunked(
    body: &[u8],
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + use<> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(4096).map(|chunk| Ok(chunk.to_vec())).collect();
    futures::stream::iter(chunks)
}
