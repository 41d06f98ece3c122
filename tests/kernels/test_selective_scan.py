"""The fast CPU selective scan matches the reference, and Mamba models using it match transformers' own path.

Shapes: b = batch, d = channels, l = length, n = state size.
"""

import copy
import pickle
import subprocess
import sys

import pytest
import torch
from transformers import Mamba2Config, MambaConfig, MambaForCausalLM, MambaModel
from transformers.models.mamba.modeling_mamba import MambaMixer
from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer

from manticore.components.mamba import MambaAdapter
from manticore.components.mamba2 import Mamba2Adapter
from manticore.kernels import FastScanMambaMixer, use_fast_scan
from manticore.kernels.selective_scan import scan_backend, selective_scan, selective_scan_ref
from manticore.kernels.selective_scan_cpu import _SelectiveScan
from manticore.kernels.selective_scan_chunked import selective_scan_chunked

scan_module = sys.modules["manticore.kernels.selective_scan"]  # the module (the package exports its function)

# the fast paths, each checked against the reference by the same tests: numba (CPU), chunked (the CUDA path
# without mamba_ssm; plain PyTorch, so it runs on CPU here too)
SCANS = pytest.mark.parametrize("scan", [selective_scan, selective_scan_chunked], ids=["numba", "chunked"])

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.double() - want.double()).norm() / want.double().norm().clamp_min(1e-30)).item()


def scan_inputs(b, d, l, n, softplus, seed=0, dtype=torch.float32):
    """Random arguments in the regime Mamba uses: A < 0 and, after the bias (and softplus), dt > 0."""
    g = torch.Generator().manual_seed(seed)
    if softplus:
        delta = torch.randn(b, d, l, generator=g) - 1.0
        delta_bias = 0.5 * torch.randn(d, generator=g)
    else:
        delta = 0.3 * torch.rand(b, d, l, generator=g) + 0.01
        delta_bias = 0.05 * torch.rand(d, generator=g)
    tensors = dict(
        u=torch.randn(b, d, l, generator=g),
        delta=delta,
        A=-torch.exp(torch.randn(d, n, generator=g)),
        B=torch.randn(b, n, l, generator=g),
        C=torch.randn(b, n, l, generator=g),
        D=torch.randn(d, generator=g),
        z=torch.randn(b, d, l, generator=g),
        delta_bias=delta_bias,
    )
    return {k: v.to(dtype).requires_grad_() for k, v in tensors.items()}


def outputs_and_grads(fn, inputs, softplus, seed=1):
    out = fn(**inputs, delta_softplus=softplus)
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    grads = torch.autograd.grad(out, list(inputs.values()), dout)
    return out, dict(zip(inputs, grads))


@pytest.mark.parametrize("softplus", [True, False])
@pytest.mark.parametrize("l", [1, 7, 64, 131])
@pytest.mark.parametrize("b,d,n", [(2, 5, 4), (1, 40, 16)])  # d = 40: several channel blocks, the last partial
@SCANS
def test_fast_scan_matches_reference(b, d, n, l, softplus, scan):
    inputs = scan_inputs(b, d, l, n, softplus)
    out, grads = outputs_and_grads(scan, inputs, softplus)
    want_out, want_grads = outputs_and_grads(selective_scan_ref, inputs, softplus)
    assert out.shape == (b, d, l) and out.dtype == torch.float32
    assert rel_err(out, want_out) <= 1e-4
    for name in NAMES:
        assert grads[name].shape == inputs[name].shape, name
        assert rel_err(grads[name], want_grads[name]) <= 1e-4, name


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_chunked_scan_gives_the_same_result_for_any_chunk_size(chunk):
    inputs = scan_inputs(2, 6, 37, 4, True)
    out, grads = outputs_and_grads(lambda **kw: selective_scan_chunked(**kw, chunk=chunk), inputs, True)
    want_out, want_grads = outputs_and_grads(selective_scan_ref, inputs, True)
    assert rel_err(out, want_out) <= 1e-5
    assert all(rel_err(grads[name], want_grads[name]) <= 1e-5 for name in NAMES)
    last = selective_scan_chunked(**inputs, delta_softplus=True, return_last_state=True, chunk=chunk)[1]
    assert rel_err(last, selective_scan_ref(**inputs, delta_softplus=True, return_last_state=True)[1]) <= 1e-5
    with pytest.raises(ValueError, match="chunk=0 is not valid; accepted: a positive integer"):
        selective_scan_chunked(**inputs, chunk=0)


