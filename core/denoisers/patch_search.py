"""Cheap patch distances for the Instant denoiser (docs/method.md §9): principal components of
one scale's training patches, and an approximate nearest-neighbour index over them.

Distances between a noisy patch q and a scaled clean patch sqrt(ᾱ)·m are computed in the
leading principal components: with U the (D, d) basis and μ the mean patch,
‖q − sqrt(ᾱ)·m‖² ≈ ‖Uᵀ(q − sqrt(ᾱ)·μ) − sqrt(ᾱ)·Uᵀ(m − μ)‖², exact up to the variance the
discarded components hold (the part of q orthogonal to U adds the same amount for every m).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.denoisers.posterior import QUERY_CHUNK_ELEMENTS

EXACT_SEARCH_MAX_KEYS = 4096
"""Below this many keys, nearest neighbours are found exactly (cheaper than building an index)."""
INDEX_DTYPE = torch.int32
"""Candidate indices: per-pixel pools take half the memory of int64 ones (no speed difference
measured: 16 samples took 36 s either way) and the results are identical."""
PCA_SAMPLE_ROWS = 20_000
"""Patches drawn (evenly) to fit the principal components."""


class PatchSpace:
    """The leading principal components of one scale's sharp and blurry patches.

    `sharp` and `blurry` are the training patches (N, d) in those coordinates.
    """

    def __init__(self, sharp: torch.Tensor, blurry: torch.Tensor, components: int):
        self.mean, self.basis = principal_components(torch.cat([sharp, blurry]), components)
        self.sharp = self.project(sharp)
        self.blurry = self.project(blurry)

    def project(self, patches: torch.Tensor, mean_weight: float = 1.0) -> torch.Tensor:
        """(M, D) patches -> (M, d): Uᵀ(patch − mean_weight·μ). A noisy query sqrt(ᾱ)·m + noise
        takes mean_weight = sqrt(ᾱ), so that its distances to sqrt(ᾱ)·keys are kept."""
        centred = patches - mean_weight * self.mean
        return centred if self.basis is None else centred @ self.basis

    def project_image(
        self, image: torch.Tensor, size: int, mean_weight: float = 1.0
    ) -> torch.Tensor:
        """`project` applied to every zero-padded k×k patch of a (B, 3, H, W) image, as one
        convolution (no (B·H·W, 3k²) patch matrix): returns (B·H·W, d) in raster order."""
        if self.basis is None:
            columns = F.unfold(image, kernel_size=size, padding=size // 2).transpose(1, 2)
            return columns.reshape(-1, columns.shape[-1]) - mean_weight * self.mean
        return project_image(image, size, self.mean, self.basis, mean_weight)


def principal_components(
    data: torch.Tensor, components: int, max_rows: int = PCA_SAMPLE_ROWS
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The mean (D,) of (M, D) patches and their `components` leading principal directions
    (D, d), from about `max_rows` of them taken evenly; None for the basis when `components`
    keeps every dimension (or is 0)."""
    mean = data.mean(dim=0)
    if components <= 0 or components >= data.shape[1]:
        return mean, None
    step = max(1, data.shape[0] // max_rows)
    centred = data[::step] - mean
    # the eigenvectors of the D×D covariance: much cheaper than an SVD of the rows
    _, vectors = torch.linalg.eigh(centred.T @ centred)
    return mean, vectors[:, -components:].flip(1).contiguous()


def project_image(
    image: torch.Tensor,
    size: int,
    mean: torch.Tensor,
    basis: torch.Tensor,
    mean_weight: float = 1.0,
    row_padding: int | None = None,
) -> torch.Tensor:
    """Uᵀ(patch − mean_weight·μ) of every k×k patch of a (B, 3, H, W) image, as one
    convolution: (B·H'·W, d) in raster order. Zero-padded by k // 2 on every side, or by
    `row_padding` above and below (0 for a band whose neighbouring rows are already in it)."""
    filters = basis.T.reshape(-1, 3, size, size)  # unfold's channel-major order
    rows = size // 2 if row_padding is None else row_padding
    projected = F.conv2d(image, filters, padding=(rows, size // 2))
    return projected.permute(0, 2, 3, 1).reshape(-1, filters.shape[0]) - mean_weight * (
        mean @ basis
    )


class NeighbourIndex:
    """k nearest neighbours (Euclidean) among (N, d) keys: exact for small N and for keys on a
    GPU (a chunked matrix product is fast there, and faiss-cpu would mean a round trip through
    host memory), otherwise an inverted-file index (faiss IVF, about sqrt(N) lists, `probes`
    of them searched)."""

    def __init__(self, keys: torch.Tensor, probes: int = 8):
        self.keys = keys.float().contiguous()
        self.probes = probes
        self._index = None
        if keys.shape[0] > EXACT_SEARCH_MAX_KEYS and self.keys.device.type == "cpu":
            self._index = _ivf_index(self.keys.numpy(), probes)

    def search(self, queries: torch.Tensor, k: int) -> torch.Tensor:
        """(Q, d) queries -> (Q, k) indices (INDEX_DTYPE) into the keys, nearest first; N (the
        number of keys: "none") where an approximate search found fewer than k (the lists it
        searched held fewer keys)."""
        k = min(k, self.keys.shape[0])
        if self._index is None:
            return _exact_search(queries.float(), self.keys, k).to(INDEX_DTYPE)
        _, found = self._index.search(np.ascontiguousarray(queries.float().cpu().numpy()), k)
        found[found < 0] = self.keys.shape[0]
        return torch.from_numpy(found).to(queries.device, INDEX_DTYPE)


def _exact_search(queries: torch.Tensor, keys: torch.Tensor, k: int) -> torch.Tensor:
    key_sq = keys.square().sum(dim=1)
    chunk = max(1, QUERY_CHUNK_ELEMENTS // max(1, keys.shape[0]))
    found = []
    for start in range(0, queries.shape[0], chunk):
        scores = 2 * queries[start : start + chunk] @ keys.T - key_sq  # −‖q − k‖² + ‖q‖²
        found.append(scores.topk(k, dim=1).indices)
    return torch.cat(found)


def _ivf_index(keys: np.ndarray, probes: int):
    import faiss

    count, dims = keys.shape
    lists = max(1, int(math.sqrt(count)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dims), dims, lists)
    index.cp.seed = 0  # the same lists every time: Instant is deterministic for a seed
    index.train(keys)
    index.add(keys)
    index.nprobe = min(probes, lists)
    return index


PATCH_EXCLUDED, PATCH_ALLOWED, PATCH_NEAR = 0, 1, 2
"""What `AllowedPatches` may do with a patch: never use it; use it; use it and draw random
candidates among such patches (heal draws them near the hole)."""


class AllowedPatches:
    """The patches a run may use, of a training image's N (heal excludes those that read the
    pixels to fill, docs/method.md §13): searches look only among them, and candidates that
    are not are dropped (become N, "none")."""

    def __init__(self, use: np.ndarray, device: torch.device | str = "cpu"):
        """`use`: (H, W), one per patch (raster order): PATCH_EXCLUDED, PATCH_ALLOWED or
        PATCH_NEAR (allowed, and where random candidates are drawn; where there is none, they
        are drawn among all allowed ones). At least one is allowed."""
        use = np.ascontiguousarray(use).reshape(-1)
        flat = torch.from_numpy(use == PATCH_EXCLUDED)
        if bool(flat.all()):
            raise ValueError("every patch is excluded")
        count = flat.numel()
        self.kept = torch.nonzero(~flat).squeeze(1).to(device)
        """(M,) the allowed indices, ascending."""
        near = np.flatnonzero(use == PATCH_NEAR)
        self._drawn = torch.from_numpy(near) if near.size else self.kept.cpu()
        lookup = torch.arange(count + 1)
        lookup[:-1][flat] = count
        self._lookup = lookup.to(device)
        self._with_none = torch.cat([self.kept, torch.tensor([count], device=device)])

    def filter(self, indices: torch.Tensor) -> torch.Tensor:
        """`indices` (any shape, values 0 … N) with every excluded one made N ("none")."""
        return self._lookup[indices.long()].to(indices.dtype)

    def random(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Indices drawn uniformly among the PATCH_NEAR patches (or all allowed ones), `shape`
        (INDEX_DTYPE)."""
        picks = torch.randint(0, self._drawn.numel(), shape, generator=generator)
        return self._drawn[picks].to(INDEX_DTYPE)

    def index(self, keys: torch.Tensor, probes: int) -> NeighbourIndex:
        """A neighbour index over the allowed rows of (N, d) `keys`."""
        return NeighbourIndex(keys[self.kept], probes)

    def search(self, index: NeighbourIndex, queries: torch.Tensor, k: int) -> torch.Tensor:
        """`index.search` on an `index` from `index`, as indices into all N patches."""
        found = index.search(queries, k)
        return self._with_none[found.long()].to(INDEX_DTYPE)


def upscale_candidates(
    candidates: torch.Tensor,
    coarse_train: tuple[int, int],
    fine_canvas: tuple[int, int],
    fine_train: tuple[int, int],
) -> torch.Tensor:
    """Each pixel's candidates at the next finer scale, from its coarse pixel's (the
    coarse-to-fine start of PatchMatch, Barnes et al., 2009): a coarse pixel matched at
    training position (y, x) suggests the same place one scale up, shifted by where the fine
    pixel lies within its coarse pixel.

    candidates (B, h, w, K) indices into the coarse training image's W_t·H_t patches (that
    number: none); coarse_train (W_t, H_t), fine_canvas (H, W), fine_train (W_t', H_t').
    Returns (B, H, W, K) indices into the fine training image's patches (its count: none),
    clamped to its edges. Only the ratio between canvas and training sizes matters, so any
    canvas size works.
    """
    coarse_width, coarse_height = coarse_train
    fine_width, fine_height = fine_train
    rows, cols = fine_canvas
    _, coarse_rows, coarse_cols, _ = candidates.shape
    device = candidates.device
    # the fine pixel's coarse pixel, and its offset from that pixel's centre, in fine pixels
    row_y, row_offset = _coarse_cell(rows, coarse_rows, device)
    col_x, col_offset = _coarse_cell(cols, coarse_cols, device)
    coarse = candidates[:, row_y][:, :, col_x].long()  # (B, H, W, K)
    none = coarse >= coarse_width * coarse_height
    y = (coarse // coarse_width + 0.5) * (fine_height / coarse_height) - 0.5
    x = (coarse % coarse_width + 0.5) * (fine_width / coarse_width) - 0.5
    y = (y + row_offset[None, :, None, None]).round().clamp(0, fine_height - 1)
    x = (x + col_offset[None, None, :, None]).round().clamp(0, fine_width - 1)
    fine = (y * fine_width + x).long()
    return fine.masked_fill_(none, fine_width * fine_height).to(candidates.dtype)


def _coarse_cell(fine: int, coarse: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of `fine` pixels along one axis: the coarse pixel it lies in (fine,) and its
    offset from the centre of that coarse pixel, scaled to fine pixels (fine,)."""
    centre = torch.arange(fine, device=device) + 0.5
    cell = (centre * coarse / fine).floor().clamp(max=coarse - 1)
    return cell.long(), centre - (cell + 0.5) * fine / coarse


NEIGHBOUR_SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))
PROPAGATED_PER_NEIGHBOUR = 1
"""Best candidates each 4-neighbour passes on. Two were measured no better (the same quality and
copying on four images) and 1.3× slower (docs/benchmarks.md)."""
RANDOM_PER_PIXEL = 2
"""Random candidates a pixel tries each step. With one, copying on the autumn ridge rose from
0.7% to 2.4%: they are what lets a pixel leave a copied neighbourhood."""


def propagate_candidates(
    candidates: torch.Tensor,
    train_size: tuple[int, int],
    generator: torch.Generator,
    random: torch.Tensor | None = None,
    allowed: AllowedPatches | None = None,
) -> torch.Tensor:
    """A pool of candidates per pixel, as PatchMatch does (Barnes et al., 2009): its own, the
    best few of each 4-neighbour's shifted by the same offset (a neighbour matched at training
    position (y, x) suggests (y + dy, x + dx) here), and a few at random.

    candidates (B, H, W, K) indices into the training image's N = H_t·W_t patches (N: none);
    train_size (W_t, H_t). The random ones are drawn from `generator`, or given as `random`
    (1, H, W, RANDOM_PER_PIXEL). With `allowed` (heal), the random ones are drawn among the
    allowed patches and excluded proposals dropped. Returns (B, H, W, P) with N for impossible,
    excluded and repeated entries.
    """
    width, height = train_size
    none = width * height
    batch, rows, cols, _ = candidates.shape
    pool = [candidates]
    best = candidates[..., :PROPAGATED_PER_NEIGHBOUR]
    for dy, dx in NEIGHBOUR_SHIFTS:
        # the neighbour at (r − dy, c − dx) moved to (r, c); its match moves by (dy, dx)
        moved = torch.roll(best, shifts=(dy, dx), dims=(1, 2))
        y, x = moved // width + dy, moved % width + dx
        valid = (moved < none) & (y >= 0) & (y < height) & (x >= 0) & (x < width)
        valid &= _inside_after_roll(rows, cols, dy, dx, candidates.device)[None, :, :, None]
        pool.append(torch.where(valid, y * width + x, none))
    # the same random candidates for every image of the batch, so batching changes nothing
    if random is None:
        if allowed is None:
            random = random_candidates(rows, cols, none, generator)
        else:
            random = allowed.random((1, rows, cols, RANDOM_PER_PIXEL), generator)
    pool.append(random.to(candidates.device, candidates.dtype).expand(batch, -1, -1, -1))
    joined = torch.cat(pool, dim=-1)
    if allowed is not None:
        joined = allowed.filter(joined)
    return _without_repeats(joined, none)


def random_candidates(rows: int, cols: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """(1, rows, cols, RANDOM_PER_PIXEL) patch indices drawn uniformly from 0 … count − 1."""
    shape = (1, rows, cols, RANDOM_PER_PIXEL)
    return torch.randint(0, count, shape, generator=generator).to(INDEX_DTYPE)


def _inside_after_roll(rows: int, cols: int, dy: int, dx: int, device) -> torch.Tensor:
    """(rows, cols) mask of the pixels whose rolled-in neighbour did not wrap around."""
    y = torch.arange(rows, device=device)[:, None] - dy
    x = torch.arange(cols, device=device)[None, :] - dx
    return (y >= 0) & (y < rows) & (x >= 0) & (x < cols)


def _without_repeats(pool: torch.Tensor, none: int) -> torch.Tensor:
    """Each index at most once per pixel (a repeated candidate would count twice); repeats
    become `none`."""
    ordered, _ = pool.sort(dim=-1)
    repeated = torch.zeros_like(ordered, dtype=torch.bool)
    repeated[..., 1:] = ordered[..., 1:] == ordered[..., :-1]
    return ordered.masked_fill_(repeated, none)
