variable "namespace" {
  description = "Namespace of the Secrets (the overlay's)."
  type        = string
  default     = "commerce"
}

variable "endpoint" {
  description = "host:port of the PostgreSQL server the logins connect to."
  type        = string
}

variable "database" {
  description = "Name of the database."
  type        = string
}

variable "owner_url" {
  description = "URL of the owner role (owns the tables, may create roles: RDS's master user), with sslmode=require; only the migrations Job gets it."
  type        = string
  sensitive   = true
}
