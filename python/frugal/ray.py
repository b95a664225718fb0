"""Ray Train integration: data-parallel frugal training on a Ray cluster.

FrugalTrainer is a Ray Train DataParallelTrainer whose backend connects the
worker group with frugal's Gloo communicator when the group starts (and
again, under a fresh rendezvous prefix, each time Ray restarts it after a
failure). The training function gets it with get_communicator() and passes
it to Model.train(comm=...), which sums every batch's gradients over the
workers so all replicas stay identical.

    def loop(config):
        comm = frugal.ray.get_communicator()
        model, start = frugal.ray.load_checkpoint()
        model = model or frugal.Model.auto(D, L, hidden=512)
        X, y = frugal.ray.shard(X_all, y_all)
        model.train(X, y, epochs=config["epochs"] - start, total_epochs=config["epochs"],
                    comm=comm, on_epoch=lambda e: frugal.ray.report(
                        {"epoch": e["epoch"], "loss": e["loss"]}, model, e["epoch"]))

    FrugalTrainer(loop, train_loop_config={"epochs": 10},
                  scaling_config=ScalingConfig(num_workers=2),
                  run_config=RunConfig(failure_config=FailureConfig(max_failures=2))).fit()

With FrugalTrainer(..., shard_output=True) the output layer is sharded by
label over the workers instead (frugal train --shard-output): the training
function passes shard_output=frugal.ray.shard_output() to Model.train, each
worker trains its 1/N of the labels, report() checkpoints every worker's
shard file plus the manifest (model.bin.shards), and load_checkpoint()
gives a restarted worker its shard back. Model.load(path) of a checkpoint's
model.bin assembles the whole model (e.g. on the driver, to predict).

Rendezvous goes through a directory every worker can reach (a FileStore):
by default a fresh temporary directory on the node that starts the group,
which serves a single-node cluster; on several nodes give a shared
filesystem path or a redis:// URL in FrugalConfig(rendezvous=...).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import uuid
from dataclasses import dataclass

import ray
import ray.train
from ray.train.backend import Backend, BackendConfig

from . import Dataset, Model, connect

try:
    from ray.train.v2._internal.constants import is_v2_enabled
except ImportError:  # older Ray: only the first Train API
    def is_v2_enabled() -> bool:
        return False

if is_v2_enabled():
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer
else:
    from ray.train.data_parallel_trainer import DataParallelTrainer

__all__ = ["FrugalConfig", "FrugalTrainer", "get_communicator", "load_checkpoint",
           "report", "shard", "shard_output"]

_MODEL_FILE = "model.bin"
_STATE_FILE = "state.json"

# This worker process's communicator and the trainer's shard_output (set by
# the backend's on_start).
_comm = None
_shard_output = False


def _connect_worker(rank: int, size: int, rendezvous: str, run_id: str,
                    timeout: float, shard_output: bool = False) -> None:
    global _comm, _shard_output
    _comm = None
    _shard_output = bool(shard_output)
    _comm = connect(rank=rank, size=size, rendezvous=rendezvous, run_id=run_id,
                    hostname=ray.util.get_node_ip_address(), timeout=timeout)


def _disconnect_worker() -> None:
    global _comm
    _comm = None


@dataclass
class FrugalConfig(BackendConfig):
    """rendezvous: "file:///dir" or "redis://host:port" reachable from every
    worker; empty for a fresh temporary directory on the starting node.
    timeout: seconds for rendezvous and for every collective (a dead or hung
    worker makes the others fail within it)."""

    rendezvous: str = ""
    timeout: float = 60.0
    # Label-sharded output layer (FrugalTrainer's shard_output).
    shard_output: bool = False

    @property
    def backend_cls(self):
        return _FrugalBackend


class _FrugalBackend(Backend):
    def on_start(self, worker_group, backend_config: FrugalConfig):
        size = len(worker_group)
        rendezvous = backend_config.rendezvous or (
            "file://" + tempfile.mkdtemp(prefix="frugal-rdv-"))
        run_id = uuid.uuid4().hex  # a fresh prefix for every (re)start
        futures = [
            worker_group.execute_single_async(i, _connect_worker, i, size, rendezvous,
                                              run_id, backend_config.timeout,
                                              backend_config.shard_output)
            for i in range(size)
        ]
        ray.get(futures)

    def on_shutdown(self, worker_group, backend_config: FrugalConfig):
        worker_group.execute(_disconnect_worker)


class FrugalTrainer(DataParallelTrainer):
    """A DataParallelTrainer with frugal's communicator set up on every
    worker (FrugalConfig() unless backend_config says otherwise).
    shard_output=True: the workers shard the output layer by label (the
    training function reads it with shard_output())."""

    def __init__(self, train_loop_per_worker, *, backend_config: FrugalConfig | None = None,
                 shard_output: bool = False, **kwargs):
        config = backend_config or FrugalConfig()
        if shard_output:
            config = dataclasses.replace(config, shard_output=True)
        super().__init__(train_loop_per_worker, backend_config=config, **kwargs)


def get_communicator():
    """This worker's communicator (inside a FrugalTrainer's training
    function)."""
    if _comm is None:
        raise RuntimeError("no frugal communicator: call inside a FrugalTrainer's "
                           "training function")
    return _comm


def shard_output() -> bool:
    """The trainer's shard_output (inside a FrugalTrainer's training
    function): pass it to Model.train."""
    return _shard_output


def shard(X, y=None):
    """This worker's rows of a Dataset, or of X (and y): rows rank, rank +
    size, ... below size * (rows // size), so that every worker gets as many
    rows (and runs as many batches) as the others."""
    ctx = ray.train.get_context()
    rank, size = ctx.get_world_rank(), ctx.get_world_size()
    if isinstance(X, Dataset):
        return X.shard(rank, size)
    end = size * (X.shape[0] // size)
    Xs = X[rank:end:size]
    if y is None:
        return Xs
    ys = [y[i] for i in range(rank, end, size)] if isinstance(y, list) else y[rank:end:size]
    return Xs, ys


def report(metrics: dict, model: Model, epoch: int) -> None:
    """Reports `metrics` from every worker, with a checkpoint of `model`
    after `epoch` epochs: replicas are identical, so worker 0 writes it; a
    label-sharded model is written by every worker (its shard file; worker
    0 also the manifest), and Ray gathers the files into one checkpoint."""
    rank = ray.train.get_context().get_world_rank()
    sharded = model.output_shard is not None
    if rank != 0 and not sharded:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="frugal-ckpt-") as d:
        model.save(os.path.join(d, _MODEL_FILE), comm=get_communicator() if sharded else None)
        if rank == 0:
            with open(os.path.join(d, _STATE_FILE), "w") as f:
                json.dump({"epoch": int(epoch)}, f)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def load_checkpoint():
    """(model, epochs done) from the run's latest checkpoint, or (None, 0).
    A label-sharded checkpoint gives this worker its shard when the trainer
    shards the output, else the whole model."""
    ckpt = ray.train.get_checkpoint()
    if ckpt is None:
        return None, 0
    with ckpt.as_directory() as d:
        model = Model.load(os.path.join(d, _MODEL_FILE),
                           comm=get_communicator() if _shard_output else None)
        with open(os.path.join(d, _STATE_FILE)) as f:
            epoch = int(json.load(f)["epoch"])
    return model, epoch