def saved_bytes(l: int, b: int = 1, d: int = 32, n: int = 64) -> int:
    """Bytes the chunked scan keeps for backward at length l (everything autograd saves)."""
    inputs = scan_inputs(b, d, l, n, True)
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        selective_scan_chunked(**inputs, delta_softplus=True)
    return total


def test_chunked_scan_memory_is_linear_in_length():
    short, long = saved_bytes(512), saved_bytes(2048)
    assert 3.5 <= long / short <= 4.5  # linear in l
    assert long < 1 * 32 * 2048 * 64 * 4 / 3  # O(b*d*l + b*d*n*l/CHUNK): far below the b*d*l*n of every state


def test_dispatch(monkeypatch):
    cpu = scan_inputs(1, 3, 9, 2, True)
    assert scan_backend(*cpu.values()) == "numba"
    assert scan_backend(*scan_inputs(1, 3, 9, 2, True, dtype=torch.float64).values()) == "reference"
    monkeypatch.setattr(scan_module, "_is_cuda", lambda t: True)  # as if the tensors were on a GPU
    monkeypatch.setattr(scan_module, "_mamba_ssm_scan", None)
    assert scan_backend(*cpu.values()) == "chunked"
    out = selective_scan(**cpu, delta_softplus=True)
    assert rel_err(out, selective_scan_ref(**cpu, delta_softplus=True)) <= 1e-5
    calls = []
    monkeypatch.setattr(scan_module, "_mamba_ssm_scan", lambda *args: calls.append(args) or "fused")
    assert scan_backend(*cpu.values()) == "mamba_ssm"
    assert selective_scan(**cpu, delta_softplus=True) == "fused" and len(calls[0]) == 10


def test_fast_scan_is_the_autograd_function():
    inputs = scan_inputs(1, 3, 5, 2, True)
    out = selective_scan(**inputs, delta_softplus=True)
    assert type(out.grad_fn).__name__ == "_SelectiveScanBackward"


@SCANS
def test_optional_arguments_can_be_left_out(scan):
    inputs = scan_inputs(2, 6, 40, 3, False)
    for name in ("D", "z", "delta_bias"):
        del inputs[name]
    out, grads = outputs_and_grads(scan, inputs, False)
    want_out, want_grads = outputs_and_grads(selective_scan_ref, inputs, False)
    assert rel_err(out, want_out) <= 1e-4
    for name in inputs:
        assert rel_err(grads[name], want_grads[name]) <= 1e-4, name


@SCANS
def test_only_requested_gradients_and_no_grad_forward(scan):
    inputs = {k: v.detach() for k, v in scan_inputs(2, 4, 70, 3, True).items()}
    with torch.no_grad():
        plain = scan(**inputs, delta_softplus=True)
    inputs["B"].requires_grad_()
    out = scan(**inputs, delta_softplus=True)
    assert torch.equal(out, plain)
    (grad_B,) = torch.autograd.grad(out.sum(), [inputs["B"]])
    (want,) = torch.autograd.grad(selective_scan_ref(**inputs, delta_softplus=True).sum(), [inputs["B"]])
    assert rel_err(grad_B, want) <= 1e-4


@SCANS
def test_non_contiguous_inputs(scan):
    inputs = scan_inputs(2, 6, 33, 4, True)
    # The layouts Mamba's mixer passes: transposed (b, l, d) and (b, l, n) tensors.
    strided = {k: (v.detach().transpose(1, 2).contiguous().transpose(1, 2) if v.dim() == 3 else v.detach())
               for k, v in inputs.items()}
    assert not strided["u"].is_contiguous()
    assert rel_err(scan(**strided, delta_softplus=True),
                   selective_scan_ref(**inputs, delta_softplus=True)) <= 1e-4


@SCANS
def test_bfloat16_inputs_compute_in_float32(scan):
    inputs = scan_inputs(2, 8, 20, 4, True, dtype=torch.bfloat16)
    out, grads = outputs_and_grads(scan, inputs, True)
    assert out.dtype == torch.bfloat16 and all(grads[k].dtype == torch.bfloat16 for k in NAMES)
    want = selective_scan_ref(**{k: v.detach().float() for k, v in inputs.items()}, delta_softplus=True)
    assert rel_err(out, want) <= 1e-2


def test_float64_uses_the_reference():
    inputs = scan_inputs(1, 3, 9, 2, True, dtype=torch.float64)
    out = selective_scan(**inputs, delta_softplus=True)
    assert out.dtype == torch.float64 and not isinstance(out.grad_fn, _SelectiveScan._backward_cls)
    assert torch.equal(out, selective_scan_ref(**inputs, delta_softplus=True))


