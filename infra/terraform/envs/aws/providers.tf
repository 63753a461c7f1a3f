provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "commerce" }
  }
}

# The cluster's providers authenticate with short-lived tokens from the AWS CLI.
provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
  }
}

provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}

# kbst/kustomization takes a kubeconfig: a generated one for the new cluster.
provider "kustomization" {
  kubeconfig_raw = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = "eks"
    clusters = [{
      name    = "eks"
      cluster = { server = module.eks.cluster_endpoint, certificate-authority-data = module.eks.cluster_certificate_authority_data }
    }]
    contexts = [{ name = "eks", context = { cluster = "eks", user = "eks" } }]
    users = [{
      name = "eks"
      user = { exec = {
        apiVersion = "client.authentication.k8s.io/v1beta1"
        command    = "aws"
        args       = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
      } }
    }]
  })
}
