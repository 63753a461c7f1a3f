# Local deploy on minikube: Istio (Helm) and the dev overlay (in-cluster PostgreSQL, Redis,
# RocketMQ and every role). See infra/README.md for the steps (image build and load first).
#
# State: local (terraform.tfstate in this folder, git-ignored by infra/terraform/.gitignore). It is a
# laptop cluster; nothing to share.

terraform {
  required_version = ">= 1.6"
  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "~> 0.9"
    }
  }
}

provider "helm" {
  kubernetes {
    config_path    = var.kubeconfig_path
    config_context = var.kube_context
  }
}

provider "kustomization" {
  kubeconfig_path = var.kubeconfig_path
  context         = var.kube_context
}

module "istio" {
  source               = "../../modules/istio"
  istio_version        = var.istio_version
  gateway_service_type = "NodePort"
  istiod_memory        = "256Mi"
}

module "commerce" {
  source       = "../../modules/commerce-app"
  overlay_path = "${path.module}/../../../k8s/overlays/dev"
  depends_on   = [module.istio]
}
