"""The posterior over a photo's patches, exact and over candidates (docs/method.md §9).

With the prior "every clean k×k patch is one of the photo's", the denoiser's estimate for a
noisy patch q at step t is the softmax-weighted mean

    w_i ∝ exp(−‖q − sqrt(ᾱ_t)·k_i‖² / (2(1 − ᾱ_t))) · π(i),    E[value | q] = Σ_i w_i·value_i

`posterior_mean` sums over every patch (the coarsest scale); `refine_and_average` and its two
halves over a few candidates per pixel (the finer scales and the detail scales). Both expand
the distance the same way (`logit_scale`, `key_bias`): ‖q‖² is the same for every i and drops
out, so a logit is one dot product plus a per-key bias.
"""

from __future__ import annotations

import math

import torch

from core.method.canvas import PriorLayout

QUERY_CHUNK_ELEMENTS = 2**22
"""Queries are scored in chunks of at most this many (query, patch) pairs (16 MiB of float32):
small enough to stay near the CPU's caches, which made the softmax 2.5× faster than 64 MiB."""


def logit_scale(alpha_bar: float) -> float:
    """The factor sqrt(ᾱ)/(1 − ᾱ) on q·k_i in every logit (the cross term of the distance)."""
    return math.sqrt(alpha_bar) / (1 - alpha_bar)


