"""Per-operation timing of one BAIT greedy step, and of the batched k×k solvers.

A diagnostic for choosing the batched solver per device: prints milliseconds per
operation for chunks shaped as TraceState processes them. The elimination is
``trace_solve_planes``, the CPU's choice for ``k ≤ 24`` (``_LDL_MAX_K``).

    python benchmarks/micro_gpu_solvers.py [cuda|cpu]
"""
import sys
import time

import torch

from skbait._kernels._linalg import trace_solve_planes
from skbait._kernels.fisher import apply_c_


def timed(fn, device, reps=5):
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps * 1e3


def main():
    device = torch.device(sys.argv[1] if len(sys.argv) > 1 else "cuda")
    sizes = [(120_000, 512, 10), (2_000, 64, 100), (50_000, 512, 10)]
    if device.type == "cpu":
        sizes = [(10_000, 64, k) for k in (3, 10, 16, 24, 32)] + [(500, 64, 100)]
    for rows, d, k in sizes:
        g = torch.Generator(device="cpu").manual_seed(0)
        f64 = dict(dtype=torch.float64, device=device)
        h = torch.randn(rows, d, generator=g).to(**f64)
        both = torch.randn(d, 2 * k * k, generator=g).to(**f64) / d
        s = torch.rand(rows, k, generator=g).to(**f64)
        u = torch.rand(rows, k, generator=g).to(**f64)
        x = torch.randn(rows, k, 2 * k, generator=g).to(**f64)
        p = x[:, :, :k] @ x[:, :, :k].transpose(1, 2)
        q = x[:, :, k:] @ x[:, :, k:].transpose(1, 2)
        pq = torch.cat([p, q], dim=2)
        planes = torch.empty(k, 2 * k, rows, **f64)
        eye = torch.eye(k, **f64)
        buf = torch.empty(rows, k, 2 * k, **f64)
        ops = {
            "gemm": lambda: torch.matmul(h, both, out=buf.view(rows, -1)),
            "apply_c_": lambda: apply_c_(s, u, buf.view(rows, 2 * k, k)),
            "baddbmm [P|Q]": lambda: pq.clone().baddbmm_(
                buf[:, :, :k].transpose(1, 2), buf),
            "elimination": lambda: trace_solve_planes(pq, planes),
            "lu solve_ex": lambda: torch.linalg.solve_ex(eye + p, q)[0]
            .diagonal(dim1=1, dim2=2).sum(1),
            "chol+chol_solve": lambda: torch.cholesky_solve(
                q, torch.linalg.cholesky_ex(eye + p)[0]).diagonal(dim1=1, dim2=2).sum(1),
            "chol+2 trsm": lambda: _two_trsm(eye + p, q),
            "inv_ex*q": lambda: (torch.linalg.inv_ex(eye + p)[0] * q).sum((1, 2)),
            "chol+chol_inverse*q": lambda: (torch.cholesky_inverse(
                torch.linalg.cholesky_ex(eye + p)[0]) * q).sum((1, 2)),
        }
        print(f"rows={rows} d={d} k={k} on {device}")
        for name, fn in ops.items():
            try:
                print(f"  {name:22s} {timed(fn, device):9.2f} ms", flush=True)
            except RuntimeError as exc:  # an op unsupported for this batch shape
                print(f"  {name:22s} failed: {exc}"[:200])


def _two_trsm(x, q):
    chol = torch.linalg.cholesky_ex(x)[0]
    y = torch.linalg.solve_triangular(chol, q, upper=False)
    z = torch.linalg.solve_triangular(chol, y.transpose(1, 2), upper=False)
    return z.diagonal(dim1=1, dim2=2).sum(1)


if __name__ == "__main__":
    main()
