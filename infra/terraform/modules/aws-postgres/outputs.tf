output "endpoint" {
  description = "host:port of the database."
  value       = aws_db_instance.this.endpoint
}

output "database" {
  description = "Name of the database the services use."
  value       = aws_db_instance.this.db_name
}

output "url" {
  description = "Connection URL of the master user (the owner role: owns the tables, creates the logins), with the master password and sslmode=require; for the Secret commerce-db-owner of the migrations Job only."
  value       = "postgres://${aws_db_instance.this.username}:${random_password.master.result}@${aws_db_instance.this.endpoint}/${aws_db_instance.this.db_name}?sslmode=require"
  sensitive   = true
}
