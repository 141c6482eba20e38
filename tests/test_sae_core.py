"""SAE maths on small hand-checkable tensors, plus construction errors."""

import pytest
import torch

import saewidgets as sw


def _set(sae, **tensors):
    with torch.no_grad():
        for name, value in tensors.items():
            getattr(sae, name).copy_(torch.as_tensor(value, dtype=torch.float32))
    return sae


def _identity_sae(arch, **kw):
    # d_in = d_sae = 3 with identity encoder/decoder: encoding is the activation function itself.
    sae = sw.SAE(3, 3, arch, apply_b_dec_to_input=False, **kw)
    return _set(sae, W_enc=torch.eye(3), W_dec=torch.eye(3), b_dec=torch.zeros(3))


X = torch.tensor([[2.0, -1.0, 0.5], [0.1, 3.0, -2.0]])


def test_relu():
    sae = _set(_identity_sae("relu"), b_enc=[0.0, 0.0, -0.2])
    expected = torch.tensor([[2.0, 0.0, 0.3], [0.1, 3.0, 0.0]])
    torch.testing.assert_close(sae.encode(X), expected)
    torch.testing.assert_close(sae(X), expected)  # identity decoder


def test_topk_keeps_k_largest_per_token():
    sae = _set(_identity_sae("topk", k=1), b_enc=torch.zeros(3))
    torch.testing.assert_close(sae.encode(X), torch.tensor([[2.0, 0, 0], [0, 3.0, 0]]))


def test_topk_zeroes_negative_survivors():
    sae = _set(_identity_sae("topk", k=2), b_enc=torch.zeros(3))
    # second row: top-2 are 3.0 and 0.1; first row: 2.0 and 0.5
    torch.testing.assert_close(sae.encode(X), torch.tensor([[2.0, 0, 0.5], [0.1, 3.0, 0]]))
    x = torch.tensor([[-1.0, -2.0, -3.0]])
    assert sae.encode(x).abs().sum() == 0  # nothing positive, nothing fires


def test_jumprelu_threshold():
    sae = _set(_identity_sae("jumprelu"), b_enc=torch.zeros(3), threshold=[1.0, 2.5, 0.4])
    torch.testing.assert_close(sae.encode(X), torch.tensor([[2.0, 0, 0.5], [0, 3.0, 0]]))


def test_batchtopk_training_vs_inference():
    sae = _set(_identity_sae("batchtopk", k=1), b_enc=torch.zeros(3))
    sae.train()
    # 2 tokens × k=1 → the two largest positives in the whole batch: 3.0 and 2.0
    torch.testing.assert_close(sae.encode(X), torch.tensor([[2.0, 0, 0], [0, 3.0, 0]]))
    x = torch.tensor([[5.0, 4.0, 0.0], [0.2, 0.1, 0.0]])
    torch.testing.assert_close(sae.encode(x), torch.tensor([[5.0, 4.0, 0], [0, 0, 0]]))
    sae.eval()  # no threshold yet: per-token top-k
    torch.testing.assert_close(sae.encode(x), torch.tensor([[5.0, 0, 0], [0.2, 0, 0]]))
    _set(sae, threshold=torch.full((3,), 0.15))  # calibrated: a JumpReLU
    torch.testing.assert_close(sae.encode(x), torch.tensor([[5.0, 4.0, 0], [0.2, 0, 0]]))


def test_gated():
    sae = sw.SAE(3, 3, "gated", apply_b_dec_to_input=False)
    _set(
        sae,
        W_enc=torch.eye(3),
        W_dec=torch.eye(3),
        b_dec=torch.zeros(3),
        b_gate=[0.0, -3.5, 0.0],
        b_mag=[1.0, 0.0, 0.0],
        r_mag=[0.0, 0.0, torch.log(torch.tensor(2.0))],
    )
    # gate: x + b_gate > 0; magnitude: relu(x * exp(r_mag) + b_mag)
    expected = torch.tensor([[3.0, 0.0, 1.0], [1.1, 0.0, 0.0]])
    torch.testing.assert_close(sae.encode(X), expected)


def test_b_dec_is_subtracted_before_encoding_and_added_after_decoding():
    sae = sw.SAE(2, 2, "relu")
    _set(sae, W_enc=torch.eye(2), W_dec=torch.eye(2), b_enc=torch.zeros(2), b_dec=[1.0, -1.0])
    x = torch.tensor([[3.0, 0.0]])
    torch.testing.assert_close(sae.encode(x), torch.tensor([[2.0, 1.0]]))
    torch.testing.assert_close(sae(x), x)


