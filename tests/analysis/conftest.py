"""Small calibrated random models and data for the analysis tests."""

from __future__ import annotations

import pytest
import torch

from fqss_edge.analysis.data import load_utterances
from fqss_edge.models import build_model
from fqss_edge.parity.synthetic import smoke_model, write_random_dataset
from fqss_edge.quant.tools import observation
from fqss_edge.runtimes.torch_backend import torch_threads

QUANT = {"calib_batches": 2}


@pytest.fixture(scope="session")
def analysis_data(tmp_path_factory):
    return write_random_dataset(tmp_path_factory.mktemp("analysis_data"), n_utts=2, seconds=0.25)


@pytest.fixture(scope="session")
def utts(analysis_data):
    return load_utterances(analysis_data, 8000, 2, 1)


def calibrated_on(arch: str, utts) -> torch.nn.Module:
    """A random model whose activation ranges are the min / max of the test utterance itself (nothing clips)."""
    torch.manual_seed(0)
    model = build_model(smoke_model(arch), QUANT)
    with observation(model), torch.no_grad():
        model(utts[0][0].view(1, -1))
    return model.eval()


@pytest.fixture(scope="session")
def convtasnet(utts):
    return calibrated_on("convtasnet", utts)


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Small tensors: one torch thread, as ``analyze`` runs (a busy machine slows the thread pool down a lot)."""
    with torch_threads(1):
        yield
