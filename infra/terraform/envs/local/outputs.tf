output "ingress_gateway_principal" {
  description = "Identity of the ingress gateway in the AuthorizationPolicies."
  value       = module.istio.ingress_gateway_principal
}

output "applied_resources" {
  description = "Kubernetes resources applied from the dev overlay."
  value       = module.commerce.resource_ids
}
