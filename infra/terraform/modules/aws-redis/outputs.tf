output "endpoint" {
  description = "Primary endpoint of the replication group."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "url" {
  description = "Connection URL (TLS, with the AUTH token) for the commerce-secrets Secret."
  value       = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
  sensitive   = true
}
