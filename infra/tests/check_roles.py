#!/usr/bin/env python3
"""The roles test: every role of scripts/roles is deployed.

For every role (`name | binary and args | port | health [| db-role]`) the rendered manifests must hold:
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
  * database roles (database_roles.py): the same rules for the Secrets commerce-db-<role> and
    commerce-db-owner (secret or projected volumes). A role connecting as database role <x> (the
    fifth field of scripts/roles, else PROCESS_DATABASE_ROLE) reads APP_DATABASE__URL_FILE from
    key url of commerce-db-<x> and its volumes expose nothing else of the database Secrets; a role
    without a database mounts none; the migrations Job reads the owner's url and every login's
    password (APP_DATABASE__LOGINS__<X>_FILE) and nothing of commerce-secrets; other workloads
    mount none. Every database role but the operators' has exactly one process. Where the render
    holds the database Secrets (dev): each role's url logs in as commerce_<x>_login with its
    password on the owner's server, the owner's url as the in-cluster PostgreSQL's superuser; the
    prod render holds no application Secret,
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
import base64
import copy
import posixpath
import re
import sys
from dataclasses import dataclass

import yaml

import database_roles as db

ADD_HINT = ("add infra/k8s/base/roles/{name}.yaml (ServiceAccount, Deployment, Service, HPA, PDB; "
            "copy another role's file), list it in infra/k8s/base/kustomization.yaml, and give it an "
            "AuthorizationPolicy in infra/istio/authorization-policies.yaml")


SECRET = "commerce-secrets"
# The keys of the Secret (as infra/terraform/envs/aws writes it and the dev overlay generates it).
# No database access: every database role has a Secret of its own (database_roles.py).
ALL_SECRET_KEYS = frozenset({"APP_REDIS__URL", "APP_AUTH__JWT_SECRET", "APP_PAYMENTS__WEBHOOK_SECRETS"})
# The keys each role reads, as APP_…_FILE variables, and the only keys its volume may expose;
# roles not listed read DEFAULT_SECRET_KEYS.
DEFAULT_SECRET_KEYS = frozenset({"APP_REDIS__URL", "APP_AUTH__JWT_SECRET"})
SECRET_KEYS = {
    # Checks bearer tokens, checks the payment webhook's signatures; reads no database.
    "http-gateway": frozenset({"APP_AUTH__JWT_SECRET", "APP_PAYMENTS__WEBHOOK_SECRETS"}),
    # The JWT key (it mints service tokens); PostgreSQL through its own database Secret.
    "checkout": frozenset({"APP_AUTH__JWT_SECRET"}),
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
# The migrations Job: the owner's URL and every login's password (database_roles.py).
MIGRATE_JOB = "commerce-migrate"
# The Secrets of the application, also under the names kustomize's generator gives them (hash
# suffix): commerce-secrets and the database Secrets commerce-db-<role> / commerce-db-owner.
SECRET_NAME = re.compile(r"(commerce-secrets|" + re.escape(db.SECRET_PREFIX) + r"[a-z]+)(?:-[a-z0-9]{10})?")


@dataclass
class Role:
    name: str
    argv: list[str]
    port: int | None
    health: str
    # The database role it connects as (None: no database), and where that was read: the fifth
    # field of scripts/roles (db-role), else PROCESS_DATABASE_ROLE of database_roles.py.
    db_role: str | None = None
    db_role_from: str = "database_roles.py"


def parse_roles(text: str) -> list[Role]:
    """`name | binary and args | port | health [| db-role]` lines; the fifth field is optional (a
    role without it connects as PROCESS_DATABASE_ROLE of database_roles.py says, or to no
    database)."""
    roles = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) not in (4, 5):
            raise SystemExit(f"scripts/roles line {number}: expected 4 or 5 fields separated by ' | ', got {line!r}")
        name, command, port, health = fields[:4]
        role = Role(name, command.split(), int(port) if port.isdigit() else None, health,
                    db.PROCESS_DATABASE_ROLE.get(name))
        if len(fields) == 5:
            role.db_role, role.db_role_from = db.parse_db_role(fields[4]), "scripts/roles"
        roles.append(role)
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


def base_secret(name: str | None) -> str | None:
    """The application Secret a name refers to (commerce-secrets, commerce-db-<role>,
    commerce-db-owner), without the hash suffix of kustomize's generator; None for others."""
    match = SECRET_NAME.fullmatch(name or "")
    return match[1] if match else None


