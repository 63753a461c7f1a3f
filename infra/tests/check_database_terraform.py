#!/usr/bin/env python3
"""The database roles in Terraform: infra/terraform creates what the manifests mount.

Holds infra/terraform (parsed with python-hcl2, offline) against DATABASE_ROLES of database_roles.py:
  * the module modules/database-roles lists exactly DATABASE_ROLES (local.roles),
  * one random_password per role and one Kubernetes Secret per role (for_each over that list), named
    commerce-db-<role>, with the keys url and password: password is the role's random password, url
    is postgres://commerce_<role>_login:<that password>@…?sslmode=require,
  * one Secret commerce-db-owner with the key url only,
  * outputs naming the Secrets (the module's, and envs/aws's from them),
  * envs/aws uses the module with the owner's URL of the RDS module (whose url has sslmode=require),
    and its Secret commerce-secrets holds no database URL any more (only ALL_SECRET_KEYS of
    check_roles.py).

Usage: check_database_terraform.py [--self-test] TERRAFORM_DIR   (needs python-hcl2 on PYTHONPATH)
Exit status 0 when everything holds; 1 with one line per problem otherwise.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import hcl2

import database_roles as db
from check_roles import ALL_SECRET_KEYS, SECRET

MODULE = "modules/database-roles"
ENV = "envs/aws"
SECRET_RESOURCES = ("kubernetes_secret_v1", "kubernetes_secret")


def unquote(value) -> str:
    return str(value)[1:-1] if str(value).startswith('"') and str(value).endswith('"') else str(value)


def load(top: Path) -> dict[str, list[dict]]:
    """Folder (relative to TERRAFORM_DIR) -> its parsed .tf files."""
    folders: dict[str, list[dict]] = {}
    for path in sorted(top.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with open(path) as f:
            folders.setdefault(str(path.parent.relative_to(top)), []).append(hcl2.load(f))
    return folders


def blocks(docs: list[dict], kind: str) -> list[tuple[str, str, dict]]:
    """(type, name, body) of the resources / (name, "", body) of modules and outputs of a folder."""
    found = []
    for doc in docs:
        for block in doc.get(kind, []):
            for first, inner in block.items():
                if kind == "resource":
                    for name, body in inner.items():
                        found.append((unquote(first), unquote(name), body))
                else:
                    found.append((unquote(first), "", inner))
    return found


def check(folders: dict[str, list[dict]]) -> list[str]:
    problems = []
    module = folders.get(MODULE)
    if module is None:
        return [f"no module {MODULE} (the database roles' passwords and Secrets)"]
    say = lambda what: problems.append(f"{MODULE}: {what}")
    roles = next((local["roles"] for doc in module for local in doc.get("locals", []) if "roles" in local), None)
    if roles is None:
        say("no local.roles (the list of database roles)")
        return problems
    roles = [unquote(r) for r in roles]
    if sorted(roles) != sorted(db.DATABASE_ROLES) or len(set(roles)) != len(roles):
        say(f"local.roles is {roles}, DATABASE_ROLES of infra/tests/database_roles.py is "
            f"{list(db.DATABASE_ROLES)}: make them equal")
    resources = blocks(module, "resource")
    for_each_roles = lambda body: re.fullmatch(r"\$\{toset\(local\.roles\)\}", str(body.get("for_each", ""))) is not None
    passwords = [name for kind, name, body in resources if kind == "random_password" and for_each_roles(body)]
    if len(passwords) != 1:
        say(f"expected one random_password with for_each = toset(local.roles), found {passwords}")
        return problems
    password = f"random_password.{passwords[0]}[each.key].result"
    secrets = [(name, body) for kind, name, body in resources if kind in SECRET_RESOURCES]
    per_role = [(name, body) for name, body in secrets if for_each_roles(body)]
    if len(per_role) != 1:
        say(f"expected one Kubernetes Secret resource with for_each = toset(local.roles), found "
            f"{[name for name, _ in per_role]}")
    for name, body in per_role:
        metadata = (body.get("metadata") or [{}])[0]
        if unquote(metadata.get("name")) != db.SECRET_PREFIX + "${each.key}":
            say(f"the Secret {name} is named {metadata.get('name')}, expected \"{db.SECRET_PREFIX}${{each.key}}\"")
        data = body.get("data") or {}
        if set(data) != db.LOGIN_KEYS:
            say(f"the Secret {name} has keys {sorted(data)}, expected {sorted(db.LOGIN_KEYS)}")
            continue
        if data["password"] != "${" + password + "}":
            say(f"the Secret {name}'s password is {data['password']}, expected ${{{password}}}")
        url = unquote(data["url"])
        login = db.login_name("${each.key}")
        if not url.startswith(f"postgres://{login}:${{{password}}}@"):
            say(f"the Secret {name}'s url {url} does not log in as {login} with ${{{password}}}")
        if not re.search(r"[?&]sslmode=require(&|$)", url):
            say(f"the Secret {name}'s url {url} lacks sslmode=require")
    owners = [name for name, body in secrets
              if unquote((body.get("metadata") or [{}])[0].get("name")) == db.OWNER_SECRET]
    if len(owners) != 1:
        say(f"expected one Secret named {db.OWNER_SECRET}, found {owners}")
    else:
        body = next(b for n, b in secrets if n == owners[0])
        if set(body.get("data") or {}) != db.OWNER_KEYS:
            say(f"the Secret {db.OWNER_SECRET} has keys {sorted(body.get('data') or {})}, expected {sorted(db.OWNER_KEYS)}")
    outputs = {name: str(body.get("value", "")) for name, _, body in blocks(module, "output")}
    secret_outputs = [n for n, v in outputs.items() if any(f"{k}." in v for k in SECRET_RESOURCES) and "metadata" in v]
    per_role_output = [n for n in secret_outputs if per_role and f".{per_role[0][0]}" in outputs[n]]
    owner_output = [n for n in secret_outputs if owners and f".{owners[0]}." in outputs[n]]
    if not per_role_output or not owner_output:
        say(f"expected outputs naming the per-role Secrets and {db.OWNER_SECRET}, found {sorted(outputs)}")

    # envs/aws: uses the module with the RDS owner's URL, outputs its Secrets, and commerce-secrets
    # has no database URL.
    env = folders.get(ENV, [])
    say = lambda what: problems.append(f"{ENV}: {what}")
    uses = [(name, body) for name, _, body in blocks(env, "module")
            if unquote(body.get("source")).rstrip("/").endswith(MODULE.split("/")[-1])]
    if len(uses) != 1:
        say(f"expected one module block with source ../../{MODULE}, found {[n for n, _ in uses]}")
    else:
        use, body = uses[0]
        owner_url = str(body.get("owner_url", ""))
        match = re.fullmatch(r"\$\{module\.([a-z_]+)\.url\}", owner_url)
        if match is None:
            say(f"module {use}: owner_url is {owner_url or 'unset'}, expected the RDS module's url")
        else:
            postgres = next((b for n, _, b in blocks(env, "module") if n == match[1]), None)
            source = unquote(postgres.get("source")) if postgres else ""
            folder = str(Path(ENV, source)).replace("envs/aws/../../", "")
            url = next((str(b.get("value")) for n, _, b in blocks(folders.get(folder, []), "output") if n == "url"), "")
            if "sslmode=require" not in url:
                say(f"module {use}: owner_url is the url of {folder or match[1]}, which lacks sslmode=require")
        env_outputs = " ".join(str(b.get("value", "")) for _, _, b in blocks(env, "output"))
        for output in [*per_role_output[:1], *owner_output[:1]]:
            if f"module.{use}.{output}" not in env_outputs:
                say(f"no output of module.{use}.{output}")
    shared = [(name, body) for kind, name, body in blocks(env, "resource") if kind in SECRET_RESOURCES
              and unquote((body.get("metadata") or [{}])[0].get("name")) == SECRET]
    for name, body in shared:
        keys = set(body.get("data") or {})
        if keys != ALL_SECRET_KEYS:
            say(f"the Secret {SECRET} ({name}) has keys {sorted(keys)}, expected {sorted(ALL_SECRET_KEYS)} "
                f"(database access is per role: {db.SECRET_PREFIX}<role>)")
    return problems


def self_test(folders: dict[str, list[dict]]) -> None:
    """Each of these must fail."""
    assert not check(folders), "self-test: the real files should pass"

    def mutate(change) -> list[str]:
        broken = copy.deepcopy(folders)
        change(broken)
        problems = check(broken)
        assert problems, f"self-test: {change.__doc__} passed"
        return problems

    def resources(broken, folder=MODULE):
        return [(kind, name, body) for kind, name, body in blocks(broken[folder], "resource")]

    def per_role_secret(broken):
        return next(b for k, n, b in resources(broken) if k in SECRET_RESOURCES and "for_each" in b)

    def drop_role(broken):
        """a role missing from local.roles"""
        for doc in broken[MODULE]:
            for local in doc.get("locals", []):
                if "roles" in local:
                    local["roles"] = local["roles"][:-1]

    def rename(broken):
        """the per-role Secret named otherwise"""
        per_role_secret(broken)["metadata"][0]["name"] = '"commerce-database-${each.key}"'

    def no_tls(broken):
        """the url without sslmode=require"""
        data = per_role_secret(broken)["data"]
        data["url"] = data["url"].replace("?sslmode=require", "")

    def wrong_login(broken):
        """the url logging in as the group role"""
        data = per_role_secret(broken)["data"]
        data["url"] = data["url"].replace("_login:", ":")

    def no_password_key(broken):
        """the per-role Secret without its password"""
        per_role_secret(broken)["data"].pop("password")

    def no_password(broken):
        """no random_password per role"""
        for doc in broken[MODULE]:
            doc["resource"] = [b for b in doc.get("resource", []) if '"random_password"' not in b]

    def no_owner(broken):
        """no owner Secret"""
        for kind, name, body in resources(broken):
            if kind in SECRET_RESOURCES and "for_each" not in body:
                body["metadata"][0]["name"] = '"commerce-db-admin"'

    def unused(broken):
        """the module not used by envs/aws"""
        for doc in broken[ENV]:
            doc["module"] = [b for b in doc.get("module", []) if not any("database_roles" in k for k in b)]

    def no_output(broken):
        """envs/aws without the outputs naming the Secrets"""
        for doc in broken[ENV]:
            doc["output"] = [b for b in doc.get("output", []) if not any("database" in k for k in b)]

    def shared_url(broken):
        """commerce-secrets with the shared database URL again"""
        for kind, name, body in resources(broken, ENV):
            if kind in SECRET_RESOURCES and unquote(body["metadata"][0]["name"]) == SECRET:
                body["data"]["APP_DATABASE__URL"] = "${module.postgres.url}"

    expected = {drop_role: "local.roles", rename: "expected \"commerce-db-${each.key}\"", no_tls: "sslmode=require",
                wrong_login: "does not log in as", no_password_key: "expected ['password', 'url']",
                no_password: "random_password", no_owner: db.OWNER_SECRET, unused: "module block",
                no_output: "no output", shared_url: "APP_DATABASE__URL"}
    for change, words in expected.items():
        problems = mutate(change)
        assert any(words in p for p in problems), (change.__doc__, words, problems)
    print(f"check_database_terraform self-test: {', '.join(c.__doc__ for c in expected)}: all caught")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("terraform")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    folders = load(Path(args.terraform))
    problems = check(folders)
    for problem in problems:
        print(f"check_database_terraform: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_database_terraform: {len(db.DATABASE_ROLES)} database roles in {MODULE}: one random_password "
          f"and one Secret {db.SECRET_PREFIX}<role> (url with sslmode=require, password) each, "
          f"{db.OWNER_SECRET} (url), outputs naming them; {ENV} uses it with the RDS owner's URL and "
          f"{SECRET} has no database URL")
    if args.self_test:
        self_test(folders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
