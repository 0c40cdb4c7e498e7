#!/usr/bin/env python3
"""Qdrant stand-in: the REST endpoints vdr's qdrant plugin uses, shaped after
Qdrant's published OpenAPI reference (docs/redoc/v1.19.x/openapi.json in
qdrant/qdrant) and the behaviour recorded in SERVERS.md for Qdrant 1.19.

Modelled: collections with single or named dense vectors (size, distance,
datatype, on_disk, hnsw/quantization config kept verbatim), multivectors,
sparse vectors (returned sorted by index), payload indexes, shard_number and
replication_factor; points with integer or UUID ids; cosine vectors
normalised on upsert; scroll ordered by id (integers first, then UUIDs) with
`next_page_offset`; exact count; /points/query and /points/search (exact,
brute force); collection snapshots as an uncompressed tar, downloadable with
HTTP ranges, recoverable by multipart upload; the `api-key` header.
Not modelled: filters, consistency/ordering params, clustering, aliases.

    python3 tests/standins/qdrant.py --port 6333 [--api-key KEY]
"""

import copy
import hashlib
import io
import json
import math
import tarfile
import time
import uuid
from datetime import datetime, timezone

from _standin import Reply, f32, main

VERSION = "1.19.0"
COLLECTIONS = {}  # name -> {"config": {...}, "points": {key: point}, "payload_schema": {...}}
SNAPSHOTS = {}  # (collection, snapshot name) -> bytes
DISTANCES = {"Cosine", "Euclid", "Dot", "Manhattan"}


def ok(result, started):
    return {"result": result, "status": "ok", "time": time.time() - started}


def err(status, message):
    # Qdrant's error body: {"status": {"error": "..."}, "time": ...}
    return Reply(status, {"status": {"error": message}, "time": 0.0})


def not_found(name):
    return err(404, f"Not found: Collection `{name}` doesn't exist!")


def bad(message):
    return err(400, f"Wrong input: {message}")


def collection(name):
    c = COLLECTIONS.get(name)
    if c is None:
        raise not_found(name)
    return c


# --- ids -----------------------------------------------------------------------


def parse_id(raw):
    """A point id: an unsigned integer or a UUID (canonical lowercase form)."""
    if isinstance(raw, bool):
        raise bad(f"Unable to parse point id {raw!r}")
    if isinstance(raw, int) and raw >= 0:
        return raw
    if isinstance(raw, str):
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            pass
    raise err(400, f"Format error in JSON body: value {raw!r} is not a valid point ID, valid values are either an unsigned integer or a UUID")


def order_key(pid):
    # Qdrant orders integer ids before UUIDs.
    return (0, pid, 0) if isinstance(pid, int) else (1, 0, uuid.UUID(pid).int)


# --- vectors -------------------------------------------------------------------


def vector_params(config):
    """{name: params} of the dense (and multi) vectors; "" for the single one."""
    vectors = config["params"]["vectors"]
    if "size" in vectors:
        return {"": vectors}
    return vectors


def normalise(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [f32(x / norm) for x in v] if norm > 0 else [f32(x) for x in v]


def store_dense(name, params, data):
    size = params["size"]
    if params.get("multivector_config"):
        if not (isinstance(data, list) and data and all(isinstance(r, list) for r in data)):
            raise bad(f"Vector `{name}` must be a multivector")
        rows = []
        for r in data:
            if len(r) != size:
                raise bad(f"Vector dimension error: expected dim: {size}, got {len(r)}")
            rows.append(normalise(r) if params["distance"] == "Cosine" else [f32(x) for x in r])
        return rows
    if not isinstance(data, list) or any(isinstance(x, list) for x in data):
        raise bad(f"Vector `{name}` must be a dense vector")
    if len(data) != size:
        raise bad(f"Vector dimension error: expected dim: {size}, got {len(data)}")
    return normalise(data) if params["distance"] == "Cosine" else [f32(x) for x in data]


def store_sparse(name, data):
    indices, values = data.get("indices", []), data.get("values", [])
    if len(indices) != len(values):
        raise bad(f"Sparse vector `{name}`: indices and values differ in length")
    if len(set(indices)) != len(indices):
        raise bad(f"Sparse vector `{name}`: duplicate indices")
    pairs = sorted(zip(indices, values))  # returned sorted by index
    return {"indices": [i for i, _ in pairs], "values": [f32(v) for _, v in pairs]}


def store_vectors(c, raw):
    dense = vector_params(c["config"])
    sparse = c["config"]["params"].get("sparse_vectors") or {}
    if isinstance(raw, list):
        raw = {"": raw}
    out = {}
    for name, data in (raw or {}).items():
        if name in dense:
            out[name] = store_dense(name, dense[name], data)
        elif name in sparse:
            out[name] = store_sparse(name, data)
        else:
            raise bad(f"Not existing vector name error: {name}")
    return out


def render_vectors(c, stored):
    dense = vector_params(c["config"])
    if list(dense) == [""] and not c["config"]["params"].get("sparse_vectors"):
        return stored.get("", [])
    return copy.deepcopy(stored)


def render_point(c, p, with_payload=True, with_vector=True):
    out = {"id": p["id"]}
    if with_payload:
        out["payload"] = copy.deepcopy(p["payload"])
    if with_vector:
        out["vector"] = render_vectors(c, p["vectors"])
    return out


# --- collections ---------------------------------------------------------------

DEFAULT_HNSW = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
                "max_indexing_threads": 0, "on_disk": False}
