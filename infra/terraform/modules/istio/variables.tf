variable "istio_version" {
  description = "Version of the Istio Helm charts (base, istiod, gateway)."
  type        = string
  default     = "1.24.2"
}

variable "chart_repository" {
  description = "Helm repository of the Istio charts."
  type        = string
  default     = "https://istio-release.storage.googleapis.com/charts"
}

variable "gateway_service_type" {
  description = "Service type of the ingress gateway: NodePort on minikube (or LoadBalancer with `minikube tunnel`), LoadBalancer on EKS."
  type        = string
  default     = "LoadBalancer"
}

variable "istiod_memory" {
  description = "Memory request of istiod (small on a laptop)."
  type        = string
  default     = "512Mi"
}
