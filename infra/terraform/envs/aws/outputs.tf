output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = module.eks.cluster_endpoint
}

output "ecr_repository_url" {
  description = "Where to push the image (then set it in the prod overlay)."
  value       = aws_ecr_repository.commerce.repository_url
}

output "postgres_endpoint" {
  description = "RDS endpoint (host:port)."
  value       = module.postgres.endpoint
}

output "database_secrets" {
  description = "Database role -> its Secret (keys url, password) in the namespace commerce; the role's Deployment mounts url, the migrations Job password."
  value       = module.database_roles.secret_names
}

output "database_logins" {
  description = "Database role -> its PostgreSQL login (LOGIN, member of the NOLOGIN group commerce_<role>)."
  value       = module.database_roles.login_names
}

output "database_owner_secret" {
  description = "The Secret (key url) of the owner role, for the migrations Job only."
  value       = module.database_roles.owner_secret_name
}

output "redis_endpoint" {
  description = "ElastiCache primary endpoint."
  value       = module.redis.endpoint
}

output "vpc_id" {
  description = "VPC id."
  value       = module.vpc.vpc_id
}