DEFAULT_OPTIMIZER = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                     "default_segment_number": 0, "max_segment_size": None,
                     "memmap_threshold": None, "indexing_threshold": 10000,
                     "flush_interval_sec": 5, "max_optimization_threads": None}
DEFAULT_WAL = {"wal_capacity_mb": 32, "wal_segments_ahead": 0}


def check_vector_params(name, params):
    if not isinstance(params.get("size"), int) or params["size"] < 1:
        raise bad(f"Vector `{name}`: size must be a positive integer")
    if params.get("distance") not in DISTANCES:
        raise err(400, f"Format error in JSON body: unknown variant `{params.get('distance')}`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`")


def create_collection(req, name, started):
    if name in COLLECTIONS:
        raise err(409, f"Wrong input: Collection `{name}` already exists!")
    body = req.json()
    vectors = body.get("vectors")
    if vectors is None:
        vectors = {}
    for vname, params in ({"": vectors} if "size" in vectors else vectors).items():
        check_vector_params(vname, params)
    params = {
        "vectors": vectors,
        "shard_number": body.get("shard_number") or 1,
        "replication_factor": body.get("replication_factor") or 1,
        "write_consistency_factor": body.get("write_consistency_factor") or 1,
        "on_disk_payload": body.get("on_disk_payload", True),
    }
    if body.get("sparse_vectors"):
        params["sparse_vectors"] = body["sparse_vectors"]
    config = {
        "params": params,
        "hnsw_config": {**DEFAULT_HNSW, **(body.get("hnsw_config") or {})},
        "optimizer_config": {**DEFAULT_OPTIMIZER, **(body.get("optimizers_config") or {})},
        "wal_config": {**DEFAULT_WAL, **(body.get("wal_config") or {})},
        "quantization_config": body.get("quantization_config"),
    }
    COLLECTIONS[name] = {"config": config, "points": {}, "payload_schema": {}}
    return ok(True, started)


def collection_info(name, started):
    c = collection(name)
    schema = {f: {**s, "points": sum(1 for p in c["points"].values() if f in p["payload"])}
              for f, s in c["payload_schema"].items()}
    return ok({
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": 0,
        "points_count": len(c["points"]),
        "segments_count": 1,
        "config": copy.deepcopy(c["config"]),
        "payload_schema": schema,
    }, started)


# --- search ----------------------------------------------------------------------


def score(distance, a, b):
    if distance in ("Cosine", "Dot"):
        return sum(x * y for x, y in zip(a, b))
    if distance == "Euclid":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    return sum(abs(x - y) for x, y in zip(a, b))


def search(c, using, query, limit, with_payload=False, with_vector=False):
    dense = vector_params(c["config"])
    if using not in dense:
        raise bad(f"Not existing vector name error: {using}")
    params = dense[using]
    if params.get("multivector_config"):
        raise bad("multivector search is not modelled by the stand-in")
    query = store_dense(using, params, query)
    distance = params["distance"]
    hits = []
    for p in c["points"].values():
        v = p["vectors"].get(using)
        if v is not None:
            hits.append((score(distance, query, v), p))
    # Similarities: larger first; distances (Euclid, Manhattan): smaller first.
    hits.sort(key=lambda h: (-h[0] if distance in ("Cosine", "Dot") else h[0], order_key(h[1]["id"])))
    out = []
    for s, p in hits[:limit]:
        r = render_point(c, p, with_payload, with_vector)
        r["version"] = p["version"]
        r["score"] = s
        out.append(r)
    return out


# --- snapshots ---------------------------------------------------------------------


