//! Projection workers: consume events fanned out through RocketMQ and maintain the Redis and
//! PostgreSQL read models, effectively once. Filled in by the projections issue.
#![forbid(unsafe_code)]
