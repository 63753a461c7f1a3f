#!/usr/bin/env python3
"""The roles test: every role of scripts/roles is deployed.

For every role (`name | binary and args | port | health`) the rendered manifests must hold:
  * a Deployment named after the role whose container runs the role's binary and arguments
    (the listen address 127.0.0.1:PORT becomes 0.0.0.0:PORT in a cluster),
  * readiness and liveness probes that match the health column (grpc:PORT -> a gRPC probe on PORT,
    http:PORT/PATH -> an HTTP GET probe of PATH on PORT; none -> no requirement). An HTTP role may
    have a readiness endpoint of its own (the HTTP gateway's /readyz): its readiness probe must be
    an HTTP GET on PORT, of any path,
  * a Service named after the role, selecting the Deployment's pods, exposing the role's port,
  * in the deployable overlays, an Istio AuthorizationPolicy whose selector picks the role's pods,
  * in prod, imagePullPolicy Always,
  * secrets as files: no container takes the Secret commerce-secrets through env (secretKeyRef) or
    envFrom (secretRef); the Secret is a read-only volume, and every APP_X_FILE variable points at
    the file of key APP_X in that volume (settings' APP_…_FILE convention). A role gets the
    APP_…_FILE variables of SECRET_KEYS (the HTTP gateway: the JWT key only) and its volume
    exposes no other key (`items:` when the role gets less than the whole Secret). The same
    env/envFrom and APP_…_FILE rules hold for every other workload of the renders (the migrations
    Job); where the render holds the Secret (dev), each key read must be in it,
  * calls between roles (CALLS): the caller's container sets the endpoint variable (its own env or
    the ConfigMap it takes with envFrom) to http://<callee's Service>:<port>[/path], the Service
    exposes that port, and, in the deployable overlays, an Istio AuthorizationPolicy of the callee
    allows the caller's ServiceAccount on that port (and path, where the URL has one).

Usage:
  check_roles.py --roles scripts/roles --render base=FILE --render dev=FILE --render prod=FILE
  check_roles.py ... --self-test    also proves the check fails for a role added to scripts/roles
                                    without manifests, and for a Deployment that lost its probes.
Renders named "base" are checked without the Istio policy (the base has none by design).
Exit status 0 when everything holds; 1 with one line per problem otherwise.
"""
from __future__ import annotations

import argparse
import copy
import posixpath
import re
import sys
from dataclasses import dataclass

import yaml

ADD_HINT = ("add infra/k8s/base/roles/{name}.yaml (ServiceAccount, Deployment, Service, HPA, PDB; "
            "copy another role's file), list it in infra/k8s/base/kustomization.yaml, and give it an "
            "AuthorizationPolicy in infra/istio/authorization-policies.yaml")


SECRET = "commerce-secrets"
# The keys of the Secret (as infra/terraform/envs/aws writes it and the dev overlay generates it).
ALL_SECRET_KEYS = frozenset({"APP_DATABASE__URL", "APP_REDIS__URL", "APP_AUTH__JWT_SECRET",
                             "APP_PAYMENTS__WEBHOOK_SECRETS"})
