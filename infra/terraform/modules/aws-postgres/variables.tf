variable "name" {
  description = "Name prefix of the resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the database."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect (the EKS nodes')."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version (15 or later)."
  type        = string
  default     = "16.4"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB (autoscaling up to five times this)."
  type        = number
  default     = 50
}

variable "database" {
  description = "Name of the database the services use."
  type        = string
  default     = "commerce"
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
