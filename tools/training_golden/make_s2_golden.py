"""Golden data for SoVITS (s2) training: one discriminator update and one generator update of the reference.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/training_golden/make_s2_golden.py [out_dir] [versions...]

Writes `tests/golden/training/s2/<version>/` (README.md beside this script): a tiny SoVITS built from the
real `configs/s2*.json` with reduced sizes and a narrower discriminator, weights from a recipe
(`tests/training/s2_weights.py`: nothing large is stored), one padded batch made the way the reference's
TextAudioSpeakerLoader / Collate make it, the random draws (the posterior's noise, the segment starts),
and what `s2_train.py`'s `train_and_evaluate` body computes: each loss term, the gradients, the
parameters after each AdamW step; the same step in float64 gives the float32 noise.
Stubs: `f5_tts.model` (v3's DiT, unused by SynthesizerTrn), `tools.my_utils` (file reading, unused) and `librosa.filters.mel` (no librosa build
for this venv's numpy; a port of librosa 0.11's Slaney mel, checked against librosa by the tests).
"""
from __future__ import annotations

import json
import zlib
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "training"))  # s2_weights
import s2_weights  # noqa: E402

REF = Path(os.environ.get("REF_DIR", "/work/ref")) / "GPT_SoVITS"
ARGS = sys.argv[1:]
OUT = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "tests/golden/training/s2"
VERSIONS = ARGS[1:] or ["v1", "v2", "v2Pro", "v2ProPlus"]
CONFIG = {"v1": "s2.json", "v2": "s2.json", "v2Pro": "s2v2Pro.json", "v2ProPlus": "s2v2ProPlus.json"}
SEED = 1234
SEGMENT_FRAMES = 4
# Reduced sizes (hidden stays 192: MRTE's widths are fixed; gin stays 512 for v1/v2: MRTE adds ge).
TINY_MODEL = {"filter_channels": 64, "n_layers": 2, "upsample_initial_channel": 64, "inter_channels": 32}
TINY_PRO_GIN = 64
TINY_DISC = {"scale_channels": [8, 16, 32, 64, 64, 64], "scale_groups": [1, 4, 16, 16, 32, 1],
             "period_channels": [8, 16, 32, 32, 32]}
CLIP_FRAMES = [13, 9]  # two clips of different lengths: padding and masks matter
TEXT_LENGTHS = [11, 7]
FULL_IF_AT_MOST = 512  # tensors up to this size are stored whole, larger ones as a fixed sample
SAMPLE = 256


def _slaney_mel(sr, n_fft, n_mels=128, fmin=0.0, fmax=None, **_):
    """librosa.filters.mel (htk=False, norm="slaney") in numpy float64 -> float32."""
    fmax = sr / 2 if fmax is None else fmax

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
        mels = f / f_sp
        min_log_mel = min_log_hz / f_sp
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
        min_log_mel = min_log_hz / f_sp
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(np.float32)


def _stubs() -> None:
    f5, f5m = types.ModuleType("f5_tts"), types.ModuleType("f5_tts.model")
    f5m.DiT = None
    sys.modules.update({"f5_tts": f5, "f5_tts.model": f5m})
    librosa, filters = types.ModuleType("librosa"), types.ModuleType("librosa.filters")
    filters.mel = _slaney_mel
    librosa.filters = filters
    sys.modules.update({"librosa": librosa, "librosa.filters": filters})
    tools, my_utils = types.ModuleType("tools"), types.ModuleType("tools.my_utils")
    my_utils.load_audio = None  # the loader's file reading; the batch is built from arrays here
    tools.my_utils = my_utils
    sys.modules.update({"tools": tools, "tools.my_utils": my_utils})
    sys.path.insert(0, str(REF))
    os.chdir(REF)  # text/ reads its tables relative to the working directory


class Hps(dict):
    __getattr__ = dict.__getitem__


def _hps(version: str) -> Hps:
    raw = json.loads((REF / "configs" / CONFIG[version]).read_text())
    raw["model"].update(TINY_MODEL, version=version)
    if version in ("v2Pro", "v2ProPlus"):
        raw["model"]["gin_channels"] = TINY_PRO_GIN
    raw["train"].update(segment_size=SEGMENT_FRAMES * raw["data"]["hop_length"], fp16_run=False)
    return Hps({k: Hps(v) if isinstance(v, dict) else v for k, v in raw.items()})