def is_secret(name: str | None) -> bool:
    """The Secret commerce-secrets, also under the name kustomize's generator gives it (hash suffix)."""
    return base_secret(name) == SECRET


def keys_of(secret: str) -> frozenset[str]:
    """The keys an application Secret has."""
    if secret == SECRET:
        return ALL_SECRET_KEYS
    return db.OWNER_KEYS if secret == db.OWNER_SECRET else db.LOGIN_KEYS


def secret_wiring(pod_spec: dict) -> tuple[list[str], dict[str, tuple[str, str]], set[tuple[str, str]]]:
    """How a pod reads the application Secrets: (problems, APP_…_FILE variable -> (Secret, key) of
    the file it names, (Secret, key) of every file its volumes expose). Secret volumes and projected
    volumes' secret sources count; names are without kustomize's hash suffix."""
    problems = []
    reads: dict[str, tuple[str, str]] = {}
    exposed: set[tuple[str, str]] = set()
    # volume name -> [(Secret, {path: key} or None for the whole Secret)]
    volumes: dict[str, list[tuple[str, dict[str, str] | None]]] = {}
    for volume in pod_spec.get("volumes", []):
        sources = []
        if "secret" in volume:
            sources.append((volume["secret"].get("secretName"), volume["secret"].get("items")))
        for source in volume.get("projected", {}).get("sources", []) or []:
            if "secret" in source:
                sources.append((source["secret"].get("name"), source["secret"].get("items")))
        ours = [(base_secret(n), items) for n, items in sources if base_secret(n)]
        if not ours:
            continue
        volumes[volume.get("name")] = []
        for secret, items in ours:
            paths = {i.get("path"): i.get("key") for i in items} if items is not None else None
            volumes[volume.get("name")].append((secret, paths))
            exposed |= {(secret, key) for key in (keys_of(secret) if paths is None else paths.values())}
    for container in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
        cname = container.get("name")
        for env in container.get("env", []):
            secret = base_secret(env.get("valueFrom", {}).get("secretKeyRef", {}).get("name"))
            if secret:
                problems.append(f"container {cname} takes {secret} as the environment variable "
                                f"{env.get('name')} (secretKeyRef); mount it and set {env.get('name')}_FILE")
        for source in container.get("envFrom", []):
            secret = base_secret(source.get("secretRef", {}).get("name"))
            if secret:
                problems.append(f"container {cname} takes {secret} as environment variables (envFrom "
                                f"secretRef); mount it as a volume and set APP_…_FILE variables")
        mounts = {m.get("mountPath", "").rstrip("/"): m for m in container.get("volumeMounts", [])
                  if m.get("name") in volumes}
        for mount_path, mount in mounts.items():
            if not mount.get("readOnly"):
                problems.append(f"container {cname} mounts the volume {mount.get('name')} of Secrets at "
                                f"{mount_path} without readOnly: true")
        for env in container.get("env", []):
            name = env.get("name", "")
            if not (name.startswith("APP_") and name.endswith("_FILE")):
                continue
            path = posixpath.normpath(str(env.get("value", "")))
            where = next(((p, m) for p, m in mounts.items() if path.startswith(p + "/")), None)
            if where is None:
                problems.append(f"container {cname}: {name}={env.get('value')!r} is not in a mounted "
                                f"volume of a Secret ({SECRET}, {db.SECRET_PREFIX}…)")
                continue
            mount_path, mount = where
            relative = path[len(mount_path) + 1:]
            found = None
            for secret, paths in volumes[mount["name"]]:
                if paths is None and "/" not in relative:
                    found = (secret, relative)
                elif paths is not None and relative in paths:
                    found = (secret, paths[relative])
                if found:
                    break
            if found is None:
                problems.append(f"container {cname}: {name}={env.get('value')!r} is no file of the volume "
                                f"{mount['name']} mounted at {mount_path}")
                continue
            reads[name] = found
    return problems, reads, exposed


