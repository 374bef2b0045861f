"""The torch port of musicnn against the original TensorFlow outputs, its front end and its
checkpoint reader.

``fixtures/musicnn_reference.npz`` holds the original models' per-segment probabilities on
``teacher_clips`` (made by ``scripts/teacher_reference.py`` in a TensorFlow venv); the clips
are regenerated here from their seed.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from model.training import teacher
from model.training.teacher_tags import MSD_TAGS, MTT_TAGS
from model.training.tf_checkpoint import read_checkpoint
from tests.model.training import teacher_clips

REFERENCE = Path(__file__).parent / "fixtures" / "musicnn_reference.npz"
TOLERANCE = 1e-4  # measured: 2.3e-6 worst over 12 segments x 100 tags


@pytest.fixture(scope="module")
def port() -> teacher.Teacher:
    return teacher.Teacher()


@pytest.mark.slow
@pytest.mark.parametrize("name", teacher_clips.NAMES)
def test_port_matches_original_musicnn(teacher_installed, port, name) -> None:
    reference = np.load(REFERENCE)
    ours = port.tag_audio(teacher_clips.clip(name), teacher_clips.RATE)
    for model in teacher.MODELS:
        expected = reference[f"{model}/{name}"]
        assert ours[model].shape == expected.shape == (3, 50)
        assert np.abs(ours[model] - expected).max() < TOLERANCE, model


def test_reference_outputs_are_informative() -> None:
    """The fixture must discriminate: clips differ from each other far beyond the tolerance."""
    reference = np.load(REFERENCE)
    for model in teacher.MODELS:
        means = np.stack([reference[f"{model}/{n}"].mean(axis=0) for n in teacher_clips.NAMES])
        gaps = np.abs(means[:, None] - means[None]).max(axis=2)
        assert gaps[~np.eye(len(means), dtype=bool)].min() > 100 * TOLERANCE


def test_front_end_shapes() -> None:
    three_seconds = np.random.default_rng(0).standard_normal(3 * teacher.SAMPLE_RATE) * 0.1
    mel = teacher.log_mel(three_seconds)
    assert mel.shape == (1 + 3 * teacher.SAMPLE_RATE // 256, 96)  # 188 centred frames
    assert teacher.segments(mel).shape == (1, 187, 96)
    ten_seconds = np.tile(three_seconds, 4)[: 10 * teacher.SAMPLE_RATE]
    assert teacher.segments(teacher.log_mel(ten_seconds)).shape == (3, 187, 96)
    assert teacher.SEGMENT_SECONDS == pytest.approx(187 * 256 / 16000)


def test_short_clip_is_padded_to_one_segment() -> None:
    one_second = np.full(teacher.SAMPLE_RATE, 0.1, dtype=np.float32)
    patches = teacher.segments(teacher.log_mel(one_second))
    assert patches.shape == (1, 187, 96)
    assert np.all(patches[0, 70:] == 0)  # frames past the audio are zero, as musicnn's input


def test_loud_audio_stays_finite() -> None:
    """float16 mel values times 10000 overflow float16; the port multiplies in float32."""
    t = np.arange(teacher.SAMPLE_RATE) / teacher.SAMPLE_RATE
    loud = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    mel = teacher.log_mel(loud)
    assert np.isfinite(mel).all() and mel.max() > np.log10(65504)


def test_chunked_patches_equal_whole_file_patches() -> None:
    audio = np.random.default_rng(1).standard_normal(int(40.3 * teacher.SAMPLE_RATE)).astype(np.float32)
    whole = teacher.segments(teacher.log_mel(audio))
    chunked = np.concatenate(list(teacher.iter_patches(audio, chunk_segments=4)))
    assert chunked.shape == whole.shape == (13, 187, 96)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-5)


def test_checkpoint_reader_gives_every_weight_of_the_port(teacher_installed) -> None:
    tensors = read_checkpoint(str(teacher.checkpoint_dir("MSD_musicnn")) + "/")
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert tensors["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert tensors["dense/kernel"].shape == (1506, 200)
    assert tensors["dense_1/kernel"].dtype == np.float32
    state = teacher.tf_state_dict(tensors)
    network = teacher.Musicnn()
    expected = {k: v.shape for k, v in network.state_dict().items() if "num_batches" not in k}
    assert {k: v.shape for k, v in state.items()} == expected


@pytest.mark.parametrize("model, tags", [("MSD_musicnn", MSD_TAGS), ("MTT_musicnn", MTT_TAGS)])
def test_loaded_models_have_their_tag_count(teacher_installed, model, tags) -> None:
    network = teacher.load_musicnn(model)
    assert network.out.out_features == len(tags) == 50
    assert not network.training
    with torch.inference_mode():
        logits = network(torch.zeros(2, 187, 96))
    assert logits.shape == (2, 50) and torch.isfinite(logits).all()


def test_checkpoint_reader_rejects_other_files(tmp_path) -> None:
    (tmp_path / "x.index").write_bytes(b"\0" * 64)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ValueError, match="not a TensorFlow checkpoint"):
        read_checkpoint(tmp_path / "x")


def test_band_pool_equals_pooling_after_batch_norm() -> None:
    """Pooling before BN must pick the band minimum where the BN scale is negative."""
    generator = torch.Generator().manual_seed(0)
    bn = torch.nn.BatchNorm2d(6, eps=teacher.BN_EPS).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, -0.7, 0.0, -2.0, 0.3, 1.0]))
        bn.bias.normal_(generator=generator)
        bn.running_mean.normal_(generator=generator)
        bn.running_var.uniform_(0.1, 2.0, generator=generator)
    conv_out = torch.randn(2, 6, 11, 96, generator=generator)
    expected = bn(torch.relu(conv_out)).amax(dim=3)
    torch.testing.assert_close(teacher._band_pool(conv_out, bn), expected, rtol=0, atol=1e-6)
