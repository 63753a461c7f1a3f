//! Explicit topic creation, so callers choose the queue count (auto-creation on first send
//! gives 4 queues, and a typo would silently make a new topic).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rocketmq_client_rust::{DefaultMQAdminExt, RouteAdmin, TopicAdmin};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_model::common::mix_all::MASTER_ID;
use tokio::time::Instant;
use tracing::instrument;

use crate::client::BrokerClient;
use crate::error::GatewayError;

/// How often the route is polled while waiting for it to reach the name server.
const ROUTE_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Makes admin group names unique within the process: the client refuses to start a second
/// admin with a group name already registered in its client instance.
static ADMIN_SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl BrokerClient {
    /// Creates `topic` with `queue_count` read and write queues on every master broker of the
    /// configured cluster, then waits until the name server's route shows those queues, so a
    /// producer or consumer started afterwards sees them all.
    ///
    /// Idempotent: on an existing topic it sets the queue count (shrinking a topic strands the
    /// messages of the removed queues: don't).
    #[instrument(skip_all, fields(topic = topic, queue_count = queue_count, cluster = %self.config.cluster))]
    pub async fn create_topic(&self, topic: &str, queue_count: u32) -> Result<(), GatewayError> {
        let group = format!(
            "rocketmq-admin-{}",
            ADMIN_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin =
            DefaultMQAdminExt::with_admin_ext_group(self.client_runtime(), group.as_str());
        admin.set_namesrv_addr(self.config.name_server.as_str());
        admin
            .start()
            .await
            .map_err(GatewayError::client("start admin"))?;
        let result = self.create_with(&admin, topic, queue_count).await;
        admin.shutdown().await;
        result
    }

    async fn create_with(
        &self,
        admin: &DefaultMQAdminExt,
        topic: &str,
        queue_count: u32,
    ) -> Result<(), GatewayError> {
        let cluster = admin
            .examine_broker_cluster_info()
            .await
            .map_err(GatewayError::client("read cluster info"))?;
        let broker_names: HashSet<String> = cluster
            .cluster_addr_table
            .as_ref()
            .and_then(|table| table.get(self.config.cluster.as_str()))
            .map(|names| names.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let masters: HashMap<String, String> = cluster
            .broker_addr_table
            .iter()
            .flatten()
            .filter(|(name, _)| broker_names.contains(name.as_str()))
            .filter_map(|(name, data)| {
                let address = data.broker_addrs().get(&MASTER_ID)?;
                Some((name.to_string(), address.to_string()))
            })
            .collect();
        if masters.is_empty() {
            return Err(GatewayError::NoBroker {
                cluster: self.config.cluster.clone(),
            });
        }

        for (name, address) in &masters {
            tracing::debug!(broker = %name, %address, "creating topic on broker");
            let config = TopicConfig::with_queues(topic, queue_count, queue_count);
            admin
                .create_and_update_topic_config(address.as_str().into(), config)
                .await
                .map_err(GatewayError::client("create topic"))?;
        }

        self.wait_for_route(admin, topic, queue_count, &masters)
            .await
    }

    /// Brokers register a new topic with the name server asynchronously: poll the route until
    /// every master shows the requested queue count.
    async fn wait_for_route(
        &self,
        admin: &DefaultMQAdminExt,
        topic: &str,
        queue_count: u32,
        masters: &HashMap<String, String>,
    ) -> Result<(), GatewayError> {
        let started = Instant::now();
        let deadline = started + self.config.route_timeout;
        loop {
            match admin.examine_topic_route_info(topic.into()).await {
                Ok(Some(route)) => {
                    let ready = masters.keys().all(|broker| {
                        route.queue_datas.iter().any(|queues| {
                            queues.broker_name().as_str() == broker
                                && queues.write_queue_nums() == queue_count
                                && queues.read_queue_nums() == queue_count
                        })
                    });
                    if ready {
                        tracing::debug!(waited = ?started.elapsed(), "topic route visible");
                        return Ok(());
                    }
                }
                Ok(None) => {}
                // A topic the name server does not know yet is an error answer: keep waiting.
                Err(error) => tracing::trace!(%error, "topic route not readable yet"),
            }
            if Instant::now() + ROUTE_POLL_INTERVAL > deadline {
                return Err(GatewayError::TopicRouteTimeout {
                    topic: topic.to_owned(),
                    queue_count,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(ROUTE_POLL_INTERVAL).await;
        }
    }
}