# The keys each role reads, as APP_…_FILE variables, and the only keys its volume may expose;
# roles not listed read DEFAULT_SECRET_KEYS.
DEFAULT_SECRET_KEYS = frozenset({"APP_DATABASE__URL", "APP_REDIS__URL", "APP_AUTH__JWT_SECRET"})
SECRET_KEYS = {
    # Checks bearer tokens, checks the payment webhook's signatures; reads no database.
    "http-gateway": frozenset({"APP_AUTH__JWT_SECRET", "APP_PAYMENTS__WEBHOOK_SECRETS"}),
    # PostgreSQL (its streams and deadlines) and the JWT key (it mints service tokens).
    "checkout": frozenset({"APP_DATABASE__URL", "APP_AUTH__JWT_SECRET"}),
    # Signs its callbacks; no database, no tokens.
    "payment-provider": frozenset({"APP_PAYMENTS__WEBHOOK_SECRETS"}),
}
# Who calls whom, by the caller's endpoint variable: caller role -> {variable: callee role}. A pair
# is checked when both roles are in scripts/roles.
CALLS = {
    "command-cart": {"APP_COMMAND__PRODUCT_ENDPOINT": "command-product"},
    "http-gateway": {"APP_HTTP__QUERY_ENDPOINT": "query",
                     "APP_PAYMENTS__PAYMENT_ENDPOINT": "command-payment"},
    "checkout": {"APP_CHECKOUT__CUSTOMER_ENDPOINT": "command-customer",
                 "APP_CHECKOUT__PRODUCT_ENDPOINT": "command-product",
                 "APP_CHECKOUT__CART_ENDPOINT": "command-cart",
                 "APP_CHECKOUT__ORDER_ENDPOINT": "command-order",
                 "APP_CHECKOUT__PAYMENT_ENDPOINT": "command-payment",
                 "APP_PAYMENTS__PROVIDER_URL": "payment-provider"},
    "payment-provider": {"APP_PAYMENTS__SIMULATOR_WEBHOOK_URL": "http-gateway"},
}
NAMESPACE = "commerce"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Role:
    name: str
    argv: list[str]
    port: int | None
    health: str


def parse_roles(text: str) -> list[Role]:
    roles = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 4:
            raise SystemExit(f"scripts/roles line {number}: expected 4 fields separated by ' | ', got {line!r}")
        name, command, port, health = fields
        roles.append(Role(name, command.split(), int(port) if port.isdigit() else None, health))
    return roles


def cluster_argv(argv: list[str]) -> list[str]:
    return [a.replace("127.0.0.1:", "0.0.0.0:") for a in argv]


def index(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d.get("kind"), d.get("metadata", {}).get("name")): d for d in docs if isinstance(d, dict)}


def probe_matches(probe: dict | None, health: str, any_path: bool = False) -> bool:
    if not probe:
        return False
    kind, _, where = health.partition(":")
    if kind == "grpc":
        return str(probe.get("grpc", {}).get("port")) == where
    if kind == "http":
        port, _, path = where.partition("/")
        get = probe.get("httpGet", {})
        return str(get.get("port")) == port and (any_path or get.get("path") == "/" + path)
    return True


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def is_secret(name: str | None) -> bool:
    """The Secret commerce-secrets, also under the name kustomize's generator gives it (hash suffix)."""
    return bool(name) and (name == SECRET or re.fullmatch(re.escape(SECRET) + r"-[a-z0-9]{10}", name) is not None)


