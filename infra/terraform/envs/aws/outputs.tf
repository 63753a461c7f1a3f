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

output "redis_endpoint" {
  description = "ElastiCache primary endpoint."
  value       = module.redis.endpoint
}

output "vpc_id" {
  description = "VPC id."
  value       = module.vpc.vpc_id
}