def expected_reads(workload: str, role: Role | None) -> dict[str, tuple[str, str]]:
    """What a workload must read as files: APP_…_FILE variable -> (Secret, key). A role: its keys of
    commerce-secrets (SECRET_KEYS) and, when it connects to PostgreSQL, the `url` of its own database
    Secret; the migrations Job: the owner's `url` and every login's `password`; anything else: none."""
    if role is not None:
        want = {f"{key}_FILE": (SECRET, key) for key in SECRET_KEYS.get(role.name, DEFAULT_SECRET_KEYS)}
        if role.db_role is not None:
            want["APP_DATABASE__URL_FILE"] = (db.secret_name(role.db_role), "url")
        return want
    if workload == f"Job {MIGRATE_JOB}":
        want = {"APP_DATABASE__URL_FILE": (db.OWNER_SECRET, "url")}
        want |= {f"{db.logins_variable(r)}_FILE": (db.secret_name(r), "password") for r in db.DATABASE_ROLES}
        return want
    return {}


def secret_problems(workload: str, role: Role | None, pod_spec: dict,
                    render_secrets: dict[str, set[str]] | None) -> list[str]:
    """A workload's reading of the application Secrets against expected_reads: each variable names
    the right key of the right Secret, its volumes expose nothing more (no other role's database
    Secret, no password to a role), and, where the render holds the Secrets (dev), each key read
    exists."""
    problems, reads, exposed = secret_wiring(pod_spec)
    want = expected_reads(workload, role)
    # commerce-secrets: a variable APP_X_FILE names the file of key APP_X.
    for variable, (secret, key) in sorted(reads.items()):
        if secret == SECRET and variable != f"{key}_FILE":
            problems.append(f"{variable} is the file of key {key} of {SECRET}, not of key {variable[:-len('_FILE')]}")
    read_keys = {key for variable, (secret, key) in reads.items() if secret == SECRET and variable == f"{key}_FILE"}
    want_keys = {key for secret, key in want.values() if secret == SECRET}
    if role is not None and read_keys != want_keys:
        problems.append(f"reads {sorted(read_keys) or 'no key'} of {SECRET} as files (APP_…_FILE variables into "
                        f"its mounted secret volume), expected {sorted(want_keys)}")
    elif role is None and read_keys - want_keys:
        problems.append(f"reads {sorted(read_keys - want_keys)} of {SECRET}, which it has no use for")
    # The database Secrets: exactly the expected variables, each the expected key of the expected Secret.
    for variable, (secret, key) in sorted(want.items()):
        if secret == SECRET:
            continue
        got = reads.get(variable)
        if got is None:
            problems.append(f"does not read {variable} (key {key} of the Secret {secret}, as a file of a "
                            f"read-only volume)")
        elif got != (secret, key):
            problems.append(f"{variable} is key {got[1]} of the Secret {got[0]}, expected key {key} of {secret}")
    for variable, (secret, key) in sorted(reads.items()):
        if secret != SECRET and variable not in want:
            problems.append(f"{variable} reads key {key} of the database Secret {secret}, which it has no use for")
    # Exposure: nothing beyond what it reads.
    allowed = set(want.values())
    extra = exposed - allowed
    extra_keys = sorted(key for secret, key in extra if secret == SECRET)
    if extra_keys:
        problems.append(f"its {SECRET} volume exposes {extra_keys} beyond its keys {sorted(want_keys)}; "
                        f"mount only those with items:")
    wanted_secrets = {secret for secret, _ in allowed}
    for secret in sorted({secret for secret, _ in extra if secret != SECRET}):
        keys = sorted(key for s, key in extra if s == secret)
        if secret not in wanted_secrets:
            whose = (" (another database role's)" if role is not None and role.db_role is not None
                     else "")
            problems.append(f"mounts the database Secret {secret}{whose} ({', '.join(keys)}), which it has "
                            f"no use for; a process mounts only its own role's Secret")
        else:
            problems.append(f"its volume of the Secret {secret} exposes {keys} beyond "
                            f"{sorted(k for s, k in allowed if s == secret)}; mount only those with items:")
    if render_secrets is not None:
        for variable, (secret, key) in sorted(reads.items()):
            if key not in render_secrets.get(secret, set()):
                problems.append(f"{variable} reads key {key} of the Secret {secret}, which this render "
                                f"lacks" + ("" if secret in render_secrets else f" (no Secret {secret})"))
    return problems


POSTGRES_URL = re.compile(r"postgres(?:ql)?://(?P<user>[^:@/]+):(?P<password>[^@/]*)@(?P<host>[^:/?]+):(?P<port>[0-9]+)"
                 r"/(?P<database>[^?]+)(?P<query>\?.*)?")


