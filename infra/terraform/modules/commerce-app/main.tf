# Applies one kustomize overlay of infra/k8s (which includes infra/istio) with the kbst/kustomization
# provider, in its priority order: namespaces and CRDs first, then most resources, then webhooks and
# the like. The migrations Job needs no ordering: it retries until PostgreSQL answers.

data "kustomization_build" "overlay" {
  path = var.overlay_path
}

resource "kustomization_resource" "p0" {
  for_each = data.kustomization_build.overlay.ids_prio[0]
  manifest = data.kustomization_build.overlay.manifests[each.value]
}

resource "kustomization_resource" "p1" {
  for_each   = data.kustomization_build.overlay.ids_prio[1]
  manifest   = data.kustomization_build.overlay.manifests[each.value]
  depends_on = [kustomization_resource.p0]
}

resource "kustomization_resource" "p2" {
  for_each   = data.kustomization_build.overlay.ids_prio[2]
  manifest   = data.kustomization_build.overlay.manifests[each.value]
  depends_on = [kustomization_resource.p1]
}
