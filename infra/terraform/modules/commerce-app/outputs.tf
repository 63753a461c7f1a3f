output "resource_ids" {
  description = "Ids of the Kubernetes resources applied."
  value       = concat(keys(kustomization_resource.p0), keys(kustomization_resource.p1), keys(kustomization_resource.p2))
}