def secret_wiring(pod_spec: dict, secret_data: set[str] | None) -> tuple[list[str], set[str], set[str] | None]:
    """How a pod reads commerce-secrets: (problems, keys read through APP_…_FILE variables, keys its
    volumes expose (None: the whole Secret))."""
    problems = []
    read: set[str] = set()
    volumes = {v.get("name"): v["secret"] for v in pod_spec.get("volumes", [])
               if is_secret(v.get("secret", {}).get("secretName"))}
    exposed: set[str] | None = set()
    for secret in volumes.values():
        items = secret.get("items")
        if items is None:
            exposed = None
        elif exposed is not None:
            exposed |= {i.get("key") for i in items}
    for container in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
        cname = container.get("name")
        for env in container.get("env", []):
            if is_secret(env.get("valueFrom", {}).get("secretKeyRef", {}).get("name")):
                problems.append(f"container {cname} takes {SECRET} as the environment variable "
                                f"{env.get('name')} (secretKeyRef); mount it and set {env.get('name')}_FILE")
        for source in container.get("envFrom", []):
            if is_secret(source.get("secretRef", {}).get("name")):
                problems.append(f"container {cname} takes {SECRET} as environment variables (envFrom "
                                f"secretRef); mount it as a volume and set APP_…_FILE variables")
        mounts = {m.get("mountPath", "").rstrip("/"): m for m in container.get("volumeMounts", [])
                  if m.get("name") in volumes}
        for mount_path, mount in mounts.items():
            if not mount.get("readOnly"):
                problems.append(f"container {cname} mounts {SECRET} at {mount_path} without readOnly: true")
        for env in container.get("env", []):
            name = env.get("name", "")
            if not (name.startswith("APP_") and name.endswith("_FILE")):
                continue
            key = name[: -len("_FILE")]
            path = posixpath.normpath(str(env.get("value", "")))
            where = next(((p, m) for p, m in mounts.items() if path.startswith(p + "/")), None)
            if where is None:
                problems.append(f"container {cname}: {name}={env.get('value')!r} is not in a mounted "
                                f"volume of the Secret {SECRET}")
                continue
            mount_path, mount = where
            relative = path[len(mount_path) + 1:]
            secret = volumes[mount["name"]]
            items = secret.get("items")
            provides = {i.get("path"): i.get("key") for i in items} if items is not None else {relative: relative}
            if provides.get(relative) != key:
                problems.append(f"container {cname}: {name}={env.get('value')!r} is not the file of key {key} "
                                f"in the volume {mount['name']} mounted at {mount_path}")
                continue
            if secret_data is not None and key not in secret_data:
                problems.append(f"container {cname}: {name} reads key {key}, which the Secret {SECRET} "
                                f"of this render lacks")
            read.add(key)
    return problems, read, exposed


def check(roles: list[Role], renders: dict[str, list[dict]]) -> list[str]:
    problems = []
    for render_name, docs in renders.items():
        by = index(docs)
        secrets = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Secret"
                   and is_secret(d.get("metadata", {}).get("name"))]
        secret_data = ({k for s in secrets for k in [*s.get("data", {}), *s.get("stringData", {})]}
                       if secrets else None)
        role_names = {r.name for r in roles}
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in WORKLOAD_KINDS:
                continue
            name = doc.get("metadata", {}).get("name")
            if doc["kind"] == "Deployment" and name in role_names:
                continue  # checked with its role below
            spec = doc.get("spec", {}).get("template", {}).get("spec", {})
            for problem in secret_wiring(spec, secret_data)[0]:
                problems.append(f"{doc['kind']} {name}, {render_name} render: {problem}")
        policies = [d for d in docs if isinstance(d, dict) and d.get("kind") == "AuthorizationPolicy"]
        for role in roles:
            say = lambda what: problems.append(f"role {role.name} (scripts/roles), {render_name} render: {what}")
            deployment = by.get(("Deployment", role.name))
            if deployment is None:
                say(f"no Deployment named {role.name}; " + ADD_HINT.format(name=role.name))
                continue
            pod = deployment["spec"]["template"]
            labels = pod.get("metadata", {}).get("labels", {})
            if not selects(deployment["spec"].get("selector", {}).get("matchLabels", {}), labels):
                say("the Deployment's selector does not match its pod labels")
            containers = pod["spec"].get("containers", [])
            container = containers[0] if containers else {}
            argv = [*container.get("command", []), *container.get("args", [])]
            want = cluster_argv(role.argv)
            run = [argv[0].rsplit("/", 1)[-1], *argv[1:]] if argv else []
            if run != want:
                say(f"the Deployment runs {argv!r}, scripts/roles says {want!r} (binary and args)")
            if role.health != "none":
                for kind in ("readinessProbe", "livenessProbe"):
                    if not probe_matches(container.get(kind), role.health, any_path=kind == "readinessProbe"):
                        say(f"the Deployment has no {kind} matching health {role.health!r}")
            if role.port is not None:
                if not any(p.get("containerPort") == role.port for p in container.get("ports", [])):
                    say(f"the Deployment's container does not declare port {role.port}")
                service = by.get(("Service", role.name))
                if service is None:
                    say(f"no Service named {role.name}; " + ADD_HINT.format(name=role.name))
                else:
                    if not selects(service["spec"].get("selector", {}), labels):
                        say("the Service's selector does not select the Deployment's pods")
                    if not any(p.get("port") == role.port for p in service["spec"].get("ports", [])):
                        say(f"the Service does not expose port {role.port}")
            sa = pod["spec"].get("serviceAccountName")
            if not sa or ("ServiceAccount", sa) not in by:
                say(f"no ServiceAccount {sa or role.name} for the pods (Istio identities are ServiceAccounts)")
            if render_name != "base":
                if not any(selects(p.get("spec", {}).get("selector", {}).get("matchLabels", {}), labels)
                           for p in policies):
                    say("no Istio AuthorizationPolicy selecting the role's pods; add one to "
                        "infra/istio/authorization-policies.yaml (who may call it)")
            if render_name == "prod" and container.get("imagePullPolicy") != "Always":
                say("imagePullPolicy is not Always")
            wiring_problems, read, exposed = secret_wiring(pod["spec"], secret_data)
            for problem in wiring_problems:
                say(problem)
            want_keys = SECRET_KEYS.get(role.name, DEFAULT_SECRET_KEYS)
            if read != want_keys:
                say(f"reads {sorted(read) or 'no key'} of {SECRET} as files (APP_…_FILE variables into "
                    f"its mounted secret volume), expected {sorted(want_keys)}")
            extra = (ALL_SECRET_KEYS if exposed is None else exposed) - want_keys
            if extra:
                say(f"its {SECRET} volume exposes {sorted(extra)} beyond its keys {sorted(want_keys)}; "
                    f"mount only those with items:")
        problems += check_calls(roles, render_name, docs, by, policies)
    return problems