def snapshot_bytes(name, c):
    """An uncompressed tar, like Qdrant's collection snapshots: config.json,
    version.info and (the stand-in's own) points.jsonl."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("config.json", json.dumps(c["config"]).encode())
        add("version.info", b"1.19.0")
        add("payload_index.json", json.dumps(c["payload_schema"]).encode())
        lines = "".join(json.dumps(p) + "\n" for p in c["points"].values())
        add("0/segments/points.jsonl", lines.encode())
    return buf.getvalue()


def restore_snapshot(data):
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            def read(path):
                return tar.extractfile(path).read()
            config = json.loads(read("config.json"))
            schema = json.loads(read("payload_index.json"))
            points = {}
            for line in read("0/segments/points.jsonl").decode().splitlines():
                p = json.loads(line)
                points[json.dumps(p["id"])] = p
    except (tarfile.TarError, KeyError, ValueError) as e:
        raise err(400, f"Bad request: Failed to read snapshot: {e}") from e
    return {"config": config, "points": points, "payload_schema": schema}


def multipart_field(req, field):
    ctype = req.headers.get("content-type", "")
    if "boundary=" not in ctype:
        raise bad("expected multipart/form-data with a boundary")
    boundary = ctype.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
    for part in req.raw.split(b"--" + boundary):
        head, sep, body = part.partition(b"\r\n\r\n")
        if sep and f'name="{field}"'.encode() in head:
            return body[:-2] if body.endswith(b"\r\n") else body
    raise bad(f"multipart field `{field}` is missing")


# --- routes ----------------------------------------------------------------------------


def build(args):
    def auth(req):
        if args.api_key is None:
            return
        key = req.headers.get("api-key")
        bearer = req.headers.get("authorization", "")
        if key is None and not bearer.startswith("Bearer "):
            raise Reply(401, "Must provide an API key or an Authorization bearer token", "text/plain")
        if key != args.api_key and bearer != f"Bearer {args.api_key}":
            raise Reply(401, "Invalid API key or JWT", "text/plain")

    def root(req):
        return {"title": "qdrant - vector search engine", "version": VERSION, "commit": "stand-in"}

    def list_collections(req):
        t = time.time()
        return ok({"collections": [{"name": n} for n in sorted(COLLECTIONS)]}, t)

    def collection_route(req, name):
        t = time.time()
        if req.method == "PUT":
            return create_collection(req, name, t)
        if req.method == "DELETE":
            # Deleting an absent collection is not an error: result false.
            return ok(COLLECTIONS.pop(name, None) is not None, t)
        return collection_info(name, t)

    def exists(req, name):
        return ok({"exists": name in COLLECTIONS}, time.time())

    def create_index(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        field, kind = body.get("field_name"), body.get("field_schema")
        if not field or not kind:
            raise bad("field_name and field_schema are required")
        if isinstance(kind, dict):
            c["payload_schema"][field] = {"data_type": kind.get("type"), "params": kind}
        else:
            c["payload_schema"][field] = {"data_type": kind}
        return ok({"operation_id": 0, "status": "completed"}, t)

    def upsert(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        if "points" in body:
            batch = body["points"]
        else:  # the batch form: {"batch": {"ids": [], "vectors": ..., "payloads": []}}
            raise bad("only the list form of upsert is modelled")
        staged = []
        for raw in batch:
            pid = parse_id(raw.get("id"))
            vectors = store_vectors(c, raw.get("vector"))
            payload = raw.get("payload") or {}
            if not isinstance(payload, dict):
                raise bad("payload must be a JSON object")
            staged.append((pid, vectors, payload))
        for pid, vectors, payload in staged:
            c["version"] = c.get("version", 0) + 1
            c["points"][json.dumps(pid)] = {"id": pid, "vectors": vectors, "payload": payload,
                                            "version": c["version"]}
        return ok({"operation_id": c.get("version", 0), "status": "completed"}, t)

    def retrieve(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        out = []
        for raw in body.get("ids", []):
            p = c["points"].get(json.dumps(parse_id(raw)))
            if p is not None:
                out.append(render_point(c, p, body.get("with_payload", True) is not False,
                                        body.get("with_vector", False) is not False))
        return ok(out, t)

    def delete_points(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        if "points" not in body:
            raise bad("only deletion by a list of ids is modelled")
        for raw in body["points"]:
            c["points"].pop(json.dumps(parse_id(raw)), None)
        return ok({"operation_id": 0, "status": "completed"}, t)

    def scroll(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        if body.get("filter") or body.get("order_by"):
            raise bad("filter and order_by are not modelled by the stand-in")
        limit = body.get("limit") or 10
        ordered = sorted(c["points"].values(), key=lambda p: order_key(p["id"]))
        if body.get("offset") is not None:
            start = order_key(parse_id(body["offset"]))
            ordered = [p for p in ordered if order_key(p["id"]) >= start]
        page = ordered[:limit]
        nxt = ordered[limit]["id"] if len(ordered) > limit else None
        wp = body.get("with_payload", True) is not False
        wv = body.get("with_vector", False) is not False
        return ok({"points": [render_point(c, p, wp, wv) for p in page],
                   "next_page_offset": nxt}, t)

    def count(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        if body.get("filter"):
            raise bad("filters are not modelled by the stand-in")
        return ok({"count": len(c["points"])}, t)

    def search_route(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        vector = body.get("vector")
        using = ""
        if isinstance(vector, dict):
            using, vector = vector.get("name", ""), vector.get("vector")
        return ok(search(c, using, vector, body.get("limit", 10),
                         body.get("with_payload", False) is not False,
                         body.get("with_vector", False) is not False), t)

    def query_route(req, name):
        t = time.time()
        c = collection(name)
        body = req.json()
        query = body.get("query")
        if isinstance(query, dict) and "nearest" in query:
            query = query["nearest"]
        if not isinstance(query, list):
            raise bad("only a dense nearest query is modelled by the stand-in")
        points = search(c, body.get("using") or "", query, body.get("limit", 10),
                        body.get("with_payload", False) is not False,
                        body.get("with_vector", False) is not False)
        return ok({"points": points}, t)

    def create_snapshot(req, name):
        t = time.time()
        c = collection(name)
        data = snapshot_bytes(name, c)
        now = datetime.now(timezone.utc)
        snap = f"{name}-{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4().hex[:8]}.snapshot"
        SNAPSHOTS[(name, snap)] = data
        return ok({"name": snap, "creation_time": now.strftime("%Y-%m-%dT%H:%M:%S"),
                   "size": len(data), "checksum": hashlib.sha256(data).hexdigest()}, t)

    def list_snapshots(req, name):
        t = time.time()
        collection(name)
        return ok([{"name": s, "creation_time": None, "size": len(d),
                    "checksum": hashlib.sha256(d).hexdigest()}
                   for (c, s), d in SNAPSHOTS.items() if c == name], t)

    def snapshot_route(req, name, snap):
        t = time.time()
        data = SNAPSHOTS.get((name, snap))
        if data is None:
            raise err(404, f"Not found: Snapshot file `{snap}` does not exist!")
        if req.method == "DELETE":
            del SNAPSHOTS[(name, snap)]
            return ok(True, t)
        rng = req.headers.get("range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            first = int(first)
            last = min(int(last) if last else len(data) - 1, len(data) - 1)
            if first >= len(data):
                return Reply(416, b"", "application/octet-stream",
                             {"content-range": f"bytes */{len(data)}"})
            return Reply(206, data[first:last + 1], "application/octet-stream",
                         {"content-range": f"bytes {first}-{last}/{len(data)}",
                          "accept-ranges": "bytes"})
        return Reply(200, data, "application/octet-stream", {"accept-ranges": "bytes"})

    def upload_snapshot(req, name):
        t = time.time()
        data = multipart_field(req, "snapshot")
        want = req.arg("checksum")
        if want and hashlib.sha256(data).hexdigest() != want:
            raise bad("Snapshot checksum mismatch")
        COLLECTIONS[name] = restore_snapshot(data)
        return ok(True, t)

    c = r"/collections/([^/]+)"
    routes = [
        ("GET", r"/", root),
        ("GET", r"/collections", list_collections),
        ("GET", c, collection_route),
        ("PUT", c, collection_route),
        ("DELETE", c, collection_route),
        ("GET", c + r"/exists", exists),
        ("PUT", c + r"/index", create_index),
        ("PUT", c + r"/points", upsert),
        ("POST", c + r"/points", retrieve),
        ("POST", c + r"/points/delete", delete_points),
        ("POST", c + r"/points/scroll", scroll),
        ("POST", c + r"/points/count", count),
        ("POST", c + r"/points/search", search_route),
        ("POST", c + r"/points/query", query_route),
        ("POST", c + r"/snapshots/upload", upload_snapshot),
        ("POST", c + r"/snapshots", create_snapshot),
        ("GET", c + r"/snapshots", list_snapshots),
        ("GET", c + r"/snapshots/([^/]+)", snapshot_route),
        ("DELETE", c + r"/snapshots/([^/]+)", snapshot_route),
    ]
    return routes, auth


if __name__ == "__main__":
    main("qdrant", build)
