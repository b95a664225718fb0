"""FrugalTrainer on a local Ray cluster: a 2-worker run on bibtex matches a
single-process run's quality, and a worker killed mid-run is restarted from
the last checkpoint and the run completes; with shard_output=True (each
worker holds half of the labels) a run killed mid-way resumes from its
per-shard checkpoint and matches the replicated run's quality."""

import os
import signal
import sys

import numpy as np
import pytest
import scipy.sparse as sp

ray = pytest.importorskip("ray")
from ray.train import FailureConfig, RunConfig, ScalingConfig  # noqa: E402

import frugal  # noqa: E402
import frugal.ray  # noqa: E402

DATA = os.environ.get(
    "FRUGAL_DATA_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
BIBTEX = os.path.abspath(os.path.join(DATA, "bibtex"))
pytestmark = pytest.mark.skipif(not os.path.isdir(BIBTEX), reason="shared/data not found")

EPOCHS = 12
BATCH = 64  # per step, over all workers


def train_loop(config):
    comm = frugal.ray.get_communicator()
    size = comm.size
    sharded = frugal.ray.shard_output()
    train = frugal.ray.shard(frugal.read_file(os.path.join(BIBTEX, "train.txt")))
    model, start = frugal.ray.load_checkpoint()
    if model is None:
        model = frugal.Model.auto(train.num_features, 159, hidden=512)
    assert model.epochs_done == start
    if start > 0:  # a restarted sharded run gets its shard back from the checkpoint
        assert (model.output_shard is not None) == sharded

    def on_epoch(e):
        epoch = e["epoch"]
        if config.get("kill_marker") and epoch == 4 and comm.rank == 1 \
                and not os.path.exists(config["kill_marker"]):
            open(config["kill_marker"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)  # a worker dies mid-run
        if sharded:  # this worker holds half of the 159 labels
            first, held, total = model.output_shard
            assert (first, total) == (comm.rank * 80, 159) and held == 80 - comm.rank
        metrics = {"epoch": epoch, "hash": str(model.weights_hash()), "start": start}
        if epoch == config["epochs"]:
            # Sharded: every worker scores every row with its shard, the
            # shards' top 5 merged.
            result = model.evaluate(os.path.join(BIBTEX, "test.txt"), exact=True,
                                    comm=comm if sharded else None)
            metrics["p@1"] = result["p@1"]
        frugal.ray.report(metrics, model, epoch)

    # One call for the whole run: the schedule spans every epoch, and a
    # restarted group continues from the checkpoint's epoch.
    model.train(train, epochs=config["epochs"] - start, total_epochs=config["epochs"],
                batch_size=BATCH // size, threads=1, comm=comm, shard_output=sharded,
                on_epoch=on_epoch)


def single_process_p1():
    train = frugal.read_file(os.path.join(BIBTEX, "train.txt"))
    model = frugal.Model.auto(train.num_features, 159, hidden=512)
    model.train(train, epochs=EPOCHS, batch_size=BATCH, threads=1)
    return model.evaluate(os.path.join(BIBTEX, "test.txt"), exact=True)["p@1"]


@pytest.fixture(scope="module")
def cluster():
    # Workers cannot import this test module: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def run(tmp_path, config, max_failures=0, shard_output=False):
    trainer = frugal.ray.FrugalTrainer(
        train_loop, train_loop_config=config, shard_output=shard_output,
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path / "results"), name="bibtex",
                             failure_config=FailureConfig(max_failures=max_failures)))
    return trainer.fit()


@pytest.fixture(scope="module")
def replicated(cluster, tmp_path_factory):
    """The 2-worker replicated run's result."""
    result = run(tmp_path_factory.mktemp("replicated"), {"epochs": EPOCHS})
    assert result.error is None
    return result


def test_two_workers_match_a_single_process(replicated):
    assert replicated.metrics["epoch"] == EPOCHS
    single = single_process_p1()
    print(f"2 workers P@1 {replicated.metrics['p@1']:.4f}, 1 process {single:.4f}")
    assert abs(replicated.metrics["p@1"] - single) <= 0.01
    assert replicated.metrics["p@1"] >= 0.55


def test_sharded_output_resumes_and_matches_replicated(replicated, tmp_path):
    marker = str(tmp_path / "killed")
    result = run(tmp_path, {"epochs": EPOCHS, "kill_marker": marker}, max_failures=2,
                 shard_output=True)
    assert os.path.exists(marker), "the worker was never killed"
    assert result.error is None
    assert result.metrics["epoch"] == EPOCHS
    assert 0 < result.metrics["start"] < 4  # resumed from a checkpoint of its shards
    sharded, single = result.metrics["p@1"], replicated.metrics["p@1"]
    print(f"2 workers P@1: sharded output {sharded:.4f}, replicated {single:.4f}")
    assert abs(sharded - single) <= 0.015
    # The checkpoint: both workers' shard files and the manifest; loaded
    # without a communicator, the whole model, which predicts in one process.
    with result.checkpoint.as_directory() as d:
        files = sorted(os.listdir(d))
        assert "model.bin.shards" in files and "model.bin" not in files
        assert sum(f.startswith("model.bin.shard-") for f in files) == 2, files
        whole = frugal.Model.load(os.path.join(d, "model.bin"))
    assert whole.output_shard is None and whole.output_dim == 159
    test = frugal.read_file(os.path.join(BIBTEX, "test.txt"))
    assert abs(whole.evaluate(test, exact=True)["p@1"] - sharded) <= 1e-6
    labels, _ = whole.predict(sp.csr_matrix((1, test.num_features), dtype=np.float32), k=3)
    assert labels.shape == (1, 3)


def test_killed_worker_restarts_from_checkpoint(cluster, tmp_path):
    marker = str(tmp_path / "killed")
    result = run(tmp_path, {"epochs": 6, "kill_marker": marker}, max_failures=2)
    assert os.path.exists(marker), "the worker was never killed"
    assert result.error is None
    assert result.metrics["epoch"] == 6
    assert result.metrics["p@1"] >= 0.45
