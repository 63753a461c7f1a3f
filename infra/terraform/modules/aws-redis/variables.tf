variable "name" {
  description = "Name prefix of the resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect (the EKS nodes')."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the data at rest."
  type        = string
}

variable "engine_version" {
  description = "Redis version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
