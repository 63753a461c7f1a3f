variable "overlay_path" {
  description = "Path of the kustomize overlay to apply (infra/k8s/overlays/dev or prod)."
  type        = string
}