def _narrow_discriminator(net_d) -> None:
    """Same layers (kernels, strides, paddings, weight norm), narrower: the released widths reach 1024."""
    from torch.nn import Conv1d, Conv2d
    from torch.nn.utils import weight_norm

    def rebuild(old, c_in, c_out, groups=1):
        cls = Conv1d if isinstance(old, Conv1d) else Conv2d
        return weight_norm(cls(c_in, c_out, old.kernel_size, old.stride, padding=old.padding, groups=groups))

    s = net_d.discriminators[0]
    widths = [1] + TINY_DISC["scale_channels"]
    for i in range(len(s.convs)):
        s.convs[i] = rebuild(s.convs[i], widths[i], widths[i + 1], TINY_DISC["scale_groups"][i])
    s.conv_post = rebuild(s.conv_post, widths[-1], 1)
    widths = [1] + TINY_DISC["period_channels"]
    for d in net_d.discriminators[1:]:
        for i in range(len(d.convs)):
            d.convs[i] = rebuild(d.convs[i], widths[i], widths[i + 1])
        d.conv_post = rebuild(d.conv_post, widths[-1], 1)


def _no_dropout(net) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0


def _build(version: str, hps: Hps):
    from module.models import MultiPeriodDiscriminator, SynthesizerTrn

    torch.manual_seed(SEED)
    net_g = SynthesizerTrn(hps.data.filter_length // 2 + 1, hps.train.segment_size // hps.data.hop_length,
                           n_speakers=hps.data.n_speakers, **hps.model)
    net_d = MultiPeriodDiscriminator(hps.model.use_spectral_norm, version=version)
    _narrow_discriminator(net_d)
    _no_dropout(net_g)
    _no_dropout(net_d)
    recipes = {}
    for prefix, net in (("g", net_g), ("d", net_d)):
        state = net.state_dict()
        recipe = {k: s2_weights.recipe_for(k, tuple(v.shape)) for k, v in state.items()
                  if not k.endswith("num_batches_tracked")}
        values = s2_weights.build(recipe, SEED + (0 if prefix == "g" else 1))
        net.load_state_dict({k: torch.from_numpy(values[k]) for k in recipe}, strict=True)
        recipes[prefix] = recipe
    return net_g, net_d, recipes


def _batch(version: str, hps: Hps):
    """Two clips through the reference's own spectrogram and collate."""
    from module.data_utils import TextAudioSpeakerCollate
    from module.mel_processing import spectrogram_torch

    rng = np.random.default_rng(SEED)
    hop = hps.data.hop_length
    rows = []
    n_symbols = 322 if version == "v1" else 732
    for frames, n_text in zip(CLIP_FRAMES, TEXT_LENGTHS):
        t = np.arange(frames * hop) / hps.data.sampling_rate
        wav = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.05 * rng.standard_normal(t.size)
        wav = torch.from_numpy(wav.astype(np.float32)).unsqueeze(0)
        spec = spectrogram_torch(wav, hps.data.filter_length, hps.data.sampling_rate, hop,
                                 hps.data.win_length, center=False).squeeze(0)
        ssl = torch.from_numpy(rng.standard_normal((1, 768, spec.shape[-1])).astype(np.float32))
        text = torch.from_numpy(rng.integers(1, n_symbols, n_text)).float()  # the loader's FloatTensor
        row = (ssl, spec, wav, text)
        if version in ("v2Pro", "v2ProPlus"):
            row += (torch.from_numpy(rng.standard_normal((1, 20480)).astype(np.float32)),)
        rows.append(row)
    return TextAudioSpeakerCollate(version=version)(rows)


ULP = 2.0 ** -24  # float32's unit roundoff
TEXT_INDEX = 6  # the collate's phone ids (a FloatTensor, as the reference's loader makes them)


