#!/usr/bin/env python3
"""Weaviate stand-in: the REST and GraphQL endpoints vdr's weaviate plugin
uses, shaped after Weaviate's published OpenAPI reference
(openapi-specs/schema.json in weaviate/weaviate) and its GraphQL API.

REST: GET /v1/meta; GET/POST /v1/schema; GET/DELETE /v1/schema/{class};
GET/POST /v1/schema/{class}/tenants; GET /v1/objects?class=&limit=&after=
&include=vector&tenant= (cursor in id order); GET/DELETE
/v1/objects/{class}/{id}; POST /v1/batch/objects (HTTP 200 with per-object
errors). GraphQL (POST /v1/graphql): `Get { C(nearVector: {vector: [...],
targetVectors: ["name"]}, limit: k, tenant: "t") { _additional { id distance } } }`
and `Aggregate { C(tenant: "t") { meta { count } } }` only.
Errors are `{"error": [{"message": ...}]}`; auth is `Authorization: Bearer KEY`.

Modelled: classes with the legacy single vector or named vectors
(`vectorConfig`, vectorizer none), multi-vectors (`multivector.enabled`),
distances cosine / dot / l2-squared / manhattan, properties with auto-schema,
sharding desiredCount and replication factor kept as given, multi-tenancy.
Not modelled: vectorizer modules, filters (`where`), hybrid/BM25, consistency.

    python3 tests/standins/weaviate.py --port 8080 [--api-key KEY]
"""

import copy
import json
import math
import re
import time
import uuid

from _standin import Reply, f32, main

VERSION = "1.28.4"
CLASSES = {}  # class name -> {"class": definition, "tenants": set|None, "objects": {tenant: {id: obj}}}
NAME = re.compile(r"^[A-Z][_0-9A-Za-z]*$")
PROPERTY = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
DISTANCES = {"cosine", "dot", "l2-squared", "manhattan", "hamming"}


def error(status, message):
    return Reply(status, {"error": [{"message": message}]})


def cls(name):
    c = CLASSES.get(name)
    if c is None:
        raise error(404, f"class {name!r} not found")
    return c


def objects_of(c, tenant):
    if c["tenants"] is None:
        if tenant:
            raise error(422, f"class {c['class']['class']} has multi-tenancy disabled, but request was with tenant")
        return c["objects"].setdefault("", {})
    if not tenant:
        raise error(422, f"class {c['class']['class']} has multi-tenancy enabled, but request was without tenant")
    if tenant not in c["tenants"]:
        raise error(422, f"tenant not found: {tenant!r}")
    return c["objects"].setdefault(tenant, {})


def vector_configs(definition):
    """{name: vectorIndexConfig}; "" for the legacy class-level vector."""
    if definition.get("vectorConfig"):
        return {n: v.get("vectorIndexConfig", {}) for n, v in definition["vectorConfig"].items()}
    return {"": definition.get("vectorIndexConfig", {})}


def check_vector(name, config, data):
    multi = (config.get("multivector") or {}).get("enabled")
    if multi:
        if not (isinstance(data, list) and data and all(isinstance(r, list) for r in data)):
            raise error(422, f"vector {name!r} must be a multi-vector")
        return [[f32(x) for x in r] for r in data]
    if not isinstance(data, list) or any(isinstance(x, list) for x in data):
        raise error(422, f"vector {name!r} must be a list of numbers")
    return [f32(x) for x in data]


def distance(kind, a, b):
    if kind == "cosine":
        na = math.sqrt(sum(x * x for x in a)) or 1.0
        nb = math.sqrt(sum(x * x for x in b)) or 1.0
        return 1 - sum(x * y for x, y in zip(a, b)) / (na * nb)
    if kind == "dot":
        return -sum(x * y for x, y in zip(a, b))
    if kind == "l2-squared":
        return sum((x - y) ** 2 for x, y in zip(a, b))
    return sum(abs(x - y) for x, y in zip(a, b))


def render(c, obj, with_vector):
    out = {"class": c["class"]["class"], "id": obj["id"], "properties": copy.deepcopy(obj["properties"]),
           "creationTimeUnix": obj["created"], "lastUpdateTimeUnix": obj["updated"]}
    if obj.get("tenant"):
        out["tenant"] = obj["tenant"]
    if with_vector:
        if "" in obj["vectors"]:
            out["vector"] = obj["vectors"][""]
        named = {k: v for k, v in obj["vectors"].items() if k}
        if named:
            out["vectors"] = named
    return out


