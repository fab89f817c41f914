"""Tests for alphago_jax.nets: shapes, masking/padding invariance, dtypes, functional API."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import settings
from flax import nnx

from alphago_jax.nets import (
    Network,
    count_params,
    describe,
    flops_per_eval,
    make_network,
    scalar_value,
    split,
    value_target_classes,
)

# These tests cover the ownership head too: on unless a test turns it off. They pad boards, so
# the resnets normalise over the on-board points ('masked'; 'plain' is tested on its own below).
net_config = functools.partial(settings.net_config, ownership=True, norm="masked")

PLANES = 5  # 4 feature planes + the on-board mask

TINY = {
    "resnet": net_config(kind="resnet", blocks=2, channels=8, gpool_every=2, policy_channels=4,
                        value_channels=4, value_hidden=8),
    "mlp_ln": net_config(kind="resnet", block_type="mlp_ln", blocks=2, channels=8,
                        gpool_every=2, policy_channels=4, value_channels=4, value_hidden=8,
                        activation="swish"),
    "transformer": net_config(kind="transformer", blocks=2, channels=8, num_heads=2,
                             mlp_ratio=2, policy_channels=4, value_channels=4, value_hidden=8,
                             max_board_size=13),
    "transformer_2d": net_config(kind="transformer", blocks=2, channels=8, num_heads=2,
                                mlp_ratio=2, pos_embedding="2d", policy_channels=4,
                                value_channels=4, value_hidden=8),
}


@functools.cache
def build_split(cfg, seed=0):
    """(graphdef, params). RBG keys: threefry init compiles ~5x slower on CPU, per shape."""
    return split(make_network(cfg, PLANES, nnx.Rngs(jax.random.key(seed, impl="rbg"))))


@functools.cache
def build(cfg, seed=0):
    """(jitted apply, params); cached so tests share compilations (inputs are mostly [2, 9, 9])."""
    _, params = build_split(cfg, seed)
    return jax.jit(Network(cfg, PLANES)), params


def features(seed, batch, size, padded=None, garbage=False):
    """Random 0/1 planes on a size x size board, top-left in a padded x padded array.

    numpy rather than jax.random: every new shape would compile a fresh threefry kernel.
    """
    rng = np.random.default_rng(seed)
    padded = padded or size
    out = np.zeros((batch, padded, padded, PLANES), np.float32)
    board = rng.random((batch, size, size, PLANES - 1)) < 0.3  # drawn first: same with padding
    if garbage:  # junk in the non-mask channels of the padding must not matter
        out[..., :-1] = rng.normal(size=(batch, padded, padded, PLANES - 1))
    out[:, :size, :size, :-1] = board
    out[:, :size, :size, -1] = 1.0
    return jnp.asarray(out)


def crop_policy(logits, size, padded):
    """[B, P*P + 1] -> [B, size*size + 1]: the real points of a top-left board, then pass."""
    b = logits.shape[0]
    points = logits[:, :-1].reshape(b, padded, padded)[:, :size, :size].reshape(b, -1)
    return jnp.concatenate([points, logits[:, -1:]], axis=-1)


@pytest.mark.parametrize("name", ["resnet", "transformer"])
def test_output_shapes_several_sizes(name):
    apply, params = build(TINY[name])
    for size in (5, 9, 13):
        out = apply(params, features(size, 2, size))
        assert out.policy_logits.shape == (2, size * size + 1)
        assert out.value_logits.shape == (2, 3)
        assert out.ownership.shape == (2, size, size)
        for leaf in jax.tree.leaves(out):
            assert leaf.dtype == jnp.float32
            assert bool(jnp.all(jnp.isfinite(leaf)))
        assert bool(jnp.all(jnp.abs(out.ownership) <= 1.0))


def test_no_ownership_head():
    apply, params = build(dataclasses.replace(TINY["resnet"], ownership=False))
    out = apply(params, features(0, 1, 5))
    assert out.ownership is None


@pytest.mark.parametrize("name", ["resnet", "mlp_ln", "transformer", "transformer_2d"])
def test_padding_invariance(name):
    cfg = TINY[name]
    assert cfg.kind == "transformer" or any(cfg.gpool_block(i) for i in range(cfg.blocks))
    apply, params = build(cfg)
    small = features(3, 2, 5)
    big = features(3, 2, 5, padded=9, garbage=True)
    out_s = apply(params, small)
    out_b = apply(params, big)
    np.testing.assert_allclose(crop_policy(out_b.policy_logits, 5, 9), out_s.policy_logits,
                               atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out_b.value_logits, out_s.value_logits, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out_b.ownership[:, :5, :5], out_s.ownership, atol=1e-4)
    # Off-board: policy effectively -inf, ownership exactly 0.
    off = np.ones((9, 9), bool)
    off[:5, :5] = False
    points = np.asarray(out_b.policy_logits[:, :-1]).reshape(2, 9, 9)
    assert np.all(points[:, off] < -1e8)
    assert np.all(np.asarray(out_b.ownership)[:, off] == 0.0)
    probs = jax.nn.softmax(out_b.policy_logits, axis=-1).reshape(2, -1)[:, :-1].reshape(2, 9, 9)
    assert float(jnp.max(probs[:, off])) == 0.0


def test_padding_invariance_needs_the_mask():
    """Sanity check that the test above can fail: marking padding on-board changes outputs."""
    apply, params = build(TINY["resnet"])
    big = features(3, 2, 5, padded=9)
    full = big.at[..., -1].set(1.0)
    a, b = apply(params, big), apply(params, full)
    assert not np.allclose(a.value_logits, b.value_logits, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet", "mlp_ln"])
def test_plain_norm_equals_masked_norm_on_unpadded_boards(name):
    masked = TINY[name]
    plain = dataclasses.replace(masked, norm="plain")
    apply_m, params = build(masked)
    apply_p = jax.jit(Network(plain, PLANES))
    x = features(4, 2, 7)
    out_m, out_p = apply_m(params, x), apply_p(params, x)  # the same parameters load in both
    for a, b in zip(out_m, out_p, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    # ... and 'plain' really skips the mask: a padded board gives other outputs than masked.
    big = features(4, 2, 7, padded=9)
    assert not np.allclose(apply_m(params, big).value_logits, apply_p(params, big).value_logits,
                           atol=1e-4)


@pytest.mark.parametrize("name", ["resnet", "transformer"])
def test_bfloat16_close_to_float32(name):
    cfg = TINY[name]
    apply32, params = build(cfg)
    cfg16 = dataclasses.replace(cfg, dtype="bfloat16")
    apply16 = Network(cfg16, PLANES)
    params16 = apply16.abstract_params()
    # Same parameter tree (all float32), so the float32 parameters drive both.
    assert jax.tree.structure(params16) == jax.tree.structure(params)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params16))
    x = features(7, 2, 9)
    assert "bf16" in str(jax.make_jaxpr(apply16)(params, x))  # really computes in bf16
    out32, out16 = apply32(params, x), jax.jit(apply16)(params, x)
    assert out16.policy_logits.dtype == jnp.float32
    p32 = jax.nn.softmax(out32.policy_logits)
    p16 = jax.nn.softmax(out16.policy_logits)
    assert float(jnp.max(jnp.abs(p32 - p16))) < 0.02
    np.testing.assert_allclose(scalar_value(out16.value_logits),
                               scalar_value(out32.value_logits), atol=0.05)
    np.testing.assert_allclose(out16.ownership, out32.ownership, atol=0.1)


@pytest.mark.parametrize("name", ["resnet", "transformer"])
def test_jit_vmap_scan_with_split_merge(name):
    _, params = build_split(TINY[name])
    apply = Network(TINY[name], PLANES)  # un-jitted: the transforms below do the compiling
    xs = features(1, 6, 9).reshape(3, 2, 9, 9, PLANES)
    ref = [build(TINY[name])[0](params, xs[i]) for i in range(3)]
    vmapped = jax.jit(jax.vmap(apply, in_axes=(None, 0)))(params, xs)
    for i in range(3):
        np.testing.assert_allclose(vmapped.policy_logits[i], ref[i].policy_logits, atol=1e-5)
        np.testing.assert_allclose(vmapped.value_logits[i], ref[i].value_logits, atol=1e-5)

    def body(p, x):
        return p, scalar_value(apply(p, x).value_logits)

    _, values = jax.jit(lambda p, x: jax.lax.scan(body, p, x))(params, xs)
    np.testing.assert_allclose(values, jnp.stack([scalar_value(r.value_logits) for r in ref]),
                               atol=1e-5)

    # An ensemble: params stacked on a leading axis.
    _, params_b = build_split(TINY[name], seed=1)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), params, params_b)
    ens = jax.jit(jax.vmap(apply, in_axes=(0, None)))(stacked, xs[0])
    np.testing.assert_allclose(ens.value_logits[0], ref[0].value_logits, atol=1e-5)
    assert not np.allclose(ens.value_logits[1], ref[0].value_logits, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet", "mlp_ln", "transformer"])
def test_gradients_reach_every_param(name):
    cfg = dataclasses.replace(TINY[name], max_board_size=9)  # every position row is used
    apply, params = build(cfg)
    x = features(2, 2, 9)

    def loss(p):
        out = apply(p, x)
        policy = jax.nn.log_softmax(out.policy_logits)[:, ::7].sum()
        value = jax.nn.log_softmax(out.value_logits)[:, 0].sum()
        return policy + value + jnp.square(out.ownership - 0.3).sum()

    grads = jax.jit(jax.grad(loss))(params)
    flat, _ = jax.tree_util.tree_flatten_with_path(grads)
    dead = [jax.tree_util.keystr(path) for path, g in flat if not bool(jnp.any(g != 0))]
    assert not dead, f"no gradient reaches {dead}"
    assert all(bool(jnp.all(jnp.isfinite(g))) for _, g in flat)


def _head_params(c, cp, cv, hidden, ownership):
    policy = c * cp + (c * cp + 2 * cp + 3 * cp * cp + cp) + (3 * cp + 1) + 2 * cp + cp
    value = c * cv + 2 * cv + (3 * cv * hidden + hidden) + (hidden * 3 + 3)
    return policy + value + (cv + 1 if ownership else 0)


def test_count_params_matches_hand_count_resnet():
    base = net_config(blocks=1, channels=4, global_pool=False, ownership=False,
                     policy_channels=2, value_channels=2, value_hidden=3)
    stem = 3 * 3 * PLANES * 4  # 180
    block = 2 * (2 * 4 + 3 * 3 * 4 * 4)  # (norm + 3x3 conv) twice, no conv biases
    final_norm = 2 * 4
    heads = _head_params(4, 2, 2, 3, ownership=False)
    assert heads == 92  # written out: 8 + 26 + 7 + 4 + 2 + 8 + 4 + 21 + 12
    _, params = build(base)
    assert count_params(params) == stem + block + final_norm + heads == 584
    # A pooling block adds a 3x3 conv to C/4 = 1 channel, its norm, and a dense 3 -> 4.
    _, params = build(dataclasses.replace(base, global_pool=True, ownership=True))
    gpool = 3 * 3 * 4 * 1 + 2 * 1 + (3 * 1 * 4 + 4)
    assert count_params(params) == 584 + gpool + (2 + 1)


def test_count_params_matches_hand_count_transformer():
    d, r, n = 8, 2, 5
    cfg = net_config(kind="transformer", blocks=1, channels=d, num_heads=2, mlp_ratio=r,
                    max_board_size=n, policy_channels=2, value_channels=2, value_hidden=3)
    embed = PLANES * d + d + n * n * d + d  # embedding, learned positions, pass token
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * r * d + r * d) + (r * d * d + d)
    total = embed + block + 2 * d + _head_params(d, 2, 2, 3, ownership=True)
    _, params = build(cfg)
    assert count_params(params) == total
    _, params = build(dataclasses.replace(cfg, pos_embedding="2d"))
    assert count_params(params) == total - n * n * d


def test_flops_positive_and_grow_with_blocks():
    results = {}
    for name, blocks in [("resnet", 1), ("resnet", 3), ("transformer", 1), ("transformer", 2)]:
        cfg = dataclasses.replace(TINY[name], blocks=blocks)
        apply, params = build(cfg)
        results[name, blocks] = flops_per_eval(apply, params, (9, 9, PLANES))
        line = describe(cfg, params, results[name, blocks])
        assert name in line and "params" in line and "\n" not in line
    assert all(f > 0 for f in results.values())
    assert results["resnet", 3] > results["resnet", 1]
    assert results["transformer", 2] > results["transformer", 1]
    # Two extra preact blocks are at least their four 3x3 convs, 2*C*C FLOPs per tap; XLA counts
    # only taps inside the 9x9 board: (7 rows * 3 + 2 edge rows * 2) ** 2 = 625 of them.
    assert results["resnet", 3] - results["resnet", 1] >= 4 * 2 * 8 * 8 * 625
    apply, params = build(dataclasses.replace(TINY["resnet"], blocks=3))
    assert flops_per_eval(apply, params, (1, 9, 9, PLANES)) == results["resnet", 3]


def test_value_helpers():
    classes = value_target_classes(jnp.array([1.0, 0.0, -1.0, 1.0]))
    assert classes.dtype == jnp.int32
    assert classes.tolist() == [0, 1, 2, 0]
    logits = jnp.log(jnp.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]]) + 1e-30)
    np.testing.assert_allclose(scalar_value(logits), [0.6, 0.0, -0.25], atol=1e-6)


def test_config_validation():
    with pytest.raises(ValueError):
        net_config(kind="mlp")
    with pytest.raises(ValueError):
        net_config(kind="transformer", channels=10, num_heads=4)
    with pytest.raises(ValueError):
        net_config(kind="transformer", channels=6, num_heads=2, pos_embedding="2d")
    assert hash(net_config()) == hash(net_config())
    # A network is a value: equal architectures are equal (one compile per architecture).
    assert Network(net_config(), PLANES) == Network(net_config(), PLANES)
    assert hash(Network(net_config(), PLANES)) == hash(Network(net_config(), PLANES))
    assert Network(net_config(), PLANES) != Network(net_config(blocks=2), PLANES)
    # Pooling blocks: 1, 4 for six blocks; block 0 when there is only one.
    assert [i for i in range(6) if net_config(blocks=6).gpool_block(i)] == [1, 4]
    assert net_config(blocks=1).gpool_block(0)
    assert not net_config(blocks=6, global_pool=False).gpool_block(1)


def test_equal_networks_compile_once():
    """Networks built separately but equal share one compiled function (a static argument)."""
    traces = []

    @functools.partial(jax.jit, static_argnums=0)
    def value(network, params, x):
        traces.append(network)
        return network(params, x).value_logits

    cfg = TINY["resnet"]
    _, params = build_split(cfg)
    x = features(3, 2, 9)
    a = value(Network(cfg, PLANES), params, x)
    b = value(Network(dataclasses.replace(cfg), PLANES), params, x)
    np.testing.assert_array_equal(a, b)
    assert len(traces) == 1


@pytest.mark.parametrize("name", ["resnet", "transformer"])
def test_liberty_planes_are_read_by_the_stem_and_keep_padding_invariance(name):
    from alphago_jax.features import LIBERTY_PLANES

    cfg = dataclasses.replace(TINY[name], liberties=True)
    apply, params = build(cfg)
    _, plain = build(TINY[name])
    width = cfg.channels
    per_channel = 9 * width if name == "resnet" else width  # 3x3 conv or per-point dense
    assert count_params(params) - count_params(plain) == LIBERTY_PLANES * per_channel
    small, big = features(3, 2, 5), features(3, 2, 5, padded=9, garbage=True)
    out_s, out_b = apply(params, small), apply(params, big)
    np.testing.assert_allclose(crop_policy(out_b.policy_logits, 5, 9), out_s.policy_logits,
                               atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out_b.value_logits, out_s.value_logits, atol=1e-4, rtol=1e-4)
    # The liberty planes are the stem's inputs PLANES-1 .. PLANES+1 (the mask stays last):
    # without their weights the outputs change on boards that have chains with 1-3 liberties.
    stem = "stem" if name == "resnet" else "embed"
    cut = jax.tree.map(lambda a: a, params)
    kernel = cut[stem]["kernel"]
    cut[stem]["kernel"] = kernel.at[..., PLANES - 1: PLANES - 1 + LIBERTY_PLANES, :].set(0.0)
    assert not np.allclose(apply(cut, small).value_logits, out_s.value_logits, atol=1e-6)