def _perturbed(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """t * (1 +- 2^-24) elementwise: a change at float32's rounding level."""
    signs = torch.randint(0, 2, t.shape, generator=gen).to(t.dtype) * 2 - 1
    return t * (1 + ULP * signs)


def _rounding_hook(gen: torch.Generator):
    """Each output of a convolution / linear layer off by U(+-sqrt(fan_in)) roundings: the typical error of
    a kernel that sums its fan_in products one after another (torch's blocked MKL kernels err less)."""
    def hook(module, inputs, output):
        fan_in = module.weight[0].numel() if not isinstance(module, torch.nn.ConvTranspose1d) else (
            module.weight.shape[0] * module.weight.shape[2] // module.stride[0])
        u = torch.rand(output.shape, generator=gen).to(output.dtype) * 2 - 1
        return output * (1 + ULP * fan_in ** 0.5 * u)
    return hook


def _step(version, hps, batch, noise, ids, dtype, perturb=False):
    """The body of train_and_evaluate for one batch; returns every quantity the tests compare.
    `perturb`: every weight and input off by one rounding, every layer's output by a kernel's summation
    error (float32 noise as another implementation adds it)."""
    from module import commons
    from module import models as ref_models
    from module.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
    from module.mel_processing import mel_spectrogram_torch, spec_to_mel_torch
    import torch.nn.functional as F

    net_g, net_d, _ = _build(version, hps)  # fresh (weight-normed modules do not deepcopy)
    net_g, net_d = net_g.to(dtype), net_d.to(dtype)
    gen = torch.Generator().manual_seed(SEED + 11)
    if perturb:
        with torch.no_grad():
            for p in list(net_g.parameters()) + list(net_d.parameters()):
                p.copy_(_perturbed(p, gen))
        for module in list(net_g.modules()) + list(net_d.modules()):
            if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose1d, torch.nn.Linear)):
                module.register_forward_hook(_rounding_hook(gen))
        batch = [_perturbed(t, gen) if t.is_floating_point() and i != TEXT_INDEX else t for i, t in enumerate(batch)]
        noise = _perturbed(torch.from_numpy(noise), gen).numpy()
    te_p = list(map(id, net_g.enc_p.text_embedding.parameters()))
    et_p = list(map(id, net_g.enc_p.encoder_text.parameters()))
    mrte_p = list(map(id, net_g.enc_p.mrte.parameters()))
    base_params = filter(lambda p: id(p) not in te_p + et_p + mrte_p and p.requires_grad, net_g.parameters())
    lr, low = hps.train.learning_rate, hps.train.learning_rate * hps.train.text_low_lr_rate
    optim_g = torch.optim.AdamW([{"params": base_params, "lr": lr},
                                 {"params": net_g.enc_p.text_embedding.parameters(), "lr": low},
                                 {"params": net_g.enc_p.encoder_text.parameters(), "lr": low},
                                 {"params": net_g.enc_p.mrte.parameters(), "lr": low}],
                                lr, betas=hps.train.betas, eps=hps.train.eps)
    optim_d = torch.optim.AdamW(net_d.parameters(), lr, betas=hps.train.betas, eps=hps.train.eps)
    sched_g = torch.optim.lr_scheduler.ExponentialLR(optim_g, gamma=hps.train.lr_decay, last_epoch=-1)
    sched_d = torch.optim.lr_scheduler.ExponentialLR(optim_d, gamma=hps.train.lr_decay, last_epoch=-1)
    sched_g.step()  # s2_train.py steps the schedules epoch_str (= 1) times before the first epoch
    sched_d.step()
    net_g.train()
    net_d.train()

    cast = [t.to(dtype) if t.is_floating_point() else t for t in batch]
    ssl, ssl_lengths, spec, spec_lengths, y, y_lengths, text, text_lengths = cast[:8]
    text = text.long() if text.is_floating_point() else text
    sv = cast[8] if len(cast) > 8 else None
    noise_t = torch.from_numpy(noise).to(dtype)
    ids_t = torch.from_numpy(ids)
    orig_randn_like, orig_rand_slice = torch.randn_like, commons.rand_slice_segments
    torch.randn_like = lambda x: noise_t[:, :, : x.shape[-1]].clone()
    ref_models.commons.rand_slice_segments = lambda x, lengths, size: (commons.slice_segments(x, ids_t, size), ids_t)
    try:
        args = (ssl, spec, spec_lengths, text, text_lengths) + ((sv,) if sv is not None else ())
        y_hat, kl_ssl, ids_slice, x_mask, z_mask, (z, z_p, m_p, logs_p, m_q, logs_q), _ = net_g(*args)
    finally:
        torch.randn_like, ref_models.commons.rand_slice_segments = orig_randn_like, orig_rand_slice
    d = hps.data
    mel = spec_to_mel_torch(spec, d.filter_length, d.n_mel_channels, d.sampling_rate, d.mel_fmin, d.mel_fmax)
    y_mel = commons.slice_segments(mel, ids_slice, hps.train.segment_size // d.hop_length)
    y_hat_mel = mel_spectrogram_torch(y_hat.squeeze(1), d.filter_length, d.n_mel_channels, d.sampling_rate,
                                      d.hop_length, d.win_length, d.mel_fmin, d.mel_fmax)
    y = commons.slice_segments(y, ids_slice * d.hop_length, hps.train.segment_size)

    y_d_hat_r, y_d_hat_g, _, _ = net_d(y, y_hat.detach())
    loss_disc, _, _ = discriminator_loss(y_d_hat_r, y_d_hat_g)
    optim_d.zero_grad()
    loss_disc.backward()
    grad_norm_d = commons.clip_grad_value_(net_d.parameters(), None)
    grads_d = {k: p.grad.detach().clone() for k, p in net_d.named_parameters()}
    optim_d.step()
    params_d = {k: p.detach().clone() for k, p in net_d.named_parameters()}

    y_d_hat_r, y_d_hat_g, fmap_r, fmap_g = net_d(y, y_hat)
    loss_mel = F.l1_loss(y_mel, y_hat_mel) * hps.train.c_mel
    loss_kl = kl_loss(z_p, logs_q, m_p, logs_p, z_mask) * hps.train.c_kl
    loss_fm = feature_loss(fmap_r, fmap_g)
    loss_gen, _ = generator_loss(y_d_hat_g)
    loss_gen_all = loss_gen + loss_fm + loss_mel + kl_ssl * 1 + loss_kl
    optim_g.zero_grad()
    loss_gen_all.backward()
    grad_norm_g = commons.clip_grad_value_(net_g.parameters(), None)
    grads_g = {k: p.grad.detach().clone() for k, p in net_g.named_parameters() if p.grad is not None}
    optim_g.step()
    params_g = {k: p.detach().clone() for k, p in net_g.named_parameters()}
    f = lambda t: float(t)  # noqa: E731
    losses = {"disc": f(loss_disc), "gen": f(loss_gen), "fm": f(loss_fm), "mel": f(loss_mel),
              "kl_ssl": f(kl_ssl), "kl": f(loss_kl), "gen_all": f(loss_gen_all),
              "grad_norm_d": grad_norm_d, "grad_norm_g": grad_norm_g}
    tensors = {"y_hat": y_hat, "y_mel": y_mel, "y_hat_mel": y_hat_mel, "z_p": z_p, "m_p": m_p,
               "logs_p": logs_p, "m_q": m_q, "logs_q": logs_q, "y": y}
    lrs = {"g": [g["lr"] for g in optim_g.param_groups], "d": optim_d.param_groups[0]["lr"]}
    return losses, tensors, grads_d, params_d, grads_g, params_g, lrs


def _np(t) -> np.ndarray:
    return t.detach().double().numpy()


def _store(arrays: dict, meta: dict, prefix: str, name: str, ref: np.ndarray, ref64: np.ndarray,
           refp: np.ndarray | None = None) -> None:
    """Whole when small, else a fixed sample of flat indices (the same for a parameter's gradient and its
    value after the step); plus float64 sums and the float32 noise: the largest of |f32 - f64| and
    |f32 - f32 perturbed| (weights and inputs off by one rounding, layer outputs by a sequential sum's
    error: how far another float32 implementation lands; torch's own kernels are more accurate than
    that, so |f32 - f64| alone understates it)."""
    flat, flat64 = ref.reshape(-1), ref64.reshape(-1)
    key = f"{prefix}.{name}"
    if flat.size <= FULL_IF_AT_MOST:
        arrays[key] = flat.astype(np.float32)
    else:
        rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
        idx = np.sort(rng.choice(flat.size, SAMPLE, replace=False))
        arrays[key + ".index"] = idx.astype(np.int64)
        arrays[key] = flat[idx].astype(np.float32)
    meta[key] = {"shape": list(ref.shape), "sum": float(flat.astype(np.float64).sum()),
                 "abs_sum": float(np.abs(flat.astype(np.float64)).sum()),
                 "noise_f64": float(np.abs(flat - flat64).max()) if flat.size else 0.0,
                 "noise": float(max(np.abs(flat - flat64).max(), np.abs(flat - refp.reshape(-1)).max()
                                    if refp is not None else 0.0)) if flat.size else 0.0,
                 "absmax": float(np.abs(flat).max()) if flat.size else 0.0}


def make(version: str) -> None:
    hps = _hps(version)
    net_g, net_d, recipes = _build(version, hps)
    sums = {net: {k: float(v.double().sum()) for k, v in module.state_dict().items() if k in recipes[net]}
            for net, module in (("g", net_g), ("d", net_d))}
    batch = _batch(version, hps)
    spec_lengths = batch[3].numpy()
    seg = hps.train.segment_size // hps.data.hop_length
    torch.manual_seed(SEED + 7)
    noise = torch.randn(batch[2].shape[0], hps.model.inter_channels, batch[2].shape[-1]).numpy()
    ids = (torch.rand(len(spec_lengths)) * torch.from_numpy(spec_lengths - seg + 1)).long().numpy()
    out32 = _step(version, hps, batch, noise, ids, torch.float32)
    out64 = _step(version, hps, batch, noise, ids, torch.float64)
    outp = _step(version, hps, batch, noise, ids, torch.float32, perturb=True)
    losses, tensors, grads_d, params_d, grads_g, params_g, lrs = out32
    losses64, tensors64, grads_d64, params_d64, grads_g64, params_g64, _ = out64
    lossesp, tensorsp, grads_dp, _, grads_gp, _, _ = outp

    folder = OUT / version
    folder.mkdir(parents=True, exist_ok=True)
    names = ("ssl", "ssl_lengths", "spec", "spec_lengths", "y", "y_lengths", "text", "text_lengths", "sv")
    arrays = {f"batch.{n}": (t.numpy().astype(np.int64) if n in ("text",) or n.endswith("lengths")
                             else t.numpy().astype(np.float32)) for n, t in zip(names, batch)}
    arrays.update({"draws.noise": noise.astype(np.float32), "draws.ids_slice": ids.astype(np.int64)})
    stored: dict = {}
    for name in tensors:
        _store(arrays, stored, "out", name, _np(tensors[name]), _np(tensors64[name]), _np(tensorsp[name]))
    for prefix, ref, ref64, refp in (("grad_d", grads_d, grads_d64, grads_dp), ("after_d", params_d, params_d64, None),
                                     ("grad_g", grads_g, grads_g64, grads_gp), ("after_g", params_g, params_g64, None)):
        for name in ref:
            _store(arrays, stored, prefix, name, _np(ref[name]), _np(ref64[name]),
                   None if refp is None else _np(refp[name]))
    arrays["mel_basis"] = _slaney_mel(hps.data.sampling_rate, hps.data.filter_length, hps.data.n_mel_channels,
                                      hps.data.mel_fmin, hps.data.mel_fmax)[:, ::8]
    np.savez_compressed(folder / "golden.npz", **arrays)
    meta = {
        "version": version, "reference_commit": "48b1a0169a28582a8984402f82cf438d3bfa6aca",
        "torch": torch.__version__, "seed": SEED, "hps": hps, "tiny_model": TINY_MODEL,
        "discriminator": TINY_DISC, "dropout": "every nn.Dropout set to p=0 (its draws cannot be shared)",
        "weights": {net: {"seed": SEED + (net == "d"), "recipe": recipes[net], "sums": sums[net]} for net in ("g", "d")},
        "no_grad_in_reference": sorted(k for k, _ in net_g.named_parameters() if k not in grads_g),
        "losses": losses, "losses_noise": {k: max(abs(losses[k] - losses64[k]), abs(losses[k] - lossesp[k])) for k in losses},
        "learning_rates": lrs, "stored": stored,
        "mel_basis_columns": "every 8th frequency bin",
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    size = (folder / "golden.npz").stat().st_size
    print(version, "losses", losses, "npz bytes", size)


if __name__ == "__main__":
    _stubs()
    for v in VERSIONS:
        make(v)
