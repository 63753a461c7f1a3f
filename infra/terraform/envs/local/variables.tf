variable "kubeconfig_path" {
  description = "Kubeconfig holding the minikube context."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Context of the local cluster."
  type        = string
  default     = "minikube"
}

variable "istio_version" {
  description = "Istio chart version."
  type        = string
  default     = "1.24.2"
}