def test_long_sequence_runs_forward_and_backward():
    """l = 4096 at tiny width; a prefix of the output is the scan of the prefix (causality)."""
    inputs = scan_inputs(1, 16, 4096, 4, True)
    out = selective_scan(**inputs, delta_softplus=True)
    out.square().mean().backward()
    assert out.shape == (1, 16, 4096) and torch.isfinite(out).all()
    assert all(torch.isfinite(inputs[k].grad).all() for k in NAMES)
    prefix = {k: (v.detach()[..., :100] if v.dim() == 3 else v.detach()) for k, v in inputs.items()}
    assert rel_err(out.detach()[..., :100], selective_scan_ref(**prefix, delta_softplus=True)) <= 1e-4


def test_shape_errors_say_what_is_wrong():
    inputs = {k: v.detach() for k, v in scan_inputs(2, 5, 7, 4, True).items()}
    with pytest.raises(ValueError, match=r"B must be \(b, n, l\) = \(2, 4, 7\)"):
        selective_scan(**{**inputs, "B": inputs["B"][:, :3]})
    with pytest.raises(ValueError, match=r"A must be \(d, n\) with d = 5"):
        selective_scan(**{**inputs, "A": inputs["A"][:4]})
    with pytest.raises(ValueError, match=r"u must be \(b, d, l\)"):
        selective_scan(**{**inputs, "u": inputs["u"][0]})


def run_in_fresh_python(code: str) -> None:
    """Run `code` (which asserts what modules are loaded) in a new interpreter; fail with its error."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def test_numba_is_imported_by_the_first_fast_scan_not_by_manticore():
    """Importing numba takes a noticeable part of a second: `import manticore` must not pay it."""
    code = (
        "import sys, torch, manticore, manticore.components, manticore.kernels as kernels\n"
        "assert 'numba' not in sys.modules, 'imported with manticore'\n"
        "shapes = (1, 3, 5), (1, 3, 5), (3, 2), (1, 2, 5), (1, 2, 5)  # u, delta, A, B, C\n"
        "kernels.selective_scan(*(torch.randn(s, dtype=torch.float64) for s in shapes))\n"
        "assert 'numba' not in sys.modules, 'imported by the reference scan'\n"
        "kernels.selective_scan(*(torch.randn(s) for s in shapes))\n"
        "assert 'numba' in sys.modules, 'not imported by the fast scan'\n"
    )
    run_in_fresh_python(code)


# -- Mamba models -------------------------------------------------------------------------------------------
def tiny_mamba_config(**kwargs):
    return MambaConfig(vocab_size=61, hidden_size=32, num_hidden_layers=2, state_size=8, expand=2,
                       bos_token_id=None, eos_token_id=None, pad_token_id=None, **kwargs)


def test_use_fast_scan_swaps_only_mamba_mixers():
    model = MambaModel(tiny_mamba_config())
    keys = list(model.state_dict())
    assert use_fast_scan(model) == 2
    assert use_fast_scan(model) == 0  # idempotent
    assert all(type(layer.mixer) is FastScanMambaMixer for layer in model.layers)
    assert all(isinstance(layer.mixer, MambaMixer) for layer in model.layers)
    assert list(model.state_dict()) == keys
    assert type(pickle.loads(pickle.dumps(model)).layers[0].mixer) is FastScanMambaMixer
    assert MambaMixer.forward is not FastScanMambaMixer.forward  # transformers' class is untouched
    assert all(type(layer.mixer) is MambaMixer for layer in MambaModel(tiny_mamba_config()).layers)


@pytest.mark.parametrize("backend", ["numba", "chunked"])
@pytest.mark.parametrize("train", [True, False])
def test_patched_mamba_matches_transformers(train, backend, monkeypatch):
    """Outputs and every parameter gradient, with left padding in the batch.

    The loss is linear in the output (a random cotangent): a sum of squares after the final RMSNorm is nearly
    constant, so its gradients are mostly float32 rounding, on transformers' own path as much as on ours.
    """
    torch.manual_seed(0)
    slow = MambaModel(tiny_mamba_config()).train(train)
    fast = copy.deepcopy(slow)
    use_fast_scan(fast)
    if backend == "chunked":  # the scan a GPU without mamba_ssm runs: the tensors' device is faked for the dispatch
        monkeypatch.setattr(scan_module, "_is_cuda", lambda t: True)
        monkeypatch.setattr(scan_module, "_mamba_ssm_scan", None)
    ids = torch.randint(0, 61, (3, 45))
    mask = torch.ones_like(ids)
    mask[1, :7] = 0
    cotangent = torch.randn(3, 45, 32)
    outs, grads = [], []
    for model in (slow, fast):
        out = model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        (out * cotangent).sum().backward()
        outs.append(out)
        grads.append({name: p.grad for name, p in model.named_parameters()})
    assert rel_err(outs[1], outs[0]) <= 1e-4
    assert grads[0].keys() == grads[1].keys()
    for name, want in grads[0].items():
        assert rel_err(grads[1][name], want) <= 1e-4, name


def slow_and_fast_lms():
    """A tiny Mamba LM on transformers' path, and a copy of it with the fast scan and step."""
    torch.manual_seed(0)
    slow = MambaForCausalLM(tiny_mamba_config()).eval()
    fast = copy.deepcopy(slow)
    use_fast_scan(fast)
    return slow, fast


