#!/usr/bin/env python3
"""Pinecone stand-in: one serverless index's data plane, plus the control
plane's describe/list/create index, shaped after Pinecone's published API
reference, API version 2025-10 (pinecone-io/pinecone-api:
2025-10/db_data_2025-10.oas.yaml and db_control_2025-10.oas.yaml).

Data plane (the index host): POST /vectors/upsert, GET /vectors/fetch,
GET /vectors/list (sorted ids, `pagination.next`), POST /query,
POST /vectors/delete, POST /describe_index_stats, GET/POST /namespaces,
GET/DELETE /namespaces/{namespace}. Errors are `rpcStatus`
(`{"code", "message", "details"}`) with the HTTP status.
Control plane: GET /indexes, GET /indexes/{name}, POST /indexes; errors
`{"error": {"code", "message"}, "status"}`. Both planes are served on one
origin: the index's `host` is this server.

Modelled: `Api-Key` auth, the `X-Pinecone-Api-Version` header, dimension
checks, metadata value types (string, number, boolean, list of strings; no
nesting) and the 40 KB metadata limit, sparse values only on dotproduct
indexes, exact search. Not modelled: filters, eventual consistency, pods.

    python3 tests/standins/pinecone.py --port 5080 [--api-key KEY]
      [--index NAME --dimension 8 --metric cosine]   (the index served at /)
"""

import base64
import json
import math
import sys

from _standin import Reply, f32, main

API_VERSION = "2025-10"
INDEXES = {}  # name -> description (control plane)
NAMESPACES = {}  # namespace -> {id: vector}; the data plane's index is the first one
METADATA_LIMIT = 40960
DEFAULT_NS = "__default__"


def rpc(status, code, message):
    return Reply(status, {"code": code, "message": message, "details": []})


def control_error(status, code, message):
    return Reply(status, {"error": {"code": code, "message": message}, "status": status})


def data_index():
    if not INDEXES:
        raise rpc(404, 5, "Index not found")
    return next(iter(INDEXES.values()))


def check_metadata(vid, metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise rpc(400, 3, f"Metadata of vector {vid} must be an object")
    for k, v in metadata.items():
        ok = isinstance(v, (str, bool, int, float)) or (
            isinstance(v, list) and all(isinstance(x, str) for x in v))
        if not ok:
            kind = "struct" if isinstance(v, dict) else type(v).__name__
            raise rpc(400, 3, f"Metadata value must be a string, number, boolean or list of strings, got '{kind}' for field '{k}'")
    size = len(json.dumps(metadata).encode())
    if size > METADATA_LIMIT:
        raise rpc(400, 3, f"Metadata size is {size} bytes, which exceeds the limit of {METADATA_LIMIT} bytes per vector")
    return metadata


def check_vector(index, raw):
    vid = raw.get("id")
    if not isinstance(vid, str) or not vid or len(vid) > 512:
        raise rpc(400, 3, "Vector ID must be a non-empty string of at most 512 characters")
    values = raw.get("values") or []
    if len(values) != index["dimension"]:
        raise rpc(400, 3, f"Vector dimension {len(values)} does not match the dimension of the index {index['dimension']}")
    out = {"id": vid, "values": [f32(x) for x in values]}
    sparse = raw.get("sparseValues")
    if sparse is not None:
        if index["metric"] != "dotproduct":
            raise rpc(400, 3, "Sparse vectors are only supported for indexes using the dotproduct metric")
        indices, vals = sparse.get("indices", []), sparse.get("values", [])
        if len(indices) != len(vals) or not indices:
            raise rpc(400, 3, "Sparse vector indices and values must be non-empty and of the same length")
        if len(set(indices)) != len(indices):
            raise rpc(400, 3, "Found duplicate indices in sparse vector")
        out["sparseValues"] = {"indices": list(indices), "values": [f32(v) for v in vals]}
    metadata = check_metadata(vid, raw.get("metadata"))
    if metadata:
        out["metadata"] = metadata
    return out


def namespace_of(body_or_ns):
    ns = body_or_ns or ""
    return DEFAULT_NS if ns == "" else ns


def score(metric, a, b):
    if metric == "euclidean":
        return -math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))  # higher is closer
    dot = sum(x * y for x, y in zip(a, b))
    if metric == "cosine":
        na = math.sqrt(sum(x * x for x in a)) or 1.0
        nb = math.sqrt(sum(x * x for x in b)) or 1.0
        return dot / (na * nb)
    return dot