def secret_values(doc: dict) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    return values | {k: str(v) for k, v in (doc.get("stringData") or {}).items()}


def check_database_roles(roles: list[Role]) -> list[str]:
    """scripts/roles against DATABASE_ROLES: every role's database role is known, every role of the
    list but the operators' has exactly one process, the operators' none."""
    problems = []
    users: dict[str, list[str]] = {r: [] for r in db.DATABASE_ROLES}
    for role in roles:
        if role.db_role is None:
            continue
        if role.db_role not in users:
            problems.append(f"role {role.name} ({role.db_role_from}): database role {role.db_role!r} is not one "
                            f"of DATABASE_ROLES of infra/tests/database_roles.py {list(db.DATABASE_ROLES)}")
        else:
            users[role.db_role].append(role.name)
    for database_role, names in users.items():
        if database_role in db.OPERATOR_ROLES:
            if names:
                problems.append(f"database role {database_role} is for operators only (OPERATOR_ROLES of "
                                f"infra/tests/database_roles.py), but {names} connect as it")
        elif len(names) != 1:
            problems.append(f"database role {database_role} (DATABASE_ROLES of infra/tests/database_roles.py) "
                            f"has {len(names)} processes {names} in scripts/roles, expected exactly one")
    return problems


def check_database_secrets(render_name: str, docs: list[dict], by: dict) -> list[str]:
    """Where a render holds the database Secrets (dev): one per database role, keys url and password,
    the url logging in as the role's login with that password, every url on the owner's server and
    database; the owner's url logging in as the in-cluster PostgreSQL's superuser (local-data). A
    render without them (prod: Terraform creates them) must hold none of the application Secrets."""
    problems = []
    say = lambda what: problems.append(f"{render_name} render: {what}")
    ours = {base_secret(d["metadata"].get("name")): d for d in docs
            if isinstance(d, dict) and d.get("kind") == "Secret" and base_secret(d.get("metadata", {}).get("name"))}
    if render_name == "prod":
        for name in sorted(ours):
            say(f"holds the Secret {name}; prod's Secrets come from outside the overlay (Terraform)")
        return problems
    if not any(name.startswith(db.SECRET_PREFIX) for name in ours):
        return problems
    owner = ours.get(db.OWNER_SECRET)
    owner_url = POSTGRES_URL.fullmatch(secret_values(owner).get("url", "")) if owner else None
    if owner is None:
        say(f"no Secret {db.OWNER_SECRET} (key url) for the migrations Job")
    elif set(secret_values(owner)) != db.OWNER_KEYS:
        say(f"the Secret {db.OWNER_SECRET} has keys {sorted(secret_values(owner))}, expected {sorted(db.OWNER_KEYS)}")
    elif owner_url is None:
        say(f"the url of {db.OWNER_SECRET} is not postgres://user:password@host:port/database")
    for name in sorted(n for n in ours if n.startswith(db.SECRET_PREFIX) and n != db.OWNER_SECRET):
        if name[len(db.SECRET_PREFIX):] not in db.DATABASE_ROLES:
            say(f"the Secret {name} is of no database role of infra/tests/database_roles.py")
    for role in db.DATABASE_ROLES:
        name = db.secret_name(role)
        if name not in ours:
            say(f"no Secret {name} (keys url, password) for the database role {role}")
            continue
        values = secret_values(ours[name])
        if set(values) != db.LOGIN_KEYS:
            say(f"the Secret {name} has keys {sorted(values)}, expected {sorted(db.LOGIN_KEYS)}")
            continue
        url = POSTGRES_URL.fullmatch(values["url"])
        if url is None:
            say(f"the url of {name} is not postgres://user:password@host:port/database")
            continue
        if url["user"] != db.login_name(role):
            say(f"the url of {name} logs in as {url['user']}, expected {db.login_name(role)}")
        if url["password"] != values["password"]:
            say(f"the url of {name} carries another password than its key password (the one the "
                f"migrations Job sets for {db.login_name(role)})")
        if owner_url is not None and (url["host"], url["port"], url["database"]) != (
                owner_url["host"], owner_url["port"], owner_url["database"]):
            say(f"the url of {name} is not on the owner's server and database "
                f"{owner_url['host']}:{owner_url['port']}/{owner_url['database']}")
    # The in-cluster PostgreSQL (local-data): the owner is its superuser, with its password.
    postgres = by.get(("StatefulSet", "postgres"))
    credentials = next((d for d in docs if isinstance(d, dict) and d.get("kind") == "Secret"
                        and re.fullmatch(r"local-data-credentials(-[a-z0-9]{10})?", d["metadata"].get("name", ""))), None)
    if postgres is not None and credentials is not None and owner_url is not None:
        env = {e.get("name"): e.get("value") for c in postgres["spec"]["template"]["spec"].get("containers", [])
               for e in c.get("env", [])}
        if owner_url["user"] != env.get("POSTGRES_USER", "postgres"):
            say(f"the owner url logs in as {owner_url['user']}, but the in-cluster PostgreSQL's superuser is "
                f"{env.get('POSTGRES_USER', 'postgres')}")
        if owner_url["password"] != secret_values(credentials).get("POSTGRES_PASSWORD"):
            say("the owner url's password is not POSTGRES_PASSWORD of local-data-credentials (the in-cluster "
                "PostgreSQL's)")
        if ("Service", owner_url["host"]) not in by:
            say(f"the owner url's host {owner_url['host']} is no Service of this render")
    return problems