def test_patched_mamba_generates_what_transformers_generates():
    """Prefill through the fast scan (its final state into the cache) and the fast one-token step."""
    slow, fast = slow_and_fast_lms()
    ids = torch.randint(0, 61, (2, 9))
    kwargs = dict(max_new_tokens=20, do_sample=False, pad_token_id=0)
    assert torch.equal(fast.generate(ids, **kwargs), slow.generate(ids, **kwargs))


def test_patched_mamba_cache_states_match_transformers():
    """After a prefill and three steps, the conv and SSM states and the logits agree with transformers' path."""
    slow, fast = slow_and_fast_lms()
    ids = torch.randint(0, 61, (2, 12))
    with torch.no_grad():
        outs = []
        for model in (slow, fast):
            out = model(input_ids=ids[:, :9], use_cache=True)
            logits = [out.logits[:, -1]]
            for t in range(9, 12):
                out = model(input_ids=ids[:, t:t + 1], cache_params=out.cache_params, use_cache=True)
                logits.append(out.logits[:, -1])
            outs.append((torch.stack(logits), out.cache_params))
    (want, slow_cache), (got, fast_cache) = outs
    assert rel_err(got, want) <= 1e-5
    for layer in range(2):
        assert rel_err(fast_cache.layers[layer].conv_states[0], slow_cache.layers[layer].conv_states[0]) <= 1e-6
        assert rel_err(fast_cache.layers[layer].recurrent_states[0], slow_cache.layers[layer].recurrent_states[0]) <= 1e-5


@pytest.mark.parametrize("l", [1, 5, 70])
def test_fast_scan_returns_the_final_state(l):
    inputs = {k: v.detach() for k, v in scan_inputs(2, 40, l, 8, softplus=True).items()}
    out, state = selective_scan(**inputs, delta_softplus=True, return_last_state=True)
    want_out, want_state = selective_scan_ref(**inputs, delta_softplus=True, return_last_state=True)
    assert state.shape == (2, 40, 8) and state.dtype == torch.float32
    assert rel_err(out, want_out) <= 1e-5 and rel_err(state, want_state) <= 1e-5


def test_use_fast_scan_imports_the_kernels_when_it_patches():
    code = (
        "import sys\n"
        "from transformers import Mamba2Config, Mamba2Model, MambaConfig, MambaModel\n"
        "from manticore.kernels import use_fast_scan\n"
        "small = dict(vocab_size=8, hidden_size=16, num_hidden_layers=1)\n"
        "assert use_fast_scan(Mamba2Model(Mamba2Config(num_heads=4, head_dim=8, **small))) == 0\n"
        "assert 'numba' not in sys.modules, 'imported with nothing to patch'\n"
        "assert use_fast_scan(MambaModel(MambaConfig(**small))) == 1\n"
        "assert 'numba' in sys.modules, 'not imported by use_fast_scan'\n"
    )
    run_in_fresh_python(code)


def test_mamba_adapter_uses_the_fast_scan_and_mamba2_does_not():
    mamba = MambaAdapter(tiny_mamba_config())
    assert all(type(block.mixer) is FastScanMambaMixer for block in mamba.blocks)
    config = Mamba2Config(vocab_size=61, hidden_size=32, num_hidden_layers=2, state_size=8, expand=2, head_dim=8,
                          num_heads=8, n_groups=1, chunk_size=8, bos_token_id=None, eos_token_id=None,
                          pad_token_id=None)
    mamba2 = Mamba2Adapter(config)
    assert all(type(block.mixer) is Mamba2Mixer for block in mamba2.blocks)
