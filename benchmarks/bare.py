"""The floor: a bare HTTPS client fetching exactly the requests mcdiag made, nothing else.

    python benchmarks/bare.py PLAN.json

PLAN is ``{"clusters": [{"server", "ca", "token", "requests": [{"path", "query", "accept", "pages"}]}]}``
(first pages only; continue tokens are followed as the server hands them out, up to the
``pages`` mcdiag read: a limited query is one page, whatever the server offers after it). Each
cluster is fetched concurrently with up to 8 requests at a time, as mcdiag's view does,
and every page is decoded (``json.loads``) and dropped. Prints one JSON line: requests
and bytes per cluster. The harness measures its wall time, CPU and peak RSS.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import urllib3

WORKERS = 8


def fetch_cluster(cluster: dict) -> dict:
    ctx = ssl.create_default_context(cadata=cluster["ca"])
    pool = urllib3.PoolManager(maxsize=WORKERS, ssl_context=ctx, retries=False, timeout=urllib3.Timeout(connect=5, read=300))
    counts = {"requests": 0, "bytes": 0}
    lock = threading.Lock()

    def one(req: dict) -> None:
        query = dict(req.get("query") or {})
        left = int(req.get("pages") or 1 << 30)
        while True:
            left -= 1
            url = cluster["server"] + req["path"] + (f"?{urlencode(query)}" if query else "")
            headers = {"Authorization": f"Bearer {cluster['token']}", "Accept": req.get("accept") or "application/json"}
            resp = pool.request("GET", url, headers=headers, preload_content=True)
            body = resp.data
            with lock:
                counts["requests"] += 1
                counts["bytes"] += len(body)
            data = json.loads(body) if body[:1] in (b"{", b"[") else None
            token = ((data or {}).get("metadata") or {}).get("continue") if isinstance(data, dict) else None
            if not token or left <= 0:
                return
            query["continue"] = token

    with ThreadPoolExecutor(max_workers=WORKERS) as ex:
        list(ex.map(one, cluster["requests"]))
    return counts


def main(path: str) -> int:
    plan = json.loads(open(path, encoding="utf-8").read())
    with ThreadPoolExecutor(max_workers=len(plan["clusters"]) or 1) as ex:
        results = list(ex.map(fetch_cluster, plan["clusters"]))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
