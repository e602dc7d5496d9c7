"""The kernels' numerical tunables, each named and justified in one place."""

# --- chunking ----------------------------------------------------------------------------
#: Bytes one chunk's largest intermediate may take. A chunk is sized from the number of
#: elements a row needs (which grows with d·k², not only with n), so k = 100 stays bounded.
CHUNK_BYTES = {"cpu": 64 * 2**20, "cuda": 1024 * 2**20}
#: The one-pass contractions over the pool (Σ I(x), the first P_x and Q_x) write a wide
#: intermediate and read it back at once: on a CPU they run about a third faster when it
#: stays in cache (benchmarks/README.md), as long as a chunk keeps a few dozen rows.
CACHE_BYTES = {"cpu": 8 * 2**20}
CACHE_MIN_ROWS = 32
#: A transposing copy into the elimination's batch-innermost layout is several times
#: faster in pieces of this many rows (1.0 ms instead of 3.3 ms at n = 10k, k = 10).
TRANSPOSE_ROWS = 512
#: Labeled rows compared with a chunk of the pool at once by greedy k-center.
LABELED_BLOCK = 1024

# --- the batched k × k solves ------------------------------------------------------------
#: Largest k for which the elimination across candidates beats LAPACK's batched solvers
#: on a CPU (benchmarks/micro_gpu_solvers.py cpu: ahead up to k = 24, behind from 32).
ELIMINATION_MAX_K = 24
#: On CUDA, batched Cholesky inverses beat LU inverses above this k (same benchmark).
CUDA_CHOLESKY_MIN_K = 16

# --- the Woodbury state ------------------------------------------------------------------
#: Recompute M⁻¹, P_x, Q_x once the best forward gain has fallen below this fraction of
#: the best gain when they were last computed: past that the incremental values have lost
#: too many digits to cancellation.
RECOMPUTE_DROP = 1e-6
#: A removal whose score and actual change of tr(M⁻¹F) differ by more than this fraction
#: reveals a state that has lost its accuracy.
REMOVAL_CONSISTENCY = 1e-2
#: M⁻¹ is re-symmetrised after this many rank-k updates (rounding breaks its symmetry).
SYMMETRIZE_EVERY = 16
#: On CUDA, M⁻¹ is recomputed exactly from M after this many updates, bounding the drift
#: of chained Woodbury updates.
CUDA_REFRESH_EVERY = 50
# --- threads (threads.py) -----------------------------------------------------------------
#: With the fused CPU pass, torch keeps its threads during the greedy loop only when a
#: step's D × D × k products have at least this many multiply-adds (about 5 ms each on one
#: core): shorter ones gain little from a second thread, and with another process on the
#: machine each of them waits for a preempted thread (benchmarks/README.md, "under load").
PARALLEL_PRODUCT_MIN = 2**27
#: One thread for the fused pass below this many entries of per-candidate state (8 MB, a
#: few milliseconds of work): there a second thread saves little (inside select on digits,
#: 1197 rows at k = 10: 2.9 ms on one thread, 3.2 on two) and, with another process on the
#: machine, costs a wait for a preempted thread at every step. Below it, with small
#: products too, the whole selection runs on one thread (benchmarks/README.md,
#: "bench_cpu.py").
PARALLEL_STATE_MIN = 1 << 20
#: A model's forward pass inside ``select`` runs its BLAS (numpy's OpenBLAS, for a
#: scikit-learn model) on one thread when its input has at most this many values (32 MB of
#: float64): there a second thread saves at most a few milliseconds, and OpenBLAS's idle
#: worker then spins on the other core for about 0.1 s, into the selection that follows.
#: On digits that spin was a third of a core for the whole select (1.0 s of the worker's
#: CPU time over ten selects, 0.1 s with the forward on one thread), and beside another
#: process it slowed the select to 1.3 to 1.5 times its quiet one-thread time
#: (benchmarks/README.md, "A model's BLAS threads").
FORWARD_ONE_THREAD_MAX = 1 << 22
#: With the fused CPU pass and small products, torch runs the whole selection on one
#: thread (the pass keeps the caller's, as do the setup's two pair contractions, compiled:
#: threads.setup_threads) while ``n·d²·k²`` is below this: the setup's GEMMs
#: (about ``1.5·n·d²·k²`` FLOPs for BAIT) are then a small part of a setup that is mostly
#: element-wise (10k × 64 × 10, n·d²·k² = 4·10⁹: 0.41 s on one thread, 0.44 s on two,
#: quiet; 0.50 against 1.06 s beside a competitor), while at 20k × 128 × 10 (3·10¹⁰) one
#: thread would cost 2.8 against 1.8 s (benchmarks/README.md).
PARALLEL_SETUP_MIN = 2**33
#: While torch runs the loop on one thread, its D × D × k products with k up to this many
#: columns read the D × D matrix once in compiled code instead of through BLAS, whose
#: packing copy of a matrix that comes cold from memory costs more than the product (one
#: thread, cold: 1.0 against 2.3 ms at D = 640, k = 10; 2.2 against 3.6 at D = 1024,
#: k = 16; even at k = 32; benchmarks/README.md).
NARROW_MAX_K = 16
#: The setup's pair contractions (every candidate's first blocks, F) run compiled in pieces
#: on the caller's threads up to this k (threads.setup_threads). On two threads against
#: torch on two: 10k × 64 × 16 0.39 against 0.38 s and 0.18 against 0.21 s; at k = 100
#: (5k × 64) 10.6 against 8.7 s and 4.4 against 4.0 s, where a chunk of the pool (its
#: k × k blocks are per row) holds fewer rows than one piece, so the pieces cannot be
#: shared (benchmarks/README.md).
SETUP_COMPILED_MAX_K = 16

# --- BADGE -------------------------------------------------------------------------------
#: Squared distances below this many ulps of the two squared norms are rounding noise of
#: the factored formula: they count as 0, so a duplicate of a centre is never drawn.
ROUNDING_ULPS = 64
