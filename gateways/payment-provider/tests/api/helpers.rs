//! A test webhook receiver, the simulator in front of it, and requests to the simulator.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use event_store::testing::wait_until;
use payment_provider::{ProviderConfig, books::Delivery, routes::Deliveries, testing::Provider};
use serde_json::Value;
use settings::DEVELOPMENT_WEBHOOK_SECRET;
use tokio::time::Instant;
use uuid::Uuid;
use webhook::{Event, SIGNATURE_HEADER, SignatureError};

/// How long a test waits for a callback.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// One callback the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `Commerce-Signature` header.
    pub signature: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub answered: u16,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// The body as an event.
    pub fn event(&self) -> Event {
        Event::from_json(&self.body).expect("the callback is a valid event")
    }

    /// Checks the signature as our webhook does, with the development secret.
    pub fn verify(&self) -> Result<(), SignatureError> {
        webhook::verify(
            &self.signature,
            &self.body,
            &[DEVELOPMENT_WEBHOOK_SECRET],
            unix_now(),
            Duration::from_secs(300),
        )
    }
}

/// Now, Unix seconds.
pub fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<u16>>,
}

/// A webhook on a free port of 127.0.0.1 recording every callback; answers `200`, or first the
/// statuses it was given.
pub struct Receiver {
    /// Its URL.
    pub url: String,
    inbox: Arc<Inbox>,
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answered = inbox.answers.lock().unwrap().pop_front().unwrap_or(200);
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    inbox.received.lock().unwrap().push(Received {
        signature,
        body: body.to_vec(),
        answered,
        at: Instant::now(),
    });
    StatusCode::from_u16(answered).unwrap()
}

impl Receiver {
    /// A receiver answering `first` in turn, then `200`.
    pub async fn answering(first: &[u16]) -> Self {
        let inbox = Arc::new(Inbox::default());
        inbox.answers.lock().unwrap().extend(first);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inbox }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// Waits until `count` callbacks arrived; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        wait_until(
            Instant::now() + PATIENCE,
            &format!("{count} callbacks"),
            || async { self.received().len() >= count },
        )
        .await;
        self.received()
    }
}

/// The simulator in front of a receiver, and a client.
pub struct TestProvider {
    pub provider: Provider,
    pub receiver: Receiver,
    pub client: reqwest::Client,
}

/// An answer of the simulator: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts an error of `status` and `code`; returns its message.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
        self.body["error"]["message"].as_str().unwrap().to_owned()
    }
}

impl TestProvider {
    /// The simulator (unscripted charges answered at once) in front of a receiver answering 200.
    pub async fn start() -> Self {
        Self::start_with(Receiver::answering(&[]).await, |_| {}).await
    }

    /// The simulator configured by `adjust`, in front of `receiver`.
    pub async fn start_with(receiver: Receiver, adjust: impl FnOnce(&mut ProviderConfig)) -> Self {
        let provider = Provider::start(&receiver.url, adjust).await;
        Self {
            provider,
            receiver,
            client: reqwest::Client::new(),
        }
    }

    /// Sends `body` (raw) to `path` with `method` and `headers`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.provider.url()))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// `POST /v1/charges` with `key`.
    pub async fn charge(&self, key: Uuid, body: &Value) -> Answer {
        let key = key.to_string();
        self.send(
            reqwest::Method::POST,
            "/v1/charges",
            &[("idempotency-key", &key)],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// `POST /v1/refunds` with `key`.
    pub async fn refund(&self, key: Uuid, body: &Value) -> Answer {
        let key = key.to_string();
        self.send(
            reqwest::Method::POST,
            "/v1/refunds",
            &[("idempotency-key", &key)],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// `PUT /v1/scripts/{order}`, asserting 200.
    pub async fn script(&self, order: Uuid, script: &Value) {
        let answer = self
            .send(
                reqwest::Method::PUT,
                &format!("/v1/scripts/{order}"),
                &[],
                script.to_string().into_bytes(),
            )
            .await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
    }

    /// `GET /v1/deliveries?order_id={order}`.
    pub async fn deliveries(&self, order: Uuid) -> Vec<Delivery> {
        let answer = self
            .send(
                reqwest::Method::GET,
                &format!("/v1/deliveries?order_id={order}"),
                &[],
                Vec::new(),
            )
            .await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        serde_json::from_value::<Deliveries>(answer.body)
            .unwrap()
            .deliveries
    }
}

/// A charge body for a new payment of a new order: (payment, order, body).
pub fn new_charge(amount_minor: i64) -> (Uuid, Uuid, Value) {
    let (payment, order) = (Uuid::new_v4(), Uuid::new_v4());
    let body = serde_json::json!({
        "payment_id": payment,
        "order_id": order,
        "amount_minor": amount_minor,
        "currency": "EUR",
    });
    (payment, order, body)
}
