import copy

import torch
import torch.nn.functional as F

from motiflens.config import BassetConfig, ModelConfig
from motiflens.models import build_model


def one_hot_batch(n, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return F.one_hot(idx, 4).permute(0, 2, 1).float()


def test_basset_channels_last_training_path_matches_the_plain_one():
    # Basset.fast_training (CPU, training mode) computes the same function as the
    # layer-by-layer path: outputs, gradients, running statistics, dropout masks.
    arch = BassetConfig(
        filters=(8, 6, 5),
        sizes=(6, 3, 2),
        pools=(3, 2, 4),
        conv_dropout=0.2,
        hidden=(10,),
        padding="same",
    )
    torch.manual_seed(0)
    fast = build_model(ModelConfig(name="basset", n_targets=3, length=101, arch=arch)).train()
    plain = copy.deepcopy(fast)
    plain.fast_training = False
    x = one_hot_batch(8, 101)
    results = []
    for model in (fast, plain):
        torch.manual_seed(1)  # the same dropout masks
        out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (out_f, g_f), (out_p, g_p) = results
    assert torch.allclose(out_f, out_p, rtol=1e-5, atol=1e-6)
    for name, g in g_p.items():
        if name.endswith(("conv.bias", "linear.bias")):  # zero in exact arithmetic before a norm
            continue
        assert torch.allclose(g_f[name], g, rtol=1e-4, atol=1e-5 * g.abs().max().item()), name
    for (name, a), (_, b) in zip(fast.named_buffers(), plain.named_buffers(), strict=True):
        assert torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6), name
    assert fast.state_dict().keys() == plain.state_dict().keys()
