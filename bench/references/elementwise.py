"""PyTorch versions of the elementwise family: the function a PyTorch user would call for each
unary_<op>, binary_<op>, swiglu, geglu_tanh and the casts (eager and torch.compile)."""
import torch
import torch.nn.functional as F

from references._common import eager_and_compiled

UNARY = {
    "abs": torch.abs,
    "neg": torch.neg,
    "sign": torch.sign,
    "square": torch.square,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "recip": torch.reciprocal,
    "exp": torch.exp,
    "exp2": torch.exp2,
    "expm1": torch.expm1,
    "log": torch.log,
    "log2": torch.log2,
    "log1p": torch.log1p,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "relu": torch.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "softplus": F.softplus,
    "erf": torch.erf,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
}

BINARY = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "pow": torch.pow,
    "atan2": torch.atan2,
    "remainder": torch.remainder,
}

GATED = {
    "swiglu": lambda gate, up: F.silu(gate) * up,
    "geglu_tanh": lambda gate, up: F.gelu(gate, approximate="tanh") * up,
}


def _unary(fn):
    def make(case):
        x = case.tensor("x")
        return eager_and_compiled(lambda: fn(x))
    return make


def _binary(fn, a_name, b_name):
    def make(case):
        a, b = case.tensor(a_name), case.tensor(b_name)
        return eager_and_compiled(lambda: fn(a, b))
    return make


def cast_to_f32(case):
    x = case.tensor("x")
    return eager_and_compiled(lambda: x.to(torch.float32))


def cast_from_f32(case):
    x = case.tensor("x")
    return eager_and_compiled(lambda: x.to(case.dtype))


REFERENCES = {
    **{f"unary_{op}": _unary(fn) for op, fn in UNARY.items()},
    **{f"binary_{op}": _binary(fn, "a", "b") for op, fn in BINARY.items()},
    **{name: _binary(fn, "gate", "up") for name, fn in GATED.items()},
    "cast_to_f32": cast_to_f32,
    "cast_from_f32": cast_from_f32,
}