def container_env(container: dict, by: dict[tuple[str, str], dict]) -> dict[str, str]:
    """The plain environment of a container: its ConfigMaps (envFrom) overridden by its env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        if name:
            env |= {k: str(v) for k, v in (by.get(("ConfigMap", name)) or {}).get("data", {}).items()}
    env |= {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    return env


def glob_matches(pattern: str, value: str) -> bool:
    """Istio's path/port matching: exact, `prefix*`, `*suffix` or `*`."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def allows(policy: dict, principal: str, port: int, path: str | None, method: str | None) -> bool:
    """Whether an ALLOW policy lets `principal` call `port` (and `path`/`method`, when given)."""
    spec = policy.get("spec", {})
    if spec.get("action", "ALLOW") != "ALLOW":
        return False
    for rule in spec.get("rules", []) or []:
        sources = [f.get("source", {}) for f in rule.get("from", [])]
        if sources and not any(any(glob_matches(p, principal) for p in s.get("principals", []))
                               for s in sources):
            continue
        operations = [t.get("operation", {}) for t in rule.get("to", [])]
        if not operations:
            return True
        for op in operations:
            if "ports" in op and str(port) not in op["ports"]:
                continue
            if path is not None and "paths" in op and not any(glob_matches(p, path) for p in op["paths"]):
                continue
            if method is not None and "methods" in op and method not in op["methods"]:
                continue
            return True
    return False


# An endpoint variable's value: http://<Service>[.<namespace>…]:<port>[/path]. gRPC endpoints have
# no path and their policies are checked on port only; a URL with a path (the payment webhook) is
# called with POST, and the policy must allow that method and path.
URL = re.compile(r"http://(?P<host>[a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(?P<port>[0-9]+)(?P<path>/[^?#]*)?")