def check(roles: list[Role], renders: dict[str, list[dict]]) -> list[str]:
    problems = check_database_roles(roles)
    for render_name, docs in renders.items():
        by = index(docs)
        render_secrets: dict[str, set[str]] = {}
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "Secret" and base_secret(d.get("metadata", {}).get("name")):
                render_secrets.setdefault(base_secret(d["metadata"]["name"]), set()).update(
                    [*(d.get("data") or {}), *(d.get("stringData") or {})])
        role_names = {r.name for r in roles}
        problems += check_database_secrets(render_name, docs, by)
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in WORKLOAD_KINDS:
                continue
            name = doc.get("metadata", {}).get("name")
            if doc["kind"] == "Deployment" and name in role_names:
                continue  # checked with its role below
            spec = doc.get("spec", {}).get("template", {}).get("spec", {})
            workload = f"{doc['kind']} {name}"
            for problem in secret_problems(workload, None, spec, render_secrets or None):
                problems.append(f"{workload}, {render_name} render: {problem}")
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
            for problem in secret_problems(f"Deployment {role.name}", role, pod["spec"], render_secrets or None):
                say(problem)
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


def database_self_test(roles: list[Role], renders: dict[str, list[dict]], name: str, find) -> None:
    """The database Secrets: each of these must fail, naming what is wrong."""
    by_name = {r.name: r for r in roles}
    db_roles = [r for r in roles if r.db_role is not None]
    assert db_roles, "self-test: no role of scripts/roles connects to PostgreSQL"
    role, other = db_roles[0], db_roles[1]
    mark = f"role {role.name} (scripts/roles), {name} render"

    def database_volume(docs: list[dict], workload: str, kind: str = "Deployment") -> dict:
        spec = find(docs, kind, workload)["spec"]["template"]["spec"]
        return next(v for v in spec["volumes"] if base_secret(v.get("secret", {}).get("secretName"))
                    and base_secret(v["secret"]["secretName"]).startswith(db.SECRET_PREFIX))

    def fails(broken: dict, *words: str, prefix: str = mark) -> None:
        problems = check(roles, broken)
        assert any(p.startswith(prefix) and all(w in p for w in words) for p in problems), (prefix, words, problems)

    # A role mounting another role's Secret instead of its own, or as well as its own.
    broken = copy.deepcopy(renders)
    database_volume(broken[name], role.name)["secret"]["secretName"] = db.secret_name(other.db_role)
    fails(broken, db.secret_name(other.db_role), "another database role's")
    fails(broken, "APP_DATABASE__URL_FILE", f"expected key url of {db.secret_name(role.db_role)}")
    broken = copy.deepcopy(renders)
    spec = find(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "more", "secret": {"secretName": db.secret_name(other.db_role),
                                                        "items": [{"key": "url", "path": "url"}]}})
    fails(broken, db.secret_name(other.db_role), "no use for")
    # ... or the owner's; its own Secret's password exposed (items dropped).
    broken = copy.deepcopy(renders)
    spec = find(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "owner", "secret": {"secretName": db.OWNER_SECRET}})
    fails(broken, db.OWNER_SECRET, "no use for")
    broken = copy.deepcopy(renders)
    database_volume(broken[name], role.name)["secret"].pop("items")
    fails(broken, db.secret_name(role.db_role), "exposes ['password']")
    # The database URL read from commerce-secrets again (the shared URL of before).
    broken = copy.deepcopy(renders)
    container = find(broken[name], "Deployment", role.name)["spec"]["template"]["spec"]["containers"][0]
    for env in container["env"]:
        if env["name"] == "APP_DATABASE__URL_FILE":
            env["value"] = "/var/run/secrets/commerce/APP_DATABASE__URL"
    fails(broken, "APP_DATABASE__URL_FILE")
    # Roles without a database (the HTTP gateway, the payment provider) given one.
    for no_db in [r for r in roles if r.db_role is None and find(renders[name], "Deployment", r.name)]:
        broken = copy.deepcopy(renders)
        spec = find(broken[name], "Deployment", no_db.name)["spec"]["template"]["spec"]
        spec["volumes"].append({"name": "database", "secret": {"secretName": db.secret_name(role.db_role),
                                                               "items": [{"key": "url", "path": "url"}]}})
        spec["containers"][0]["volumeMounts"].append(
            {"name": "database", "mountPath": db.MOUNT_PATH, "readOnly": True})
        spec["containers"][0]["env"].append({"name": "APP_DATABASE__URL_FILE", "value": db.MOUNT_PATH + "/url"})
        fails(broken, db.secret_name(role.db_role), "no use for",
              prefix=f"role {no_db.name} (scripts/roles), {name} render")
    # The migrations Job: a login's password missing, the owner's URL replaced by a login's.
    if find(renders[name], "Job", MIGRATE_JOB):
        job_mark = f"Job {MIGRATE_JOB}, {name} render"
        for missing in (db.DATABASE_ROLES[0], db.DATABASE_ROLES[-1]):
            broken = copy.deepcopy(renders)
            spec = find(broken[name], "Job", MIGRATE_JOB)["spec"]["template"]["spec"]
            for volume in spec["volumes"]:
                sources = volume.get("projected", {}).get("sources", [])
                sources[:] = [s for s in sources if base_secret(s.get("secret", {}).get("name")) != db.secret_name(missing)]
            fails(broken, f"{db.logins_variable(missing)}_FILE", prefix=job_mark)
            broken = copy.deepcopy(renders)
            spec = find(broken[name], "Job", MIGRATE_JOB)["spec"]["template"]["spec"]
            container = spec["containers"][0]
            container["env"] = [e for e in container["env"] if e["name"] != f"{db.logins_variable(missing)}_FILE"]
            fails(broken, "does not read", f"{db.logins_variable(missing)}_FILE", prefix=job_mark)
        broken = copy.deepcopy(renders)
        spec = find(broken[name], "Job", MIGRATE_JOB)["spec"]["template"]["spec"]
        for volume in spec["volumes"]:
            for source in volume.get("projected", {}).get("sources", []):
                if base_secret(source.get("secret", {}).get("name")) == db.OWNER_SECRET:
                    source["secret"]["name"] = db.secret_name(role.db_role)
        fails(broken, "APP_DATABASE__URL_FILE", f"expected key url of {db.OWNER_SECRET}", prefix=job_mark)
    # Another workload (the in-cluster PostgreSQL, RocketMQ) mounting a database Secret.
    if "dev" in renders and find(renders["dev"], "StatefulSet", "postgres"):
        broken = copy.deepcopy(renders)
        spec = find(broken["dev"], "StatefulSet", "postgres")["spec"]["template"]["spec"]
        spec["volumes"].append({"name": "owner", "secret": {"secretName": db.OWNER_SECRET}})
        fails(broken, db.OWNER_SECRET, "no use for", prefix="StatefulSet postgres, dev render")
    # scripts/roles: a database role nobody connects as, two processes on one, an unknown one.
    problems = check([r for r in roles if r.name != role.name], renders)
    assert any(f"database role {role.db_role} " in p and "0 processes" in p for p in problems), problems
    twisted = [Role(**{**vars(r), "db_role": other.db_role}) if r.name == role.name else r for r in roles]
    problems = check(twisted, renders)
    assert any(f"database role {other.db_role} " in p and "2 processes" in p for p in problems), problems
    assert any(p.startswith(mark) and db.secret_name(role.db_role) in p for p in problems), problems
    unknown = [Role(**{**vars(r), "db_role": "nobody", "db_role_from": "scripts/roles"})
               if r.name == role.name else r for r in roles]
    assert any("'nobody' is not one of DATABASE_ROLES" in p for p in check(unknown, renders))
    # The fifth field of scripts/roles is read (and optional).
    parsed = parse_roles("a | x | 1 | none | cart\nb | y | 2 | none | -\nc | z | 3 | none\n"
                         "command-cart | w | 4 | none\n")
    assert [(r.db_role, r.db_role_from) for r in parsed] == [
        ("cart", "scripts/roles"), (None, "scripts/roles"), (None, "database_roles.py"),
        ("cart", "database_roles.py")], parsed
    # The dev render's Secrets: a url of another login, a url whose password is not the Secret's,
    # a missing role's Secret, the owner's url not the in-cluster PostgreSQL's superuser; and any
    # application Secret in the prod render.
    if "dev" in renders and any(d.get("kind") == "Secret" and base_secret(d["metadata"]["name"]) == db.OWNER_SECRET
                                for d in renders["dev"]):
        def dev_secret(docs: list[dict], secret: str) -> dict:
            return next(d for d in docs if d.get("kind") == "Secret" and base_secret(d["metadata"]["name"]) == secret)

        def encode(value: str) -> str:
            return base64.b64encode(value.encode()).decode()

        target = db.secret_name(role.db_role)
        broken = copy.deepcopy(renders)
        doc = dev_secret(broken["dev"], target)
        doc["data"]["url"] = encode(secret_values(doc)["url"].replace(db.login_name(role.db_role),
                                                                      db.login_name(other.db_role)))
        fails(broken, f"the url of {target} logs in as {db.login_name(other.db_role)}", prefix="dev render")
        broken = copy.deepcopy(renders)
        doc = dev_secret(broken["dev"], target)
        doc["data"]["password"] = encode("another-password")
        fails(broken, f"the url of {target} carries another password", prefix="dev render")
        broken = copy.deepcopy(renders)
        broken["dev"] = [d for d in broken["dev"] if not (d.get("kind") == "Secret"
                                                          and base_secret(d["metadata"]["name"]) == target)]
        fails(broken, f"no Secret {target}", prefix="dev render")
        fails(broken, "which this render lacks", prefix=mark.replace(name, "dev"))
        broken = copy.deepcopy(renders)
        doc = dev_secret(broken["dev"], db.OWNER_SECRET)
        doc["data"]["url"] = encode(secret_values(doc)["url"].replace("://postgres:", "://someone:"))
        fails(broken, "the owner url logs in as someone", prefix="dev render")
        if "prod" in renders:
            broken = copy.deepcopy(renders)
            broken["prod"].append(copy.deepcopy(dev_secret(renders["dev"], target)))
            fails(broken, "holds the Secret", target, prefix="prod render")


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
    assert any(("expected" in p or "does not read" in p) and role.name in p for p in problems), problems
    if "http-gateway" in {r.name for r in roles}:
        broken = copy.deepcopy(renders)
        for volume in deployment(broken[name], "Deployment", "http-gateway")["spec"]["template"]["spec"]["volumes"]:
            volume.get("secret", {}).pop("items", None)
        problems = check(roles, broken)
        assert any("exposes" in p and "http-gateway" in p for p in problems), problems
    broken = copy.deepcopy(renders)
    job = deployment(broken[name], "Job", MIGRATE_JOB)
    if job is not None:
        job["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "APP_DATABASE__URL", "valueFrom": {"secretKeyRef": {"name": db.OWNER_SECRET, "key": "url"}}})
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
    database_self_test(roles, renders, name, deployment)
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
          "provider, a role mounting the whole Secret), a role mounting another role's database Secret or "
          "the owner's or its own password, a role without a database given one, the migrations Job "
          "missing a login's password or the owner's URL, the dev Secrets' URLs naming another login or "
          "password or not the in-cluster superuser, a database role with no or two processes or "
          f"unknown, an application Secret in prod, and, for {len(pairs)} calls between roles, an "
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
          f"{SECRET} read as files only, each role its own keys; each database role's process mounts only "
          f"its own {db.SECRET_PREFIX}<role> (url), the migrations Job the owner's url and "
          f"{len(db.DATABASE_ROLES)} login passwords; calls between roles wired (endpoint "
          f"variable, Service port, Istio policy allowing the caller)")
    if args.self_test:
        self_test(roles, renders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
