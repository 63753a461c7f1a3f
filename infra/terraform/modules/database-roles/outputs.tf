output "secret_names" {
  description = "Database role -> name of its Secret (keys url and password)."
  value       = { for role, secret in kubernetes_secret_v1.login : role => secret.metadata[0].name }
}

output "login_names" {
  description = "Database role -> its login role in PostgreSQL (member of commerce_<role>)."
  value       = { for role in local.roles : role => "commerce_${role}_login" }
}

output "owner_secret_name" {
  description = "Name of the Secret holding the owner's URL (key url), mounted by the migrations Job only."
  value       = kubernetes_secret_v1.owner.metadata[0].name
}
