"""The oracle against itself: gradients against finite differences of its losses, truncated
BPTT against full BPTT, the optimizer step against hand computations (and torch.optim when
torch is installed), and the epoch's batching."""

import numpy as np
import pytest

from . import oracle

F = 8


def _rnn_case(layers, K, seed=0):
    rng = np.random.default_rng(seed)
    n = sum(rows * cols + rows for rows, cols in oracle.rnn.layer_shapes(layers))
    return rng.uniform(-0.8, 0.8, n), rng.uniform(-1, 1, F), rng.uniform(-0.9, 0.9, K)


def _central_differences(loss, params, eps=1e-6):
    out = np.empty_like(params)
    for k in range(len(params)):
        up, down = params.copy(), params.copy()
        up[k] += eps
        down[k] -= eps
        out[k] = (loss(up) - loss(down)) / (2 * eps)
    return out


@pytest.mark.parametrize("layers", [(1, 1), (1, 3, 1), (1, 2, 3, 1)])
@pytest.mark.parametrize("K", [1, F])
@pytest.mark.parametrize("bptt", [0, 1, 3])
def test_rnn_gradient_is_minus_the_loss_derivative(layers, K, bptt):
    params, x, targets = _rnn_case(layers, K)
    grad = oracle.rnn_gradient(params, layers, x, targets, bptt=bptt)
    # truncation: the states before each prediction's window are constants (the unperturbed params)
    numeric = -_central_differences(
        lambda p: oracle.rnn_loss(p, layers, x, targets, bptt=bptt, frozen=params), params)
    assert grad == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_dense_gradient_is_minus_the_loss_derivative():
    layers = (5, 3, 1)
    rng = np.random.default_rng(1)
    params = rng.uniform(-0.8, 0.8, oracle.dense.n_params(layers))
    x, targets = rng.uniform(-1, 1, 5), np.array([0.3])
    grad = oracle.dense_gradient(params, layers, x, targets)
    numeric = -_central_differences(lambda p: oracle.dense_loss(p, layers, x, targets), params)
    assert grad == pytest.approx(numeric, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("clip", [0.0, 0.01])
def test_bptt_beyond_the_series_is_full_bptt_for_one_prediction(clip):
    params, x, targets = _rnn_case((1, 2, 3, 1), 1, seed=2)
    full = oracle.rnn_gradient(params, (1, 2, 3, 1), x, targets, clip=clip)
    for k in (F, F + 5):
        np.testing.assert_array_equal(
            oracle.rnn_gradient(params, (1, 2, 3, 1), x, targets, clip=clip, bptt=k), full)


def test_bptt_beyond_the_series_is_full_bptt_for_every_step():
    # one pass per prediction sums to the combined pass by linearity, so clip must be off
    params, x, targets = _rnn_case((1, 2, 3, 1), F, seed=3)
    full = oracle.rnn_gradient(params, (1, 2, 3, 1), x, targets)
    np.testing.assert_allclose(oracle.rnn_gradient(params, (1, 2, 3, 1), x, targets, bptt=F),
                               full, rtol=0, atol=1e-12)


def test_every_step_loss_counts_each_prediction():
    params, x, targets = _rnn_case((1, 3, 1), F, seed=4)
    outputs = [oracle.rnn_predict(params, (1, 3, 1), x[None, :t])[0] for t in range(1, F + 1)]
    assert oracle.rnn_loss(params, (1, 3, 1), x, targets) == pytest.approx(
        0.5 * np.sum((targets - outputs) ** 2), rel=1e-14)


def test_decay_mask_marks_weights_not_biases():
    # rnn (1, 2, 1): W^1 2x3, b^1 2, W^2 1x3, b^2 1
    # dense (3, 2, 1): W^1 2x3, b^1 2, W^2 1x2, b^2 1
    np.testing.assert_array_equal(oracle.decay_mask("rnn", (1, 2, 1)),
                                  [1] * 6 + [0] * 2 + [1] * 3 + [0])
    np.testing.assert_array_equal(oracle.decay_mask("dense", (3, 2, 1)),
                                  [1] * 6 + [0] * 2 + [1] * 2 + [0])


THETA = np.array([0.5, -0.3, 0.0, 0.2, -0.7, 0.4])
DECAY = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
G = np.array([0.1, 0.2, -0.3, 0.05, 0.4, -0.2])


def _step(grad_sum, count=1, theta=THETA, state=None, **kw):
    params = theta.copy()
    oracle.step(params, grad_sum, count, DECAY, state or oracle.Optimizer(len(params)), **kw)
    return params


def test_sgd_with_l2_shrinks_weights_only():
    got = _step(2 * G, count=2, lr=0.1, l2=0.01)  # the mean over the batch is G
    np.testing.assert_allclose(got[:4], THETA[:4] * (1 - 0.1 * 0.01) + 0.1 * G[:4], rtol=1e-14)
    np.testing.assert_array_equal(got[4:], THETA[4:] + 0.1 * G[4:])


def test_l1_pulls_weights_by_their_sign():
    got = _step(G, lr=0.1, l1=0.02)
    np.testing.assert_allclose(got[:4], THETA[:4] + 0.1 * G[:4] - 0.1 * 0.02 * np.sign(THETA[:4]),
                               rtol=1e-14)
    assert got[2] == 0.1 * G[2]  # sign(0) = 0: a zero weight feels no pull
    np.testing.assert_array_equal(got[4:], THETA[4:] + 0.1 * G[4:])


def test_clip_norm_rescales_to_the_threshold_over_all_params():
    zero = np.zeros(6)
    long = 10 * G  # norm ~ 5.9 > 1
    moved = _step(long, theta=zero, lr=1.0, clip_norm=1.0)
    assert np.linalg.norm(moved) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(moved, long / np.linalg.norm(long), rtol=1e-15)
    np.testing.assert_array_equal(_step(G, theta=zero, lr=1.0, clip_norm=10.0), G)  # short: kept


def test_momentum_two_steps_by_hand():
    state, theta = oracle.Optimizer(2), np.array([1.0, -2.0])
    for g in ([0.5, -1.0], [0.2, 0.4]):
        oracle.step(theta, np.array(g), 1, np.zeros(2), state, lr=0.1, optimizer="momentum")
    # b1 = d1 = (-0.5, 1); θ1 = (1.05, -2.1); b2 = 0.9 b1 + (-0.2, -0.4) = (-0.65, 0.5)
    assert theta == pytest.approx([1.05 + 0.065, -2.1 - 0.05], rel=1e-15)
    assert state.t == 2


def test_adam_two_steps_by_hand():
    state, theta = oracle.Optimizer(1), np.array([1.0])
    for g in (0.5, -0.2):
        oracle.step(theta, np.array([g]), 1, np.zeros(1), state, lr=0.1, optimizer="adam")
    # step 1: d = -0.5, m = -0.05, v = 0.00025; m / (1 - 0.9) = -0.5, sqrt(v / (1 - 0.999)) = 0.5
    theta1 = 1.0 + 0.1 * 0.5 / (0.5 + 1e-8)
    # step 2: d = 0.2, m = -0.045 + 0.02, v = 0.00024975 + 0.00004; 1 - 0.9^2, 1 - 0.999^2
    theta2 = theta1 + 0.1 / 0.19 * 0.025 / (np.sqrt(0.00028975) / np.sqrt(0.001999) + 1e-8)
    assert theta[0] == pytest.approx(theta2, rel=1e-13)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_step_equals_torch_optim(optimizer):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    lr, l2, count = 0.05, 0.01, 3
    weights = torch.tensor(THETA[:4], dtype=torch.float64, requires_grad=True)
    biases = torch.tensor(THETA[4:], dtype=torch.float64, requires_grad=True)
    groups = [{"params": [weights], "weight_decay": l2}, {"params": [biases], "weight_decay": 0.0}]
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9 if optimizer == "momentum" else 0.0)
    params, state = THETA.copy(), oracle.Optimizer(6)
    for _ in range(5):
        grad_sum = rng.normal(size=6)
        oracle.step(params, grad_sum, count, DECAY, state, lr=lr, l2=l2, optimizer=optimizer)
        descent = torch.tensor(-grad_sum / count, dtype=torch.float64)  # torch descends
        weights.grad, biases.grad = descent[:4].clone(), descent[4:].clone()
        opt.step()
    np.testing.assert_allclose(params, np.concatenate([weights.detach().numpy(),
                                                       biases.detach().numpy()]),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("model,layers,width", [("rnn", (1, 2, 1), F), ("dense", (4, 2, 1), 4)])
def test_train_steps_once_a_batch_with_the_params_at_its_start(monkeypatch, model, layers, width):
    rng = np.random.default_rng(6)
    X, Y = rng.uniform(-1, 1, (7, width)), rng.uniform(-0.9, 0.9, (7, 1))
    order = rng.permutation(7)
    flat = rng.uniform(-0.5, 0.5, len(oracle.decay_mask(model, layers)))
    gradient = oracle.rnn_gradient if model == "rnn" else oracle.dense_gradient
    kw = dict(lr=0.1, l2=0.01, optimizer="momentum")

    expected, state = flat.copy(), oracle.Optimizer(len(flat))
    for group in (order[:3], order[3:6], order[6:]):
        grad_sum = sum(gradient(expected, layers, X[i], Y[i]) for i in group)
        oracle.step(expected, grad_sum, len(group), oracle.decay_mask(model, layers), state, **kw)

    counts, real_step = [], oracle.step
    monkeypatch.setattr(oracle, "step", lambda *a, **k: counts.append(a[2]) or real_step(*a, **k))
    got, got_state = oracle.train(model, flat, layers, X, Y, order, batch=3, **kw)
    assert counts == [3, 3, 1] and got_state.t == 3
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_state.b, state.b)
