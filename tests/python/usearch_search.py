"""Open a .usearch file with PyPI usearch's own loader and search it.

usage: usearch_search.py INDEX_FILE K  (query vector as a JSON list on stdin)
prints {"size": N, "dimensions": D, "keys": [...]} (nearest first)
"""
import json
import sys

import numpy as np
from usearch.index import Index

path, k = sys.argv[1], int(sys.argv[2])
index = Index.restore(path)
if index is None:
    sys.exit(f"usearch could not restore {path}")
query = np.array(json.load(sys.stdin), dtype=np.float32)
matches = index.search(query, k)
print(json.dumps({"size": len(index), "dimensions": index.ndim, "keys": [int(x) for x in matches.keys]}))
