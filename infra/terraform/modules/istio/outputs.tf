output "namespace" {
  description = "Namespace of the control plane and the ingress gateway."
  value       = helm_release.istiod.namespace
}

output "ingress_gateway_principal" {
  description = "SPIFFE principal of the ingress gateway, as the AuthorizationPolicies name it."
  value       = "cluster.local/ns/istio-system/sa/${helm_release.ingress_gateway.name}"
}
