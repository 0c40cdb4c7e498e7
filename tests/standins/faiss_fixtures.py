#!/usr/bin/env python3
"""Faiss fixtures for vdr's faiss plugin tests, written by real faiss-cpu.

    faiss_fixtures.py write DIR            index files of several kinds into DIR
    faiss_fixtures.py search FILE K        load FILE with faiss, search the fixed
                                           queries, print {"ids", "distances"} as JSON
    faiss_fixtures.py vectors FILE         print {"ids", "vectors"} of a flat,
                                           id-map or HNSW-flat index as JSON
                                           (float32 bit patterns as integers)

Vectors and queries are deterministic (fixed seeds), so two processes agree.
"""

import json
import sys

import faiss
import numpy as np

DIM = 16
N = 300


def data(seed, n):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(8, DIM)).astype("float32") * 4
    points = centers[rng.integers(0, 8, n)] + rng.normal(size=(n, DIM)).astype("float32")
    return np.ascontiguousarray(points, dtype="float32")


def queries():
    return data(99, 10)


def write(directory):
    xb = data(1, N)
    faiss.write_index(faiss.IndexFlatL2(DIM), f"{directory}/empty_l2.index")
    flat = faiss.IndexFlatL2(DIM)
    flat.add(xb)
    faiss.write_index(flat, f"{directory}/flat_l2.index")
    ip = faiss.IndexFlatIP(DIM)
    ip.add(xb)
    faiss.write_index(ip, f"{directory}/flat_ip.faissindex")
    idmap = faiss.IndexIDMap(faiss.IndexFlatL2(DIM))
    idmap.add_with_ids(xb, np.arange(N, dtype="int64") * 7 + 1000)
    faiss.write_index(idmap, f"{directory}/idmap.index")
    hnsw = faiss.IndexHNSWFlat(DIM, 8)
    hnsw.add(xb)
    faiss.write_index(hnsw, f"{directory}/hnsw.index")
    quantizer = faiss.IndexFlatL2(DIM)
    ivfpq = faiss.IndexIVFPQ(quantizer, DIM, 4, 4, 4)
    ivfpq.train(data(2, 1000))
    ivfpq.add(xb)
    faiss.write_index(ivfpq, f"{directory}/ivfpq.index")


def search(path, k):
    index = faiss.read_index(path)
    distances, ids = index.search(queries(), k)
    print(json.dumps({"ids": ids.tolist(), "distances": distances.tolist()}))


def vectors(path):
    index = faiss.read_index(path)
    inner, ids = index, None
    if isinstance(index, faiss.IndexIDMap):
        inner = faiss.downcast_index(index.index)
        ids = faiss.vector_to_array(index.id_map).tolist()
    xs = inner.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, DIM), "float32")
    if ids is None:
        ids = list(range(index.ntotal))
    bits = np.ascontiguousarray(xs, dtype="float32").view("uint32").tolist()
    print(json.dumps({"ids": ids, "vectors": bits, "metric": int(index.metric_type)}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "write":
        write(sys.argv[2])
    elif mode == "search":
        search(sys.argv[2], int(sys.argv[3]))
    elif mode == "vectors":
        vectors(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode}")
