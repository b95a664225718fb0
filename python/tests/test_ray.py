"""FrugalTrainer on a local Ray cluster: a 2-worker run on bibtex matches a
single-process run's quality, and a worker killed mid-run is restarted from
the last checkpoint and the run completes."""

import os
import signal
import sys

import pytest

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
    train = frugal.ray.shard(frugal.read_file(os.path.join(BIBTEX, "train.txt")))
    model, start = frugal.ray.load_checkpoint()
    if model is None:
        model = frugal.Model.auto(train.num_features, 159, hidden=512)
    assert model.epochs_done == start

    def on_epoch(e):
        epoch = e["epoch"]
        if config.get("kill_marker") and epoch == 4 and comm.rank == 1 \
                and not os.path.exists(config["kill_marker"]):
            open(config["kill_marker"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)  # a worker dies mid-run
        metrics = {"epoch": epoch, "hash": str(model.weights_hash())}
        if epoch == config["epochs"]:
            result = model.evaluate(os.path.join(BIBTEX, "test.txt"), exact=True)
            metrics["p@1"] = result["p@1"]
        frugal.ray.report(metrics, model, epoch)

    # One call for the whole run: the schedule spans every epoch, and a
    # restarted group continues from the checkpoint's epoch.
    model.train(train, epochs=config["epochs"] - start, total_epochs=config["epochs"],
                batch_size=BATCH // size, threads=1, comm=comm, on_epoch=on_epoch)


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


def run(tmp_path, config, max_failures=0):
    trainer = frugal.ray.FrugalTrainer(
        train_loop, train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path / "results"), name="bibtex",
                             failure_config=FailureConfig(max_failures=max_failures)))
    return trainer.fit()


def test_two_workers_match_a_single_process(cluster, tmp_path):
    result = run(tmp_path, {"epochs": EPOCHS})
    assert result.error is None
    assert result.metrics["epoch"] == EPOCHS
    single = single_process_p1()
    print(f"2 workers P@1 {result.metrics['p@1']:.4f}, 1 process {single:.4f}")
    assert abs(result.metrics["p@1"] - single) <= 0.01
    assert result.metrics["p@1"] >= 0.55


def test_killed_worker_restarts_from_checkpoint(cluster, tmp_path):
    marker = str(tmp_path / "killed")
    result = run(tmp_path, {"epochs": 6, "kill_marker": marker}, max_failures=2)
    assert os.path.exists(marker), "the worker was never killed"
    assert result.error is None
    assert result.metrics["epoch"] == 6
    assert result.metrics["p@1"] >= 0.45
