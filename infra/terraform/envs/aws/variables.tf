variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "zone_suffixes" {
  description = "Availability zones to use, as suffixes of the region (a, b, c -> eu-west-1a, ...)."
  type        = list(string)
  default     = ["a", "b", "c"]
}

variable "name" {
  description = "Name of the cluster and prefix of every resource."
  type        = string
  default     = "commerce"
}

variable "tags" {
  description = "Extra tags of every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "cluster_endpoint_public_access" {
  description = "Whether the EKS API is reachable from the internet (restricted to the CIDRs below)."
  type        = bool
  default     = true
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API (your office or CI egress)."
  type        = list(string)
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_min_size" {
  description = "Fewest nodes."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Most nodes."
  type        = number
  default     = 9
}

variable "node_desired_size" {
  description = "Nodes at creation."
  type        = number
  default     = 3
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "istio_version" {
  description = "Istio chart version."
  type        = string
  default     = "1.24.2"
}

variable "payment_webhook_secrets" {
  description = "The payment provider's webhook signing secrets, comma-separated (each at least 32 bytes; rotate by adding the new one first, switching the provider, then removing the old). Empty: a generated secret, for the provider simulator."
  type        = string
  default     = ""
  sensitive   = true
}
