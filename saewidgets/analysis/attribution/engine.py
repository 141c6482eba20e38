"""`sw.attribute`: an attribution graph of one prompt, from injected-gradient rows.

The frozen replacement model (`frozen.py`) is linear from every dictionary write to the next
reads, so one backward pass per target gives that target's edges from *all* sources:

    A[t, s] = ⟨write vector of s, ∂(read of t) / ∂(write site of s)⟩

Targets are batched over copies of the prompt (one target per copy). Rows are computed for the
logit targets first, then for features in order of their influence on what is already known,
until the feature budget is spent. Features never visited are folded into their site's error
node, so every row still sums exactly to its target's value (minus bias terms).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.attribution.assemble import assemble
from saewidgets.analysis.attribution.frozen import Dictionary, FrozenModel
from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.replacement import BUILD_KEYS, ReplacementContext, SiteNodes
from saewidgets.analysis.attribution.targets import FINAL, Target, TargetError, logit_targets
from saewidgets.analysis.inputs import SAEInput, saes_by_site
from saewidgets.analysis.logit_lens import unembedding
from saewidgets.analysis.stats import sae_fingerprint
from saewidgets.core.aliases import renamed
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.module import SAE, SAEConfigError

LINEAR_INPUT_NORMS = ("none", "expected_average_only_in")


class AttributionError(SAEWidgetsError, ValueError):
    """Bad input to `attribute`; the message says what was wrong and what is allowed."""


# -- input checks ---------------------------------------------------------------------------------


SAE_HASHES = "saew_sae_hashes"  # metadata key: {site: fingerprint of the SAE read/written there}


def _model_key(name: str) -> str:
    return str(name).rstrip("/").split("/")[-1].lower()


def default_dictionaries(model: Model) -> dict:
    """What ``attribute(model, prompt)`` decomposes when no SAEs are given: on the embedded
    model, its transcoders at every layer once built, else the shipped residual SAEs (with a
    warning: residual SAEs at five sites leave most of the influence in error nodes)."""
    from saewidgets.sae.load import load_saes
    from saewidgets.sae.transcoders import BUILD_COMMAND, EMBEDDED_MODEL, load_transcoders

    if model.name != EMBEDDED_MODEL:
        raise AttributionError(
            f"{model.name} has no default dictionaries: pass saes= (transcoders or SAEs of "
            "this model, e.g. sw.load_transcoders(folder))"
        )
    try:
        return load_transcoders()
    except SAEFormatError:
        warnings.warn(
            "the embedded model's transcoders are not built here, so this graph uses the "
            "shipped residual SAEs (most influence stays in error nodes); "
            f"`{BUILD_COMMAND}` builds transcoders for every layer",
            stacklevel=4,
        )
        return load_saes()


def dictionaries(model: Model, saes: SAEInput) -> list[Dictionary]:
    """Resolve ``saes`` (any form `saes_by_site` takes) into read/write points, in stream order."""
    if saes is None:
        saes = default_dictionaries(model)
    try:
        by_site = saes_by_site(saes, model)  # the checks every entry point shares
    except (SAEConfigError, TypeError) as error:  # a bad site stays a SiteError
        raise AttributionError(str(error)) from error
    out, seen = [], set()
    for site, sae in by_site.items():
        d = _dictionary(model, site, sae)
        if d.write.name in seen:
            raise AttributionError(f"two dictionaries write to {d.write.name}; give one per site")
        seen.add(d.write.name)
        out.append(d)
    return sorted(out, key=lambda d: d.write.order)


def _dictionary(model: Model, site: str, sae: SAE) -> Dictionary:
    """What attribution needs beyond the shared checks: SAEs of this model, linear input
    scaling, transcoders writing downstream of what they read."""
    trained_on = sae.metadata.get("model_name")
    if trained_on and _model_key(trained_on) != _model_key(model.name):
        raise AttributionError(
            f"the SAE for {site} was trained on {trained_on!r}, not on {model.name!r}; "
            "attribution needs SAEs of the model being traced"
        )
    if sae.normalize_activations not in LINEAR_INPUT_NORMS:
        raise AttributionError(
            f"the SAE for {site} normalises each token's input "
            f"({sae.normalize_activations!r}), which is not linear; "
            f"allowed: {LINEAR_INPUT_NORMS}"
        )
    read = model.site(site)
    if not sae.is_transcoder:
        return Dictionary(sae, read, read)
    if sae.site_out is None:
        raise AttributionError(f"the transcoder reading {site} has no output site")
    write = model.site(sae.site_out)
    width = model.site_width(write.name)
    if sae.d_out != width:
        raise AttributionError(
            f"the transcoder reading {site} writes d_out={sae.d_out}, but {write.name} of "
            f"{model.name} is {width} wide"
        )
    if write.order <= read.order:
        raise AttributionError(f"transcoder output {write.name} must come after {site}")
    return Dictionary(sae, read, write)


def memory_estimate(
    model: Model, n_tokens: int, n_sites: int, batch_size: int, max_feature_nodes: int
) -> float:
    """Rough peak bytes for a prompt of ``n_tokens``: the retained forward graph of
    ``batch_size`` prompt copies plus the dense rows kept while visiting features."""
    text = model.config.get_text_config()
    width = int(getattr(text, "intermediate_size", 4 * model.d_model) or 4 * model.d_model)
    per_layer = batch_size * n_tokens * (12 * model.d_model + 4 * width) * 4
    rows = (max_feature_nodes + 16) * (n_sites * n_tokens * 64 + n_tokens * (n_sites + 1)) * 4
    return per_layer * model.n_layers + rows


def _tokens(model: Model, prompt: str, limit: int, n_sites: int, batch: int, budget: int):
    if not isinstance(prompt, str) or not prompt.strip():
        raise AttributionError("the prompt must be a non-empty string")
    ids = model.encode(prompt)
    if len(ids) > limit:
        need = attribution_memory(model, len(ids), n_sites, batch, budget)
        raise AttributionError(
            f"the prompt is {len(ids)} tokens; the limit is window={limit}. "
            f"Raising it costs memory: {need}"
        )
    return torch.tensor([ids], device=model.device)


# -- per-site bookkeeping ----------------------------------------------------------------------


def _site_nodes(
    d: Dictionary, read: torch.Tensor, write: torch.Tensor, content: torch.Tensor
) -> SiteNodes:
    sae, scale = d.sae, d.scale
    x = read.to(sae.dtype)
    with torch.no_grad():
        feats = sae.encode(x)
        pre_all = sae.pre_activations(x * scale)
        recon = sae.decode(feats) / scale
    active = (feats != 0) & content[:, None]
    pos, feat = torch.nonzero(active, as_tuple=True)
    act = feats[pos, feat]
    w_dec = sae.W_dec.detach()
    return SiteNodes(
        d,
        pos,
        feat,
        act.float(),
        pre_all[pos, feat].float(),
        (act[:, None] * w_dec[feat] / scale).float(),
        (sae.W_enc.detach()[:, feat].T * scale).float(),
        (write.to(sae.dtype) - recon).float(),
        write.float(),
    )


# -- the engine --------------------------------------------------------------------------------


class _RowComputer:
    """Holds the batched frozen forward pass and turns target batches into edge rows."""

    def __init__(
        self, frozen: FrozenModel, ids, sites: list[SiteNodes], embed: torch.Tensor, batch_size: int
    ):
        self.sites = sites
        self.batch = batch_size
        self.seq = ids.shape[1]
        self.embed = embed
        expand = lambda v: v[None].expand(batch_size, *v.shape).clone().requires_grad_(True)  # noqa: E731
        self.leaves = {"embed": expand(embed)}
        for s in sites:
            self.leaves[s.dictionary.write.name] = expand(s.write_value)
        self.reads = frozen.replay(ids.expand(batch_size, -1), self.leaves, grad=True)
        n_feat = sum(len(s.pos) for s in sites)
        self.feature_offsets = np.cumsum([0] + [len(s.pos) for s in sites])
        self.n_features = n_feat
        self.n_cols = n_feat + len(sites) * self.seq + self.seq

    def error_col(self, k: int, pos: int) -> int:
        return self.n_features + k * self.seq + pos

    def token_col(self, pos: int) -> int:
        return self.n_features + len(self.sites) * self.seq + pos

    def rows(self, targets: list[tuple[str, int, torch.Tensor]]) -> torch.Tensor:
        """Edge rows [len(targets), n_cols] for (read point, position, read vector) targets."""
        out = []
        for start in range(0, len(targets), self.batch):
            chunk = targets[start : start + self.batch]
            inject: dict[str, torch.Tensor] = {}
            for b, (read, pos, vec) in enumerate(chunk):
                if read not in inject:
                    inject[read] = torch.zeros_like(self.reads[read])
                inject[read][b, pos] = vec.to(inject[read].dtype)
            names = ["embed"] + [s.dictionary.write.name for s in self.sites]
            grads = torch.autograd.grad(
                [self.reads[r] for r in inject],
                [self.leaves[n] for n in names],
                list(inject.values()),
                retain_graph=True,
                allow_unused=True,
            )
            row = torch.zeros(self.batch, self.n_cols)
            with torch.no_grad():
                g_embed = grads[0]
                if g_embed is not None:
                    row[:, self.token_col(0) :] = torch.einsum(
                        "btd,td->bt", g_embed.float(), self.embed.float()
                    )
                for k, (s, g) in enumerate(zip(self.sites, grads[1:], strict=True)):
                    if g is None:
                        continue
                    g = g.float()
                    lo, hi = self.feature_offsets[k], self.feature_offsets[k + 1]
                    row[:, lo:hi] = torch.einsum("bnd,nd->bn", g[:, s.pos, :], s.write_vecs)
                    e0 = self.error_col(k, 0)
                    row[:, e0 : e0 + self.seq] = torch.einsum("btd,td->bt", g, s.error)
            out.append(row[: len(chunk)])
        return torch.cat(out) if out else torch.zeros(0, self.n_cols)


def _partial_influence(
    rows: torch.Tensor, row_cols: list[int], weights: list[float], n_cols: int, depth: int
) -> torch.Tensor:
    """Influence of every column given the rows computed so far (targets first in ``rows``)."""
    norm = rows.abs()
    norm = norm / norm.sum(1, keepdim=True).clamp_min(1e-30)
    n_targets = len(weights)
    x = torch.zeros(rows.shape[0])
    x[:n_targets] = torch.tensor(weights)
    feature_rows = torch.tensor(row_cols[n_targets:], dtype=torch.long)
    total = torch.zeros(n_cols)
    for _ in range(depth):
        y = x @ norm
        if not bool(y.any()):
            break
        total += y
        x = torch.zeros(rows.shape[0])
        if len(feature_rows):
            x[n_targets:] = y[feature_rows]
    return total


@renamed(max_prompt_tokens="window")
def attribute(
    model: Model,
    prompt: str,
    saes=None,
    target=None,
    *,
    max_feature_nodes: int = 2000,
    batch_size: int = 32,
    max_n_logits: int = 10,
    desired_logit_prob: float = 0.95,
    window: int = 64,
    update_interval: int = 4,
    progress: bool = True,
    on_progress: Callable[[float], None] | None = None,
) -> AttributionGraph:
    """Attribution graph of ``prompt``: which features, tokens and error terms drive the target.

    ``saes``: SAEs (or transcoders) at the sites to decompose; an SAE, a list or {site: SAE}.
    None: on the embedded model, its transcoders at every layer (`sw.load_transcoders`) once
    built, else the shipped residual SAEs.
    ``target``: None (the top next-token logits covering ``desired_logit_prob``, at most
    ``max_n_logits``), a token or list of tokens (text or id), a pair ``(A, B)`` for the logit
    difference A − B, or ``(site, feature)`` / ``(site, feature, position)`` for a feature's
    pre-activation. Edges are exact direct effects in the local replacement model (attention
    patterns, norm scales and MLP gates frozen; SAE errors as nodes).

    ``max_feature_nodes``: how many features get rows of their own (visited by influence); the
    rest are folded into their error nodes. ``batch_size``: prompt copies per backward batch
    (each copy carries one target's gradient; memory grows with it). ``window``: the longest
    prompt accepted, in tokens (``max_prompt_tokens=`` is its deprecated old name);
    `attribution_memory` estimates the cost of a longer one. ``update_interval``: batches
    between re-rankings of the features still to visit. ``on_progress(fraction)`` is called
    after each batch of feature rows (an exception it raises, such as a cancellation, stops
    the build there).

    The graph's ``context`` is the `ReplacementContext` it was built with (the model and the
    frozen replacement model, for ``graph.intervene`` and `GraphView`); it is not serialised.
    """
    for name, value in (
        ("max_feature_nodes", max_feature_nodes),
        ("batch_size", batch_size),
        ("window", window),
        ("update_interval", update_interval),
    ):
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < (0 if name == "max_feature_nodes" else 1)
        ):
            raise AttributionError(f"{name} must be a positive integer, got {value!r}")
    if model.remote is True:
        raise AttributionError("attribution runs the model locally; NDIF cannot run its hooks")
    started = time.perf_counter()
    dicts = dictionaries(model, saes)
    ids = _tokens(model, prompt, window, len(dicts), batch_size, max_feature_nodes)
    seq = ids.shape[1]
    frozen = FrozenModel(model, dicts)
    with model.generation_lock:
        reads, writes = frozen.record(ids)
        with torch.no_grad():
            logits = model.hf_model(input_ids=ids, use_cache=False).logits[0, -1].float().cpu()
        content = model.content_mask(ids.cpu())[0].to(ids.device)
        sites = [_site_nodes(d, reads[d.read.name], writes[d.write.name], content) for d in dicts]
        targets = _targets(
            model, target, sites, reads, logits, seq, max_n_logits, desired_logit_prob
        )
        rc = _RowComputer(frozen, ids, sites, writes["embed"].float(), batch_size)
        rows, row_cols = _visit(
            rc,
            sites,
            targets,
            max_feature_nodes,
            update_interval,
            batch_size,
            progress,
            on_progress,
        )
    graph, node_index = assemble(
        model,
        prompt,
        ids,
        sites,
        targets,
        rows,
        row_cols,
        rc.feature_offsets,
        settings={
            "max_feature_nodes": max_feature_nodes,
            "batch_size": batch_size,
            "max_n_logits": max_n_logits,
            "desired_logit_prob": desired_logit_prob,
            "update_interval": update_interval,
        },
    )
    build = {k: graph.metadata[k] for k in BUILD_KEYS}
    graph.context = ReplacementContext(
        model, frozen, sites, ids, rc.embed, targets, node_index, build
    )
    graph.metadata["seconds"] = round(time.perf_counter() - started, 3)
    # Saved with the graph, so statistics given to a view of the loaded graph can be checked.
    graph.metadata[SAE_HASHES] = {
        name: sae_fingerprint(d.sae) for d in dicts for name in (d.read.name, d.write.name)
    }
    return graph


def _targets(
    model, spec, sites, reads, logits, seq, max_n_logits, desired_logit_prob
) -> list[Target]:
    is_feature = (
        isinstance(spec, tuple)
        and len(spec) in (2, 3)
        and isinstance(spec[0], str)
        and (spec[0].startswith("blocks.") and isinstance(spec[1], int))
    )
    if not is_feature:
        unembed = unembedding(model)
        found = logit_targets(
            model, logits, unembed, spec, seq - 1, max_n_logits, desired_logit_prob
        )
        final = reads[FINAL][seq - 1].float().cpu()
        for t in found:
            t.value = float(final @ t.vector)
            t.vector = t.vector.to(model.device)
        return found
    site, feature = spec[0], spec[1]
    pos = spec[2] if len(spec) == 3 else seq - 1
    match = [s for s in sites if s.dictionary.write.name == site or s.dictionary.read.name == site]
    if not match:
        raise TargetError(
            f"no SAE at {site!r}; feature targets can use: "
            f"{[s.dictionary.write.name for s in sites]}"
        )
    s = match[0]
    sae = s.dictionary.sae
    if not 0 <= feature < sae.d_sae:
        raise TargetError(f"feature {feature} is out of range 0..{sae.d_sae - 1} for {site}")
    if not isinstance(pos, int) or not -seq <= pos < seq:
        raise TargetError(f"position {pos} is outside the prompt's {seq} tokens")
    pos %= seq
    scale = s.dictionary.scale
    vec = (sae.W_enc.detach()[:, feature] * scale).float()
    with torch.no_grad():
        value = float(
            sae.pre_activations(reads[s.dictionary.read.name][pos : pos + 1].to(sae.dtype) * scale)[
                0, feature
            ]
        )
    return [
        Target(
            "feature",
            s.dictionary.read.name,
            pos,
            vec,
            1.0,
            f"#{feature} @ {pos}",
            site=s.dictionary.write.name,
            feature=feature,
            value=value,
        )
    ]


def _visit(
    rc: _RowComputer, sites, targets, budget, update_interval, batch_size, progress, on_progress
):
    """Rows for the targets, then for features in influence order until the budget is spent."""
    depth = len(sites) + 2
    rows = rc.rows([(t.read, t.pos, t.vector) for t in targets])
    row_cols: list[int] = [-1] * len(targets)
    weights = [t.weight for t in targets]
    visited = np.zeros(rc.n_features, dtype=bool)
    # A feature target excludes its own site and later ones: only upstream features are sources.
    budget = min(budget, rc.n_features)
    site_of = np.repeat(np.arange(len(sites)), np.diff(rc.feature_offsets))
    with tqdm(total=budget, desc="attribution rows", unit="feature", disable=not progress) as bar:
        while visited.sum() < budget:
            infl = _partial_influence(rows, row_cols, weights, rc.n_cols, depth)[
                : rc.n_features
            ].numpy()
            infl[visited] = -1
            order = np.argsort(-infl, kind="stable")
            take = [
                int(c)
                for c in order[: min(update_interval * batch_size, budget - int(visited.sum()))]
                if infl[c] > 0
            ]
            if not take:
                break  # nothing left reaches the targets
            take.sort(key=lambda c: (site_of[c], c))  # one read site per batch where possible
            batch = []
            for c in take:
                k = int(site_of[c])
                s = sites[k]
                i = c - rc.feature_offsets[k]
                batch.append(
                    (s.dictionary.read.name, int(s.pos[i]), s.read_vecs[i].to(rc.embed.device))
                )
            rows = torch.cat([rows, rc.rows(batch)])
            row_cols += take
            visited[take] = True
            bar.update(len(take))
            if on_progress is not None:
                on_progress(float(visited.sum()) / max(1, budget))
    return rows, row_cols


@renamed(n_tokens="window")
def attribution_memory(
    model: Model,
    window: int,
    n_sites: int = 5,
    batch_size: int = 32,
    max_feature_nodes: int = 2000,
) -> str:
    """A human-readable estimate of `attribute`'s peak memory for a prompt of ``window``
    tokens, ``n_sites`` dictionaries and ``batch_size`` prompt copies per backward batch
    (``n_tokens=`` is the deprecated old name of ``window``)."""
    gib = memory_estimate(model, window, n_sites, batch_size, max_feature_nodes) / 2**30
    return f"≈{gib:.2f} GiB for {window} tokens, {n_sites} sites, batch {batch_size}"