def build(args):
    def auth(req):
        if args.api_key is None or req.path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
            return
        header = req.headers.get("authorization", "")
        if header != f"Bearer {args.api_key}":
            raise error(401, "anonymous access not enabled, please provide an auth scheme such as OIDC"
                        if not header else "unauthorized: invalid api key")

    def ready(req):
        return Reply(200, b"", "application/json")

    def meta(req):
        return {"hostname": "http://[::]:8080", "modules": {}, "version": VERSION}

    def get_schema(req):
        return {"classes": [copy.deepcopy(c["class"]) for _, c in sorted(CLASSES.items())]}

    def create_class(req):
        d = req.json()
        name = d.get("class", "")
        if not NAME.match(name):
            raise error(422, f"'{name}' is not a valid class name")
        if name in CLASSES:
            raise error(422, f"class name {name!r} already exists")
        if d.get("vectorConfig") and d.get("vectorIndexConfig"):
            raise error(422, "class has both a legacy vector index config and named vectors")
        for vname, vcfg in (d.get("vectorConfig") or {}).items():
            if not PROPERTY.match(vname):
                raise error(422, f"'{vname}' is not a valid vector name")
            if "none" not in (vcfg.get("vectorizer") or {}):
                raise error(422, f"vector {vname!r}: only the vectorizer 'none' is available")
        for vname, vcfg in vector_configs(d).items():
            dist = vcfg.get("distance", "cosine")
            if dist not in DISTANCES:
                raise error(422, f"vector index config: unrecognized or unsupported distance metric {dist!r}")
            vcfg["distance"] = dist
        for p in d.get("properties", []):
            if not PROPERTY.match(p.get("name", "")):
                raise error(422, f"'{p.get('name')}' is not a valid property name")
        d.setdefault("properties", [])
        d.setdefault("vectorizer", "none")
        d.setdefault("shardingConfig", {}).setdefault("desiredCount", 1)
        d.setdefault("replicationConfig", {}).setdefault("factor", 1)
        d.setdefault("invertedIndexConfig", {"bm25": {"b": 0.75, "k1": 1.2}, "cleanupIntervalSeconds": 60})
        mt = (d.get("multiTenancyConfig") or {}).get("enabled", False)
        d["multiTenancyConfig"] = {"enabled": mt, "autoTenantCreation": False, "autoTenantActivation": False}
        CLASSES[name] = {"class": d, "tenants": set() if mt else None, "objects": {}}
        return copy.deepcopy(d)

    def class_route(req, name):
        if req.method == "DELETE":
            CLASSES.pop(name, None)  # deleting an absent class is not an error
            return Reply(200, b"", "application/json")
        return copy.deepcopy(cls(name)["class"])

    def tenants(req, name):
        c = cls(name)
        if c["tenants"] is None:
            raise error(422, f"multi-tenancy is not enabled for class {name!r}")
        if req.method == "POST":
            for t in req.json():
                c["tenants"].add(t["name"])
            return [{"name": t["name"], "activityStatus": "HOT"} for t in req.json()]
        return [{"name": t, "activityStatus": "HOT"} for t in sorted(c["tenants"])]

    def list_objects(req):
        name = req.arg("class")
        if not name:
            raise error(422, "the cursor API needs a class")
        c = cls(name)
        objs = objects_of(c, req.arg("tenant"))
        ids = sorted(objs)
        after = req.arg("after")
        if after:
            ids = [i for i in ids if i > after]
        limit = int(req.arg("limit") or 25)
        with_vector = "vector" in (req.arg("include") or "")
        return {"objects": [render(c, objs[i], with_vector) for i in ids[:limit]],
                "deprecations": None, "totalResults": min(limit, len(ids))}

    def object_route(req, name, oid):
        c = cls(name)
        objs = objects_of(c, req.arg("tenant"))
        key = oid.lower()
        if key not in objs:
            return Reply(404, b"", "application/json")
        if req.method == "DELETE":
            del objs[key]
            return Reply(204, b"", "application/json")
        return render(c, objs[key], "vector" in (req.arg("include") or ""))

    def batch(req):
        body = req.json()
        results = []
        for raw in body.get("objects", []):
            out = copy.deepcopy(raw)
            try:
                c = cls(raw.get("class", ""))
                try:
                    oid = str(uuid.UUID(raw.get("id", "")))
                except ValueError:
                    raise error(422, f"id '{raw.get('id')}' is not a valid uuid")
                configs = vector_configs(c["class"])
                vectors = {}
                if raw.get("vector") is not None:
                    if "" not in configs:
                        raise error(422, "class has named vectors: use 'vectors'")
                    vectors[""] = check_vector("", configs[""], raw["vector"])
                for vname, data in (raw.get("vectors") or {}).items():
                    if vname not in configs or not vname:
                        raise error(422, f"target vector {vname!r} not found in class {c['class']['class']}")
                    vectors[vname] = check_vector(vname, configs[vname], data)
                props = raw.get("properties") or {}
                known = {p["name"] for p in c["class"]["properties"]}
                for k, v in props.items():
                    if not PROPERTY.match(k):
                        raise error(422, f"'{k}' is not a valid property name")
                    if k not in known:  # auto-schema
                        t = ("text" if isinstance(v, str) else "boolean" if isinstance(v, bool)
                             else "number" if isinstance(v, (int, float)) else "text[]"
                             if isinstance(v, list) else "object")
                        c["class"]["properties"].append({"name": k, "dataType": [t]})
                        known.add(k)
                objs = objects_of(c, raw.get("tenant"))
                now = int(time.time() * 1000)
                created = objs.get(oid, {}).get("created", now)
                objs[oid] = {"id": oid, "properties": copy.deepcopy(props), "vectors": vectors,
                             "created": created, "updated": now, "tenant": raw.get("tenant")}
                out["id"] = oid
                out["result"] = {}
            except Reply as r:
                out["result"] = {"errors": {"error": r.body["error"]}}
            results.append(out)
        return results

    def graphql(req):
        query = req.json().get("query", "")
        m = re.search(r"Aggregate\s*\{\s*(\w+)\s*(?:\(([^)]*)\))?\s*\{\s*meta\s*\{\s*count", query)
        if m:
            c = cls(m.group(1))
            tenant = re.search(r'tenant:\s*"([^"]*)"', m.group(2) or "")
            n = len(objects_of(c, tenant.group(1) if tenant else None))
            return {"data": {"Aggregate": {m.group(1): [{"meta": {"count": n}}]}}}
        m = re.search(r"Get\s*\{\s*(\w+)\s*\((.*)\)\s*\{\s*_additional", query, re.S)
        if not m:
            return {"data": None, "errors": [{"message": "the stand-in models only Get with nearVector and Aggregate count"}]}
        name, params = m.group(1), m.group(2)
        if name not in CLASSES:
            return {"data": None, "errors": [{"message": f"Cannot query field \"{name}\" on type \"GetObjectsObj\"."}]}
        c = CLASSES[name]
        vector = re.search(r"vector:\s*\[([^\]]*)\]", params)
        target = re.search(r'targetVectors:\s*\[\s*"([^"]+)"', params)
        limit = re.search(r"limit:\s*(\d+)", params)
        tenant = re.search(r'tenant:\s*"([^"]*)"', params)
        try:
            objs = objects_of(c, tenant.group(1) if tenant else None)
        except Reply as r:
            return {"data": {"Get": {name: None}}, "errors": [{"message": r.body["error"][0]["message"]}]}
        configs = vector_configs(c["class"])
        vname = target.group(1) if target else ""
        if vname not in configs:
            msg = "multiple vectors configured: targetVectors must be given" if not vname else f"target vector {vname!r} not found"
            return {"data": {"Get": {name: None}}, "errors": [{"message": msg}]}
        q = [float(x) for x in vector.group(1).split(",") if x.strip()] if vector else []
        kind = configs[vname].get("distance", "cosine")
        hits = sorted(((distance(kind, q, o["vectors"][vname]), o["id"]) for o in objs.values()
                       if vname in o["vectors"] and not isinstance(o["vectors"][vname][0], list)))
        k = int(limit.group(1)) if limit else 10
        return {"data": {"Get": {name: [{"_additional": {"id": i, "distance": d}} for d, i in hits[:k]]}}}

    routes = [
        ("GET", r"/v1/\.well-known/ready", ready),
        ("GET", r"/v1/meta", meta),
        ("GET", r"/v1/schema", get_schema),
        ("POST", r"/v1/schema", create_class),
        ("GET", r"/v1/schema/([^/]+)", class_route),
        ("DELETE", r"/v1/schema/([^/]+)", class_route),
        ("GET", r"/v1/schema/([^/]+)/tenants", tenants),
        ("POST", r"/v1/schema/([^/]+)/tenants", tenants),
        ("GET", r"/v1/objects", list_objects),
        ("GET", r"/v1/objects/([^/]+)/([^/]+)", object_route),
        ("DELETE", r"/v1/objects/([^/]+)/([^/]+)", object_route),
        ("POST", r"/v1/batch/objects", batch),
        ("POST", r"/v1/graphql", graphql),
    ]
    return routes, auth


if __name__ == "__main__":
    main("weaviate", build)