def key_bias(keys: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """The per-key part of every logit, −ᾱ‖k_i‖²/(2(1 − ᾱ)), of (N, d) keys: (N,)."""
    return keys.square().sum(dim=1).mul_(-alpha_bar / (2 * (1 - alpha_bar)))


LOGIT_FLOOR = -80.0
"""Logits further than this below their row's largest weigh exp(−80) ≈ 2e-35 of it instead of
less: nothing next to the largest's 1, and it keeps exp off its slow path. At low noise most
logits lie thousands below the largest, and exp of those was measured 40× slower per element
than of moderate ones (the softmax at the coarsest scale took 2.3× as long)."""


def softmax_(logits: torch.Tensor) -> torch.Tensor:
    """Unnormalised softmax weights of (c, P) logits, in place: exp(l − max l) per row, floored
    at exp(LOGIT_FLOOR). Divide by the row sums to normalise."""
    top = logits.amax(dim=1, keepdim=True)
    return logits.sub_(top).clamp_(min=LOGIT_FLOOR).exp_()


NO_CANDIDATE_LOGIT = -1e30
"""The logit of index N ("none"): finite, so that a pixel left with no candidate at all gets
the zero value row instead of NaN, and far below any real logit."""


def refine_and_average(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    pool: torch.Tensor,
    alpha_bar: float,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep each query's k pool entries with the highest posterior weight (the nearest to
    sqrt(ᾱ)·key) and average their values under the softmax over those k.

    queries (Q, d), keys (N, d), values (N, V), pool (Q, P) indices in 0 … N (N: none).
    Returns the estimate (Q, V) and the kept indices (Q, k), best first, N where the pool ran
    short (`candidate_table` and `refine_with_table`, which a caller may use apart to build the
    tables once for many calls).
    """
    table, padded = candidate_table(keys, values, alpha_bar)
    return refine_with_table(queries, table, padded, pool, alpha_bar, k)


def candidate_table(
    keys: torch.Tensor, values: torch.Tensor, alpha_bar: float, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (N + 1, d + 1) key table and (N + 1, V) value table that `refine_with_table` reads.

    Logits are −‖q − sqrt(ᾱ)·key‖² / (2(1 − ᾱ)) without the ‖q‖² that every entry shares; the
    per-key bias −ᾱ‖key‖²/(2(1 − ᾱ)) rides along as one more coordinate, so one gather fetches
    both, and "none" (index N) is one more row whose logit is NO_CANDIDATE_LOGIT, so nothing
    needs masking. Built in one allocation each (the tables of a 4-megapixel image are large).
    """
    count, dims = keys.shape
    table = keys.new_empty(count + 1, dims + 1, dtype=dtype or keys.dtype)
    table[:count, :dims] = keys
    table[:count, dims] = key_bias(keys, alpha_bar)
    table[count] = 0
    table[count, dims] = NO_CANDIDATE_LOGIT
    padded = values.new_empty(count + 1, values.shape[1])
    padded[:count] = values
    padded[count] = 0
    return table, padded


def refine_with_table(
    queries: torch.Tensor,
    table: torch.Tensor,
    values: torch.Tensor,
    pool: torch.Tensor,
    alpha_bar: float,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`refine_and_average` over tables from `candidate_table`: queries (Q, d), table
    (N + 1, d + 1), values (N + 1, V), pool (Q, P). Returns ((Q, V), (Q, k))."""
    scale = logit_scale(alpha_bar)
    ones = torch.ones(queries.shape[0], 1, dtype=queries.dtype, device=queries.device)
    queries = torch.cat([scale * queries, ones], dim=1).to(table.dtype)
    chunk = max(1, QUERY_CHUNK_ELEMENTS // (pool.shape[1] * table.shape[1]))
    estimates, kept = [], []
    for start in range(0, queries.shape[0], chunk):
        found = pool[start : start + chunk]
        near = _rows(table, found)  # (c, P, d + 1): the one big gather of the step
        logits = (near @ queries[start : start + chunk, :, None]).squeeze(-1).float()
        best = logits.topk(k, dim=1)
        chosen = found.gather(1, best.indices)
        weights = softmax_(best.values)
        weights /= weights.sum(dim=1, keepdim=True)
        estimates.append((weights[:, None, :] @ _rows(values, chosen)).squeeze(1))
        kept.append(chosen)
    return torch.cat(estimates), torch.cat(kept)


def _rows(table: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """table[indices] for a (N, D) table and (c, P) indices: (c, P, D). index_select is about
    3× faster than advanced indexing on a CPU (measured with torch 2.14)."""
    return table.index_select(0, indices.flatten()).view(*indices.shape, table.shape[1])


class PositionPrior:
    """log π(i | q) = −‖p_q − p_i‖² / (2σ²) for every pixel q of one canvas (P = H·W, raster
    order) against the N training positions p_i, both as fractions of their image's height and
    width. Query q of a batch is pixel q mod P.

    Expanded, −‖p_q − p_i‖² = 2·p_q·p_i − ‖p_i‖² − ‖p_q‖², and the last term is the same for
    every i, so it drops out of the softmax: the prior is two more coordinates of the query
    (p_q/σ²) and the key (p_i) plus a per-key bias (−‖p_i‖²/(2σ²)). It then costs nothing
    beyond the distances, and no (P, N) table is ever held, however large the canvas."""

    def __init__(
        self,
        canvas: tuple[int, int],
        train: tuple[int, int],
        sigma: float,
        device,
        layout: PriorLayout | None = None,
        kept: torch.Tensor | None = None,
    ):
        """canvas and train are (H, W). `layout` places the photo on the canvas and frees the
        axes of a tile (core.method.canvas); `kept` keeps only those training positions (heal)."""
        layout = layout or PriorLayout()
        weights = layout.weights()
        self.canvas = (layout.positions(*canvas) * weights).to(device)
        train_positions = grid_positions(*train) * weights
        if kept is not None:
            train_positions = train_positions[kept.cpu()]
        self.train = train_positions.to(device)
        self.sigma = sigma
        self.pixels = self.canvas.shape[0]

    def augment(
        self, queries: torch.Tensor, keys: torch.Tensor, key_bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Append the prior to (Q, d) queries (already scaled), (N, d) keys and the (N,) bias:
        returns (Q, d + 2), (N, d + 2), (N,)."""
        repeats = queries.shape[0] // self.pixels
        positions = self.canvas.repeat(repeats, 1) / self.sigma**2
        bias = key_bias - self.train.square().sum(dim=1) / (2 * self.sigma**2)
        return torch.cat([queries, positions], 1), torch.cat([keys, self.train], 1), bias


def posterior_mean(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    alpha_bar: float,
    prior: PositionPrior | None = None,
) -> torch.Tensor:
    """Σ_i w_i·values_i with w = softmax_i(−‖q − sqrt(ᾱ)·k_i‖² / (2(1 − ᾱ))) for every query
    (times the position prior, if given).

    queries (Q, D) are noisy patches, keys (N, D) clean ones, values (N, V) what each clean
    patch contributes (its centre pixel or the whole patch). Returns (Q, V). ‖q‖² is the same
    for every i, so it drops out of the softmax; the work is chunked over queries, in chunks
    small enough for the CPU's caches (QUERY_CHUNK_ELEMENTS).
    """
    queries = queries * logit_scale(alpha_bar)
    bias = key_bias(keys, alpha_bar)
    if prior is not None:
        queries, keys, bias = prior.augment(queries, keys, bias)
    chunk = max(1, QUERY_CHUNK_ELEMENTS // max(1, keys.shape[0]))
    # a column of ones makes the weights' row sums come out of the same product
    values = torch.cat([values, values.new_ones(values.shape[0], 1)], dim=1)
    out = []
    for start in range(0, queries.shape[0], chunk):
        logits = torch.addmm(bias, queries[start : start + chunk], keys.T)
        totals = softmax_(logits) @ values
        out.append(totals[:, :-1] / totals[:, -1:])
    return torch.cat(out)


def grid_positions(height: int, width: int) -> torch.Tensor:
    """(H·W, 2) pixel centres (y, x) as fractions of the height and width, raster order."""
    y = (torch.arange(height) + 0.5) / height
    x = (torch.arange(width) + 0.5) / width
    return torch.stack(torch.meshgrid(y, x, indexing="ij"), dim=-1).reshape(-1, 2)
