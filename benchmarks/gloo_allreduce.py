"""torch.distributed (gloo) all-reduce on 127.0.0.1: the reference for `cohort bench allreduce`.

Run (in a throw-away venv with the CPU torch build):

    /work/venv-ref/bin/python benchmarks/gloo_allreduce.py --peers 4 --size 16777216 --rounds 5

N processes (torch.multiprocessing) join a gloo process group over TCP on 127.0.0.1 and
all-reduce (sum) a float32 tensor of SIZE elements. One warm-up round is not timed; each timed
round is a barrier, then all_reduce, and its time is the slowest rank's. Every process runs one
intra-op thread, like Cohort's one event-loop thread per worker. Prints one JSON object with the
keys `cohort bench allreduce --json` prints; bus bandwidth is bytes x 2(N-1)/N / median time.

Across hosts (scripts/wan/allreduce.sh runs it in network namespaces), start one process per
rank yourself, each where it should run, with the address of rank 0:

    python benchmarks/gloo_allreduce.py --peers 4 --size N --rank R --master 10.77.0.10:29500

Rank 0 prints the JSON.
"""

import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker(rank, peers, size, rounds, master, results):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{master}", rank=rank, world_size=peers)
    generator = torch.Generator().manual_seed(rank + 1)
    vector = torch.rand(size, generator=generator) * 2 - 1
    times = []
    for index in range(rounds + 1):
        dist.barrier()
        started = time.perf_counter()
        dist.all_reduce(vector)
        elapsed = time.perf_counter() - started
        if index > 0:
            times.append(elapsed)
        vector /= peers
    slowest = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    if rank == 0:
        results.put(slowest.tolist())
    dist.destroy_process_group()


class PrintedResult:
    """Stands in for the queue when this process is one rank started by hand: rank 0 prints."""

    def __init__(self, args):
        self.args = args

    def put(self, round_seconds):
        print_report(self.args, round_seconds)


def print_report(args, round_seconds):
    median = statistics.median(round_seconds)
    print(json.dumps({
        "implementation": f"torch {torch.__version__} gloo",
        "peers": args.peers,
        "elements": args.size,
        "compression": "none",
        "round_seconds": round_seconds,
        "median_seconds": median,
        "bus_bandwidth_bytes_per_second": args.size * 4 * 2 * (args.peers - 1) / args.peers / median,
    }, sort_keys=True), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=4)
    parser.add_argument("--size", type=int, default=1 << 20, help="float32 elements")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--rank", type=int, help="run only this rank (started by hand on its host)")
    parser.add_argument("--master", help="rank 0's address:port, with --rank")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.rank is not None:
        if not args.master or not 0 <= args.rank < args.peers:
            parser.error("--rank needs --master and must be in [0, --peers)")
        worker(args.rank, args.peers, args.size, args.rounds, args.master, PrintedResult(args))
        return
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    mp.start_processes(worker, args=(args.peers, args.size, args.rounds, f"127.0.0.1:{free_port()}", results),
                       nprocs=args.peers, join=True, start_method="spawn")
    print_report(args, results.get())


if __name__ == "__main__":
    main()