def build(args):
    if args.index:
        INDEXES[args.index] = {
            "name": args.index,
            "dimension": args.dimension,
            "metric": args.metric,
            "host": f"127.0.0.1:{args.port}",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            "status": {"ready": True, "state": "Ready"},
            "vector_type": "dense",
            "deletion_protection": "disabled",
            "tags": None,
        }

    def auth(req):
        if args.api_key is not None and req.headers.get("api-key") != args.api_key:
            raise rpc(401, 16, "Invalid API Key")
        version = req.headers.get("x-pinecone-api-version")
        if version is not None and version != API_VERSION:
            raise rpc(400, 3, f"Unsupported API version {version}; this server speaks {API_VERSION}")

    # --- control plane ---

    def list_indexes(req):
        return {"indexes": list(INDEXES.values())}

    def describe_index(req, name):
        if name not in INDEXES:
            raise control_error(404, "NOT_FOUND", f"Resource {name} not found")
        return INDEXES[name]

    def create_index(req):
        body = req.json()
        name = body.get("name")
        if not name:
            raise control_error(400, "INVALID_ARGUMENT", "name is required")
        if name in INDEXES:
            raise control_error(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        if body.get("metric", "cosine") not in ("cosine", "euclidean", "dotproduct"):
            raise control_error(400, "INVALID_ARGUMENT", "metric must be cosine, euclidean or dotproduct")
        if not isinstance(body.get("dimension"), int) or not 1 <= body["dimension"] <= 20000:
            raise control_error(400, "INVALID_ARGUMENT", "dimension must be between 1 and 20000")
        if "serverless" not in (body.get("spec") or {}) and "pod" not in (body.get("spec") or {}):
            raise control_error(400, "INVALID_ARGUMENT", "spec must be serverless or pod")
        INDEXES[name] = {
            "name": name, "dimension": body["dimension"], "metric": body.get("metric", "cosine"),
            "host": f"127.0.0.1:{args.port}", "spec": body["spec"],
            "status": {"ready": True, "state": "Ready"}, "vector_type": body.get("vector_type", "dense"),
            "deletion_protection": body.get("deletion_protection", "disabled"), "tags": body.get("tags"),
        }
        return Reply(201, INDEXES[name])

    # --- namespaces ---

    def describe_ns(name):
        return {"name": name, "record_count": len(NAMESPACES[name])}

    def list_namespaces(req):
        data_index()
        names = sorted(NAMESPACES)
        start = req.arg("paginationToken")
        if start:
            after = base64.b64decode(start).decode()
            names = [n for n in names if n > after]
        limit = int(req.arg("limit") or 100)
        page = names[:limit]
        out = {"namespaces": [describe_ns(n) for n in page], "total_count": len(NAMESPACES)}
        if len(names) > limit:
            out["pagination"] = {"next": base64.b64encode(page[-1].encode()).decode()}
        return out

    def create_namespace(req):
        data_index()
        name = namespace_of(req.json().get("name"))
        if name in NAMESPACES:
            raise rpc(409, 6, f"Namespace {name} already exists")
        NAMESPACES[name] = {}
        return describe_ns(name)

    def namespace_route(req, name):
        data_index()
        if name not in NAMESPACES:
            raise rpc(404, 5, "Namespace not found")
        if req.method == "DELETE":
            del NAMESPACES[name]
            return {}
        return describe_ns(name)

    # --- vectors ---

    def upsert(req):
        index = data_index()
        body = req.json()
        vectors = [check_vector(index, v) for v in body.get("vectors", [])]
        if len(vectors) > 1000:
            raise rpc(400, 3, "A maximum of 1000 vectors can be upserted per request")
        ns = NAMESPACES.setdefault(namespace_of(body.get("namespace")), {})
        for v in vectors:
            ns[v["id"]] = v
        return {"upsertedCount": len(vectors)}

    def fetch(req):
        data_index()
        name = namespace_of(req.arg("namespace"))
        ids = req.query.get("ids", [])
        if not ids:
            raise rpc(400, 3, "No IDs provided")
        ns = NAMESPACES.get(name, {})
        return {"vectors": {i: ns[i] for i in ids if i in ns}, "namespace": name,
                "usage": {"readUnits": 1}}

    def list_ids(req):
        data_index()
        name = namespace_of(req.arg("namespace"))
        ids = sorted(NAMESPACES.get(name, {}), key=lambda s: s.encode())  # C collation
        prefix = req.arg("prefix")
        if prefix:
            ids = [i for i in ids if i.startswith(prefix)]
        token = req.arg("paginationToken")
        if token:
            after = base64.b64decode(token).decode().encode()
            ids = [i for i in ids if i.encode() > after]
        limit = int(req.arg("limit") or 100)
        if not 1 <= limit <= 100:
            raise rpc(400, 3, "limit must be between 1 and 100")
        page = ids[:limit]
        out = {"vectors": [{"id": i} for i in page], "namespace": name, "usage": {"readUnits": 1}}
        if len(ids) > limit:
            out["pagination"] = {"next": base64.b64encode(page[-1].encode()).decode()}
        return out

    def query(req):
        index = data_index()
        body = req.json()
        if "topK" not in body:
            raise rpc(400, 3, "topK is required")
        vector = body.get("vector")
        if not vector or len(vector) != index["dimension"]:
            raise rpc(400, 3, f"Query vector dimension does not match the dimension of the index {index['dimension']}")
        ns = NAMESPACES.get(namespace_of(body.get("namespace")), {})
        hits = sorted(ns.values(), key=lambda v: (-score(index["metric"], vector, v["values"]), v["id"]))
        matches = []
        for v in hits[: body["topK"]]:
            s = score(index["metric"], vector, v["values"])
            m = {"id": v["id"], "score": -s if index["metric"] == "euclidean" else s}
            if body.get("includeValues"):
                m["values"] = v["values"]
            if body.get("includeMetadata") and "metadata" in v:
                m["metadata"] = v["metadata"]
            matches.append(m)
        return {"matches": matches, "namespace": namespace_of(body.get("namespace")),
                "usage": {"readUnits": 5}}

    def delete(req):
        data_index()
        body = req.json()
        ns = NAMESPACES.get(namespace_of(body.get("namespace")), {})
        if body.get("deleteAll"):
            ns.clear()
        else:
            for i in body.get("ids") or []:
                ns.pop(i, None)
        return {}

    def stats(req):
        index = data_index()
        return {
            "namespaces": {n: {"vectorCount": len(v)} for n, v in NAMESPACES.items()},
            "dimension": index["dimension"],
            "indexFullness": 0.0,
            "totalVectorCount": sum(len(v) for v in NAMESPACES.values()),
            "metric": index["metric"],
            "vectorType": index["vector_type"],
        }

    routes = [
        ("GET", r"/indexes", list_indexes),
        ("POST", r"/indexes", create_index),
        ("GET", r"/indexes/([^/]+)", describe_index),
        ("GET", r"/namespaces", list_namespaces),
        ("POST", r"/namespaces", create_namespace),
        ("GET", r"/namespaces/([^/]+)", namespace_route),
        ("DELETE", r"/namespaces/([^/]+)", namespace_route),
        ("POST", r"/vectors/upsert", upsert),
        ("GET", r"/vectors/fetch", fetch),
        ("GET", r"/vectors/list", list_ids),
        ("POST", r"/query", query),
        ("POST", r"/vectors/delete", delete),
        ("POST", r"/describe_index_stats", stats),
    ]
    return routes, auth


if __name__ == "__main__":
    # Extra options for the index this server hosts.
    extra = {"--index": None, "--dimension": "8", "--metric": "cosine"}
    for flag in list(extra):
        if flag in sys.argv:
            i = sys.argv.index(flag)
            extra[flag] = sys.argv[i + 1]
            del sys.argv[i:i + 2]

    def build_with_index(args):
        args.index = extra["--index"]
        args.dimension = int(extra["--dimension"])
        args.metric = extra["--metric"]
        return build(args)

    main("pinecone", build_with_index)