def test_reconstruction_error_adds_back_exactly():
    sae = sw.SAE(8, 32, "topk", k=4, seed=0)
    x = torch.randn(5, 8)
    torch.testing.assert_close(sae(x) + sae.reconstruction_error(x), x)


def test_fold_decoder_norm_keeps_the_function():
    for arch in ("relu", "jumprelu", "gated"):
        sae = sw.SAE(6, 12, arch, seed=1)
        with torch.no_grad():
            sae.W_dec.mul_(torch.rand(12, 1) * 3 + 0.1)
            if arch == "jumprelu":
                sae.threshold.fill_(0.05)
        x = torch.randn(7, 6)
        before = sae(x)
        sae.fold_decoder_norm()
        torch.testing.assert_close(sae(x), before, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(12))
    with pytest.raises(sw.SAEConfigError, match="topk"):
        sw.SAE(6, 12, "topk", k=2).fold_decoder_norm()


def test_normalize_decoder():
    sae = sw.SAE(4, 8, "relu", seed=0)
    with torch.no_grad():
        sae.W_dec.mul_(5)
    sae.normalize_decoder()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(8))


def test_normalisation_modes_round_trip_the_scale():
    x = torch.randn(4, 6) * 50
    sae = sw.SAE(
        6, 6, "relu", normalize_activations="constant_norm_rescale", apply_b_dec_to_input=False
    )
    _set(sae, W_enc=torch.eye(6), W_dec=torch.eye(6), b_enc=torch.zeros(6))
    # Identity weights: relu commutes with a positive rescale, so undoing the scale gives relu(x).
    pos = x.clamp_min(0)
    torch.testing.assert_close(sae(x), pos, atol=1e-4, rtol=1e-4)
    scaled = sw.SAE(
        6,
        6,
        "relu",
        normalize_activations="expected_average_only_in",
        norm_scaling_factor=0.5,
        apply_b_dec_to_input=False,
    )
    _set(scaled, W_enc=torch.eye(6), W_dec=torch.eye(6), b_enc=torch.zeros(6))
    torch.testing.assert_close(scaled.encode(x), pos * 0.5)
    torch.testing.assert_close(scaled(x), pos)


def test_dtype_and_device_moves():
    sae = sw.SAE(4, 8, "topk", k=2, seed=0)
    half = sae.to(torch.float16)
    assert half.dtype == torch.float16 and half.W_dec.dtype == torch.float16
    out = half.encode(torch.randn(3, 4))  # float32 input is cast to the SAE's dtype
    assert out.dtype == torch.float16


def test_transcoder_shapes_and_error_target():
    tc = sw.SAE(
        4,
        16,
        "relu",
        d_out=6,
        site="blocks.1.ln2.hook_normalized",
        site_out="blocks.1.hook_mlp_out",
        seed=0,
    )
    assert tc.is_transcoder and not tc.apply_b_dec_to_input
    x, y = torch.randn(3, 4), torch.randn(3, 6)
    assert tc(x).shape == (3, 6)
    torch.testing.assert_close(tc(x) + tc.reconstruction_error(x, y), y)
    with pytest.raises(sw.SAEConfigError, match="target"):
        tc.reconstruction_error(x)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(d_in=4, d_sae=8, architecture="banana"), "unknown architecture 'banana'.*relu, topk"),
        (dict(d_in=4, d_sae=8, architecture="topk"), "needs k"),
        (dict(d_in=4, d_sae=8, architecture="topk", k=9), "1..d_sae=8"),
        (dict(d_in=0, d_sae=8), "d_in must be a positive integer"),
        (dict(d_in=4, d_sae=8, architecture="relu", normalize_activations="zscore"), "normalize"),
        (
            dict(
                d_in=4,
                d_sae=8,
                architecture="relu",
                normalize_activations="expected_average_only_in",
            ),
            "norm_scaling_factor",
        ),
    ],
)
def test_bad_parameters_are_clear_errors(kwargs, message):
    with pytest.raises(sw.SAEConfigError, match=message):
        sw.SAE(**kwargs)


def test_wrong_input_width_names_the_site():
    sae = sw.SAE(4, 8, "relu", site="blocks.1.hook_resid_post")
    with pytest.raises(sw.SAEConfigError, match="width 5 .*d_in=4 .*blocks.1.hook_resid_post"):
        sae.encode(torch.randn(2, 5))