def check_calls(roles: list[Role], render_name: str, docs: list[dict], by: dict, policies: list[dict]) -> list[str]:
    problems = []
    names = {r.name for r in roles}
    for caller, variables in CALLS.items():
        if caller not in names:
            continue
        deployment = by.get(("Deployment", caller))
        if deployment is None:
            continue  # reported with the role
        pod = deployment["spec"]["template"]
        containers = pod["spec"].get("containers", [])
        env = container_env(containers[0], by) if containers else {}
        principal = (f"cluster.local/ns/{NAMESPACE}/sa/"
                     f"{pod['spec'].get('serviceAccountName') or 'default'}")
        for variable, callee in sorted(variables.items()):
            if callee not in names:
                continue
            say = lambda what: problems.append(
                f"role {caller} (scripts/roles) calls {callee}, {render_name} render: {what}")
            value = env.get(variable)
            if value is None:
                say(f"{variable} is not set (its local default does not reach {callee} in a cluster); "
                    f"add it to the commerce-config ConfigMap (infra/k8s/base/kustomization.yaml)")
                continue
            url = URL.fullmatch(value)
            if url is None or url["host"] != callee:
                say(f"{variable}={value!r} is not http://{callee}:<port>[/path] (the Service of {callee})")
                continue
            port, path = int(url["port"]), url["path"] or None
            service = by.get(("Service", callee))
            if service is None or not any(p.get("port") == port for p in service["spec"].get("ports", [])):
                say(f"{variable}={value!r}: the Service {callee} does not expose port {port}")
                continue
            if render_name == "base":
                continue
            callee_labels = (by.get(("Deployment", callee)) or {}).get("spec", {}).get(
                "template", {}).get("metadata", {}).get("labels", {})
            selecting = [p for p in policies
                         if selects(p.get("spec", {}).get("selector", {}).get("matchLabels", {}), callee_labels)]
            if not any(allows(p, principal, port, path, "POST" if path else None) for p in selecting):
                say(f"no Istio AuthorizationPolicy of {callee} allows {principal} on port {port}"
                    + (f", POST {path}" if path else "")
                    + "; add a rule to infra/istio/authorization-policies.yaml")
    return problems


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def self_test(roles: list[Role], renders: dict[str, list[dict]]) -> None:
    """The check must pass as is, fail for an added role, and fail for a lost probe."""
    assert not check(roles, renders), "self-test: the real roles should pass"
    fake = Role("query-fake", ["commerce-query", "fake", "--listen", "127.0.0.1:50099"], 50099, "grpc:50099")
    problems = check([*roles, fake], renders)
    assert problems, "self-test: a role without manifests must fail the check"
    assert all("query-fake" in p for p in problems), problems
    for render_name in renders:
        assert any(f"{render_name} render: no Deployment" in p for p in problems), problems
    broken = copy.deepcopy(renders)
    name = next(iter(broken))
    for doc in broken[name]:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == roles[0].name:
            del doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    problems = check(roles, broken)
    assert any("readinessProbe" in p and roles[0].name in p for p in problems), problems
    http_roles = [r for r in roles if r.health.startswith("http:")]
    if http_roles:
        role = http_roles[0]
        broken = copy.deepcopy(renders)
        for doc in broken[name]:
            if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == role.name:
                container = doc["spec"]["template"]["spec"]["containers"][0]
                container["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": 1}}
                container["livenessProbe"]["httpGet"]["path"] = "/elsewhere"
        problems = check(roles, broken)
        assert any("readinessProbe" in p and role.name in p for p in problems), problems
        assert any("livenessProbe" in p and role.name in p for p in problems), problems
    if "dev" in renders:
        broken = copy.deepcopy(renders)
        broken["dev"] = [d for d in broken["dev"] if not (
            d.get("kind") == "AuthorizationPolicy" and d["metadata"]["name"] == roles[-1].name)]
        problems = check(roles, broken)
        assert any("AuthorizationPolicy" in p and roles[-1].name in p for p in problems), problems
    # Secrets as files: a role taking the Secret through envFrom or env again, an APP_…_FILE
    # variable pointing outside the secret volume, the HTTP gateway's volume exposing the whole
    # Secret, and the migrations Job with a secretKeyRef must each fail.
    def deployment(docs: list[dict], kind: str, wanted: str) -> dict | None:
        return next((d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == wanted), None)

    role = roles[0]
    broken = copy.deepcopy(renders)
    container = deployment(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("envFrom", []).append({"secretRef": {"name": SECRET}})
    problems = check(roles, broken)
    assert any("envFrom" in p and role.name in p for p in problems), problems
    broken = copy.deepcopy(renders)
    container = deployment(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "APP_AUTH__JWT_SECRET",
                             "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "APP_AUTH__JWT_SECRET"}}})
    problems = check(roles, broken)
    assert any("secretKeyRef" in p and role.name in p for p in problems), problems
    broken = copy.deepcopy(renders)
    container = deployment(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]["containers"][0]
    file_vars = [e for e in container["env"] if e["name"].endswith("_FILE")]
    assert file_vars, f"self-test: {role.name} has no APP_…_FILE variable"
    file_vars[0]["value"] = "/etc/commerce/config/" + file_vars[0]["name"][: -len("_FILE")]
    problems = check(roles, broken)
    assert any("not in a mounted volume" in p and role.name in p for p in problems), problems
    assert any("expected" in p and role.name in p for p in problems), problems
    if "http-gateway" in {r.name for r in roles}:
        broken = copy.deepcopy(renders)
        for volume in deployment(broken[name], "Deployment", "http-gateway")["spec"]["template"]["spec"]["volumes"]:
            volume.get("secret", {}).pop("items", None)
        problems = check(roles, broken)
        assert any("exposes" in p and "http-gateway" in p for p in problems), problems
    broken = copy.deepcopy(renders)
    job = deployment(broken[name], "Job", "commerce-migrate")
    if job is not None:
        job["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "APP_DATABASE__URL", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "APP_DATABASE__URL"}}})
        problems = check(roles, broken)
        assert any(p.startswith("Job commerce-migrate") and "secretKeyRef" in p for p in problems), problems
    # Least privilege: a role of the default keys mounting the whole Secret again (it would see the
    # webhook secrets), and each role with keys of its own given one key more, must fail.
    default_role = next((r for r in roles if r.name not in SECRET_KEYS), None)
    if default_role is not None:
        broken = copy.deepcopy(renders)
        for volume in deployment(broken[name], "Deployment", default_role.name)["spec"]["template"]["spec"]["volumes"]:
            volume.get("secret", {}).pop("items", None)
        problems = check(roles, broken)
        assert any("exposes" in p and "APP_PAYMENTS__WEBHOOK_SECRETS" in p and default_role.name in p
                   for p in problems), problems
    for role_name, keys in SECRET_KEYS.items():
        if role_name not in {r.name for r in roles}:
            continue
        extra_key = sorted(ALL_SECRET_KEYS - keys)[0]
        broken = copy.deepcopy(renders)
        for volume in deployment(broken[name], "Deployment", role_name)["spec"]["template"]["spec"]["volumes"]:
            if is_secret(volume.get("secret", {}).get("secretName")):
                volume["secret"]["items"].append({"key": extra_key, "path": extra_key})
        problems = check(roles, broken)
        assert any("exposes" in p and extra_key in p and role_name in p for p in problems), problems
    # Calls: for every caller -> callee pair of CALLS present in scripts/roles, an endpoint variable
    # unset, pointing at another port, and the callee's policies no longer allowing the caller must
    # each fail; for a URL with a path (the webhook), a policy allowing another path must fail.
    pairs = [(caller, variable, callee) for caller, variables in CALLS.items()
             for variable, callee in variables.items()
             if {caller, callee} <= {r.name for r in roles}]
    policy_render = "dev" if "dev" in renders else None
    path_calls = 0
    for caller, variable, callee in pairs:
        def config_of(docs: list[dict]) -> dict:
            container = deployment(docs, "Deployment", caller)["spec"]["template"]["spec"]["containers"][0]
            names = {s.get("configMapRef", {}).get("name") for s in container.get("envFrom", [])}
            maps = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] in names
                    and variable in d.get("data", {})]
            if maps:
                return maps[0]["data"]
            return {e["name"]: e for e in container.get("env", [])}
        mark = f"role {caller} (scripts/roles) calls {callee}, {name} render"
        broken = copy.deepcopy(renders)
        config_of(broken[name]).pop(variable)
        problems = check(roles, broken)
        assert any(p.startswith(mark) and variable in p and "not set" in p for p in problems), (variable, problems)
        broken = copy.deepcopy(renders)
        data = config_of(broken[name])
        if isinstance(data.get(variable), str):
            data[variable] = re.sub(r":[0-9]+", ":1", data[variable], count=1)
            problems = check(roles, broken)
            assert any(p.startswith(mark) and "does not expose port 1" in p for p in problems), (variable, problems)
        if policy_render is None:
            continue
        mark = f"role {caller} (scripts/roles) calls {callee}, {policy_render} render"
        principal = f"cluster.local/ns/{NAMESPACE}/sa/{caller}"
        broken = copy.deepcopy(renders)
        for doc in broken[policy_render]:
            if doc.get("kind") == "AuthorizationPolicy":
                for rule in doc.get("spec", {}).get("rules", []) or []:
                    for source in rule.get("from", []):
                        principals = source.get("source", {}).get("principals")
                        if principals and principal in principals:
                            principals.remove(principal)
                            if not principals:
                                source["source"]["principals"] = ["cluster.local/ns/elsewhere/sa/nobody"]
        problems = check(roles, broken)
        assert any(p.startswith(mark) and "no Istio AuthorizationPolicy" in p for p in problems), (caller, callee, problems)
        value = container_env(deployment(renders[policy_render], "Deployment", caller)["spec"]["template"]["spec"]
                              ["containers"][0], index(renders[policy_render])).get(variable, "")
        url = URL.fullmatch(value)
        if url and url["path"]:
            broken = copy.deepcopy(renders)
            for doc in broken[policy_render]:
                if doc.get("kind") == "AuthorizationPolicy":
                    for rule in doc.get("spec", {}).get("rules", []) or []:
                        for target in rule.get("to", []):
                            paths = target.get("operation", {}).get("paths")
                            if paths and url["path"] in paths:
                                target["operation"]["paths"] = [p + "-elsewhere" for p in paths]
            problems = check(roles, broken)
            assert any(p.startswith(mark) and f"POST {url['path']}" in p for p in problems), (caller, problems)
            path_calls += 1
    print("check_roles self-test: a fake extra role, a lost probe, an HTTP probe on the wrong port or "
          "path, a lost policy, a Secret back in env/envFrom, an APP_…_FILE outside the secret volume, "
          "a role's volume exposing a key beyond its own (the HTTP gateway, the checkout, the payment "
          f"provider, a role mounting the whole Secret) and, for {len(pairs)} calls between roles, an "
          f"endpoint unset or on the wrong port and a policy no longer allowing the caller (or, for "
          f"{path_calls} URL with a path, its path) are all caught")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", required=True)
    parser.add_argument("--render", action="append", required=True, metavar="NAME=FILE")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    with open(args.roles) as f:
        roles = parse_roles(f.read())
    if not roles:
        print("check_roles: scripts/roles lists no roles; nothing to check")
        return 0
    renders = {}
    for item in args.render:
        name, _, path = item.partition("=")
        renders[name] = load(path)
    problems = check(roles, renders)
    for problem in problems:
        print(f"check_roles: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_roles: {len(roles)} roles x {len(renders)} renders "
          f"({', '.join(renders)}): Deployment, Service, probes, ServiceAccount and Istio policy present; "
          f"{SECRET} read as files only, each role its own keys; calls between roles wired (endpoint "
          f"variable, Service port, Istio policy allowing the caller)")
    if args.self_test:
        self_test(roles, renders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
