"""An mcdiag check from outside mcdiag: a cluster has at least two Ready nodes (a gateway and a worker)."""

from __future__ import annotations

from mcdiag.facts.objects import meta, node_ready
from mcdiag.gather import resources as R
from mcdiag.model import Check, CheckContext, Outcome

__all__ = ["ReadyNodes"]


class ReadyNodes(Check):
    """The cluster has at least two Ready nodes, so a gateway and a non-gateway node can be probed."""

    id = "ready-nodes"
    title = "Enough Ready nodes"
    tags = frozenset({"preflight", "passive"})
    reads = (R.NODES,)
    hint = "Add a node or make the NotReady ones Ready (kubectl describe node NAME) so a gateway and a worker exist."
    docs = "https://kubernetes.io/docs/concepts/architecture/nodes/#condition"

    def run(self, ctx: CheckContext) -> Outcome:
        nodes = ctx.cluster.list(R.NODES)
        ready = sorted(meta(n).get("name", "?") for n in nodes if node_ready(n))
        not_ready = sorted(meta(n).get("name", "?") for n in nodes if not node_ready(n))
        if len(ready) >= 2:
            return self.passed(f"{len(ready)} Ready node(s): {', '.join(ready)}", ready=ready, not_ready=not_ready)
        if ready:
            return self.warn(f"only {ready[0]} is Ready" + (f" ({', '.join(not_ready)} not)" if not_ready else ""),
                             ready=ready, not_ready=not_ready)
        return self.fail(f"no Ready node among {len(nodes)}", ready=ready, not_ready=not_ready)
