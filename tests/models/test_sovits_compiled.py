"""The compiled generators (fixed windows; one dynamic-length graph) give the op-by-op generator's audio:
the dynamic graph (the CPU's default) for every SoVITS folder, the fixed windows (other targets' default,
~18 s a folder here) for the first.

The latent and timbre come from the folder's golden trace (`<case>.dec_in`, `<case>.ge`), repeated to
lengths that run whole (in a short graph, in the window's graph, op by op) and to several windows with a
tail (in a short graph, op by op, in the window's graph), so that window seams, the tails and the
zero-masked padding at both utterance ends are exercised; the dynamic graph runs them whole and in
pieces. The golden audio itself is checked through the default path by test_sovits_parity.py.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
import pytest
from golden_data import model_file, model_subdirs

from GPT_SoVITS.models.sovits import load_sovits
from GPT_SoVITS.models.sovits.generator import receptive_radius
from GPT_SoVITS.models.sovits.compiled import SHORT_GRAPHS, DynamicGenerator, WindowedGenerator

VERSIONS = model_subdirs("sovits")
ATOL = 1e-6  # same kernels on different lengths: equal up to float32 rounding


def golden_decoder_input(version: str):
    sovits = load_sovits(model_file(f"sovits/{version}/model.pth"))
    golden = np.load(model_file(f"sovits/{version}/golden.npz"))
    case = next(k[: -len(".dec_in")] for k in golden.files if k.endswith(".dec_in"))
    return sovits, golden[f"{case}.dec_in"][None], ms.Tensor(golden[f"{case}.ge"].reshape(1, -1, 1))


def repeated(z: np.ndarray, frames: int) -> ms.Tensor:
    reps = -(-frames // z.shape[-1])
    return ms.Tensor(np.ascontiguousarray(np.tile(z, (1, 1, reps))[:, :, :frames]))


@pytest.mark.parametrize("version", VERSIONS[:1])  # the windows' logic is the same for every folder; the
def test_windowed_generator_equals_op_by_op(version):  # CPU's default (dynamic) graph is checked on each below
    sovits, z_golden, ge = golden_decoder_input(version)
    dec, hop = sovits.model.dec, sovits.hop_length
    names = [p.name for p in dec.get_parameters()]
    windowed = WindowedGenerator(dec)
    windowed.warm_up(z_golden.shape[1], ge.shape[1])
    w, r = windowed.window, windowed.overlap
    span, smallest = windowed.graph_sizes()[0], SHORT_GRAPHS[0]
    # Whole inputs (name, frames, the graph expected to run them: None is op by op).
    whole = [("golden", z_golden.shape[-1], windowed.whole_graph(z_golden.shape[-1])),
             ("smallest short graph", smallest - 3, smallest),
             ("too short for a graph", smallest // 2, None),
             ("between two sizes", 2 * smallest + 4, None),
             ("the window's graph", span - 5, span)]
    # Inputs longer than the window's graph: whole windows, then a tail with r frames of context.
    windows = [("no tail", 2 * w), ("tail in a short graph", 2 * w + smallest - r - 5),
               ("tail op by op", 2 * w + 3), ("tail in the window's graph", 2 * w + w - 3)]
    assert [windowed.whole_graph(frames) for _, frames, _ in whole[1:]] == [graph for *_, graph in whole[1:]]
    tails = [frames % w + r for _, frames in windows[1:]]
    assert [windowed.whole_graph(t) for t in tails] == [smallest, None, span]
    for name, frames in [(name, frames) for name, frames, _ in whole] + windows:
        z = repeated(z_golden, frames)
        expected = dec(z, ge).asnumpy()
        actual = windowed(z, ge).asnumpy()
        assert actual.shape == expected.shape == (1, 1, frames * hop)
        np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL, err_msg=f"{name}: {frames} frames")
    # Compiling must leave the parameter names (the checkpoint keys) as they were.
    assert [p.name for p in dec.get_parameters()] == names


@pytest.mark.parametrize("version", VERSIONS)
def test_overlap_covers_the_receptive_field(version):
    """Perturbing one latent frame changes the audio within `overlap` frames of it and nowhere else."""
    sovits, z_golden, ge = golden_decoder_input(version)
    dec, hop = sovits.model.dec, sovits.hop_length
    overlap = WindowedGenerator(dec).overlap
    frames = 2 * overlap + 8
    z = repeated(z_golden, frames).asnumpy()
    frame = frames // 2
    bumped = z.copy()
    bumped[:, :, frame] += 1.0
    changed = np.nonzero(dec(ms.Tensor(bumped), ge).asnumpy()[0, 0] != dec(ms.Tensor(z), ge).asnumpy()[0, 0])[0]
    assert changed.size > 0
    first, last = changed.min() // hop, changed.max() // hop
    assert frame - overlap <= first and last <= frame + overlap
    # ... and the bound is not loose: the change reaches most of the way.
    assert first <= frame - overlap // 2 and last >= frame + overlap // 2


@pytest.mark.parametrize("version", VERSIONS)
def test_dynamic_generator_equals_op_by_op(version):
    """Whole inputs of several lengths through the one graph, and inputs cut into 2 and 3 pieces."""
    sovits, z_golden, ge = golden_decoder_input(version)
    dec, hop = sovits.model.dec, sovits.hop_length
    names = [p.name for p in dec.get_parameters()]
    r = receptive_radius(dec.dims)
    dynamic = DynamicGenerator(dec, max_frames=4 * r)  # small pieces keep the test short
    dynamic.compile(z_golden.shape[1], ge.shape[1])
    graph_inputs = []
    graph = dynamic._graph
    dynamic._graph = lambda z, g: graph_inputs.append(z.shape[-1]) or graph(z, g)
    cases = [("golden", z_golden.shape[-1]), ("one frame", 1), ("short", r + 2), ("the most in one go", 4 * r),
             ("two pieces", 4 * r + 1), ("three pieces", 11 * r + 5)]
    for name, frames in cases:
        z = repeated(z_golden, frames)
        graph_inputs.clear()
        expected = dec(z, ge).asnumpy()
        actual = dynamic(z, ge).asnumpy()
        assert actual.shape == expected.shape == (1, 1, frames * hop)
        np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL, err_msg=f"{name}: {frames} frames")
        pieces = -(-frames // (4 * r))
        assert len(graph_inputs) == pieces and max(graph_inputs) <= -(-frames // pieces) + 2 * r, name
    assert [p.name for p in dec.get_parameters()] == names


@pytest.mark.parametrize("version", VERSIONS[:1])
def test_sovits_uses_its_dynamic_graph_once_built(version, monkeypatch):
    """On the CPU the warm-up builds the one dynamic graph; op by op before, and with the switch off."""
    monkeypatch.delenv("GPT_SOVITS_EAGER", raising=False)
    monkeypatch.delenv("GPT_SOVITS_COMPILED_GENERATOR", raising=False)
    monkeypatch.delenv("GPT_SOVITS_DYNAMIC_GENERATOR", raising=False)
    sovits, z_golden, ge = golden_decoder_input(version)
    model = sovits.model
    z = repeated(z_golden, 3 * SHORT_GRAPHS[0] + 1)  # no fixed graph's size
    model.generate(z, ge)
    stages = model.warm_up_stages()
    generator = model._compiled_dec
    assert isinstance(generator, DynamicGenerator) and not generator.ready
    assert [name for name, _ in stages] == ["sovits.compile.any_length"]
    stages[0][1]()
    assert generator.ready
    graph_inputs = []
    graph = generator._graph
    monkeypatch.setattr(generator, "_graph", lambda *args: graph_inputs.append(args[0].shape[-1]) or graph(*args))
    model.generate(z, ge)
    assert graph_inputs == [z.shape[-1]]
    monkeypatch.setenv("GPT_SOVITS_COMPILED_GENERATOR", "0")
    model.generate(z, ge)
    assert graph_inputs == [z.shape[-1]]


@pytest.mark.parametrize("version", VERSIONS[:1])
def test_sovits_uses_each_graph_only_once_built(version, monkeypatch):
    """With fixed windows (other targets, or `GPT_SOVITS_DYNAMIC_GENERATOR=0`): op by op until the
    warm-up stages have built the graphs, each graph used from its own stage on; never with the switch off."""
    monkeypatch.delenv("GPT_SOVITS_EAGER", raising=False)
    monkeypatch.delenv("GPT_SOVITS_COMPILED_GENERATOR", raising=False)
    monkeypatch.setenv("GPT_SOVITS_DYNAMIC_GENERATOR", "0")
    sovits, z_golden, ge = golden_decoder_input(version)
    model = sovits.model
    windows_in = repeated(z_golden, 2 * WindowedGenerator(model.dec).window)  # two whole windows
    short_in = repeated(z_golden, SHORT_GRAPHS[0])
    model.generate(windows_in, ge)
    stages = model.warm_up_stages()
    generator = model._compiled_dec
    assert not generator.ready and [name for name, _ in stages] == [
        f"sovits.compile.{size}_frames" for size in generator.graph_sizes()]
    graph_inputs = []
    monkeypatch.setattr(generator, "_graph", lambda *args, original=generator._graph:
                        graph_inputs.append(args[0].shape[-1]) or original(*args))
    model.generate(short_in, ge)
    model.generate(windows_in, ge)
    assert graph_inputs == []  # nothing built yet: op by op
    stages[0][1]()  # the window graph
    graph_inputs.clear()
    model.generate(short_in, ge)
    model.generate(windows_in, ge)
    span = generator.graph_sizes()[0]
    assert graph_inputs == [span, span]  # the short input still op by op, the windows through the graph
    for _, build in stages[1:]:
        build()
    assert generator.ready
    graph_inputs.clear()
    model.generate(short_in, ge)
    assert graph_inputs == [SHORT_GRAPHS[0]]
    monkeypatch.setenv("GPT_SOVITS_COMPILED_GENERATOR", "0")
    model.generate(short_in, ge)
    model.generate(windows_in, ge)
    assert graph_inputs == [SHORT_GRAPHS[0]]
