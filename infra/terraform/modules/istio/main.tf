# Istio from its official Helm charts: CRDs and cluster roles (base), the control plane (istiod)
# and the ingress gateway (release and ServiceAccount "istio-ingressgateway", the principal
# infra/istio/authorization-policies.yaml allows).

resource "helm_release" "base" {
  name             = "istio-base"
  repository       = var.chart_repository
  chart            = "base"
  version          = var.istio_version
  namespace        = "istio-system"
  create_namespace = true
}

resource "helm_release" "istiod" {
  name       = "istiod"
  repository = var.chart_repository
  chart      = "istiod"
  version    = var.istio_version
  namespace  = "istio-system"
  depends_on = [helm_release.base]

  set {
    name  = "meshConfig.accessLogFile"
    value = "/dev/stdout"
  }
  set {
    name  = "pilot.resources.requests.memory"
    value = var.istiod_memory
  }
}

resource "helm_release" "ingress_gateway" {
  name       = "istio-ingressgateway"
  repository = var.chart_repository
  chart      = "gateway"
  version    = var.istio_version
  namespace  = "istio-system"
  depends_on = [helm_release.istiod]

  set {
    name  = "labels.istio"
    value = "ingressgateway"
  }
  set {
    name  = "service.type"
    value = var.gateway_service_type
  }
}
