#!/usr/bin/env python3
"""Writes golden sampler trajectories at a new step count, from the reference libraries themselves.

The shared golden files (../shared/reference) were made at 10 and 25 steps, which divide the 1,000
training timesteps; a spacing bug that only shows when they do not divide hides there. This script
takes one of those files as the template (its denoiser, noise, runs and seeds), runs every run again
through diffusers' scheduler files or k-diffusion's sampling.py at the commits the template names,
with N steps, and writes a file of the same schema for `diffuse check-reference` and the unit test.

    git -C DIFFUSERS_GIT archive COMMIT src/diffusers/schedulers | tar -x -C SRC
    git -C KDIFFUSION_GIT archive COMMIT k_diffusion | tar -x -C SRC
    /usr/bin/python3 scripts/make-reference.py --src SRC --template ../shared/reference/traj_diffusers_d2_n10.json \
        --steps 13 --out tests/reference/traj_diffusers_d2_n13.json

Needs Debian's python3-torch, python3-numpy and python3-scipy (k-diffusion's LMS integrates its
coefficients with scipy). As the shared files were made: the library files are loaded as they are,
with stub modules for diffusers' configuration_utils, utils and scheduling_utils and for
k-diffusion's utils, torchsde, torchdiffeq and tqdm; in diffusers' source text torch.float32 and
np.float32 are replaced by float64 as it is loaded (the algorithm is unchanged, the numbers are
float64-exact). Run at the template's own step count with `--check` to compare every run with it.
"""
import argparse
import enum
import inspect
import json
import math
import os
import sys
import types

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


# ---- the analytic Gaussian-mixture denoiser (the template's formulas) ----
class Mixture:
    def __init__(self, gmm):
        self.mu = torch.tensor(gmm["means"])
        self.var = torch.tensor(gmm["variances"])
        self.logw = torch.log(torch.tensor(gmm["weights"]))

    def x0(self, x, a, s):
        v = a * a * self.var + s * s  # [K, D]
        d = x[:, None, :] - a * self.mu[None]  # [B, K, D]
        logr = self.logw[None] - 0.5 * ((d * d) / v[None] + torch.log(2 * math.pi * v[None])).sum(-1)
        r = torch.softmax(logr, dim=1)  # [B, K]
        comp = self.mu[None] + (a * self.var / v)[None] * d
        return (r[:, :, None] * comp).sum(1)


def sd_alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def vp_discrete_model(mix, prediction_type, calls, outputs):
    ac = sd_alphas_cumprod()
    log_sigmas = torch.log(((1 - ac) / ac).sqrt()).numpy()

    def model(x, t):
        t = float(t)
        calls.append(t)
        if t == round(t):
            a, s = math.sqrt(float(ac[int(t)])), math.sqrt(1 - float(ac[int(t)]))
        else:
            sigma = math.exp(float(np.interp(t, np.arange(len(log_sigmas)), log_sigmas)))
            a = 1 / math.sqrt(1 + sigma * sigma)
            s = sigma * a
        x0 = mix.x0(x, a, s)
        eps = (x - a * x0) / s
        out = {"epsilon": eps, "v_prediction": a * eps - s * x0, "sample": x0}[prediction_type]
        outputs.append(out.tolist())
        return out

    return model


def flow_model(mix, calls, outputs):
    def model(x, t):
        t = float(t)
        calls.append(t)
        sigma = t / 1000.0
        x0 = mix.x0(x, 1 - sigma, sigma)
        out = (x - (1 - sigma) * x0) / sigma - x0
        outputs.append(out.tolist())
        return out

    return model


# ---- loading the library files with stubs ----
def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class Config(dict):
    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def register_to_config(arg=None, **kwargs):
    if callable(arg):  # the decorator on __init__: the constructor's arguments with their defaults
        init = arg

        def wrapped(self, *a, **kw):
            bound = inspect.signature(init).bind(self, *a, **kw)
            bound.apply_defaults()
            self._internal_dict = Config({k: v for k, v in bound.arguments.items() if k != "self"})
            init(self, *a, **kw)

        return wrapped
    raise TypeError("register_to_config: unexpected use")


class ConfigMixin:
    @property
    def config(self):
        return self._internal_dict

    def register_to_config(self, **kwargs):  # the method form, inside a scheduler's __init__
        self._internal_dict = Config({**self._internal_dict, **kwargs})


draws = []  # every randn_tensor draw in call order


def randn_tensor(shape, generator=None, device=None, dtype=None, layout=None):
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    draws.append(x.tolist())
    return x


class BaseOutput:
    pass


def load_diffusers(src):
    root = os.path.join(src, "src", "diffusers", "schedulers")
    pkg = stub("diffusers")
    pkg.__path__ = []
    stub("diffusers.configuration_utils", ConfigMixin=ConfigMixin, register_to_config=register_to_config)
    utils = stub("diffusers.utils", BaseOutput=BaseOutput, is_scipy_available=lambda: True,
                 deprecate=lambda *a, **k: None,
                 logging=types.SimpleNamespace(get_logger=lambda name: types.SimpleNamespace(warning=print, info=print)))
    utils.__path__ = []
    stub("diffusers.utils.torch_utils", randn_tensor=randn_tensor)
    sched = stub("diffusers.schedulers")
    sched.__path__ = [root]

    from dataclasses import dataclass

    @dataclass
    class SchedulerOutput(BaseOutput):
        prev_sample: torch.Tensor

    stub("diffusers.schedulers.scheduling_utils", SchedulerMixin=type("SchedulerMixin", (), {}), SchedulerOutput=SchedulerOutput,
         KarrasDiffusionSchedulers=enum.Enum("KarrasDiffusionSchedulers", "x"))
    return root


def load_module(name, path, float64):
    with open(path) as f:
        code = f.read()
    if float64:
        code = code.replace("torch.float32", "torch.float64").replace("np.float32", "np.float64")
    m = types.ModuleType(name)
    m.__file__ = path
    m.__package__ = name.rsplit(".", 1)[0]
    sys.modules[name] = m
    exec(compile(code, path, "exec"), m.__dict__)
    return m


SCHEDULER_FILES = {
    "DDIMScheduler": "ddim", "DDPMScheduler": "ddpm", "EulerDiscreteScheduler": "euler_discrete",
    "EulerAncestralDiscreteScheduler": "euler_ancestral_discrete", "HeunDiscreteScheduler": "heun_discrete",
    "LMSDiscreteScheduler": "lms_discrete", "DPMSolverMultistepScheduler": "dpmsolver_multistep",
    "DPMSolverSinglestepScheduler": "dpmsolver_singlestep", "UniPCMultistepScheduler": "unipc_multistep",
    "DEISMultistepScheduler": "deis_multistep", "FlowMatchEulerDiscreteScheduler": "flow_match_euler_discrete",
    "FlowMatchHeunDiscreteScheduler": "flow_match_heun_discrete",
}


def diffusers_class(root, cls):
    name = "diffusers.schedulers.scheduling_" + SCHEDULER_FILES[cls]
    m = sys.modules.get(name) or load_module(name, os.path.join(root, "scheduling_" + SCHEDULER_FILES[cls] + ".py"), True)
    return getattr(m, cls)


def load_kdiffusion(src):
    stub("torchsde")
    stub("torchdiffeq", odeint=None)
    stub("tqdm")

    def trange(*a, disable=False, **k):
        return range(*a)

    stub("tqdm.auto", trange=trange, tqdm=lambda x=None, **k: x)
    pkg = stub("k_diffusion")
    pkg.__path__ = []

    def append_dims(x, target_dims):
        return x[(...,) + (None,) * (target_dims - x.ndim)]

    pkg.utils = stub("k_diffusion.utils", append_dims=append_dims)
    return load_module("k_diffusion.sampling", os.path.join(src, "k_diffusion", "sampling.py"), False)


def floats(t):
    return [float(v) for v in torch.as_tensor(t).flatten()]


def run_diffusers(root, run, mix, noise, steps):
    cls = diffusers_class(root, run["scheduler"])
    s = cls(**run["constructor_kwargs"])
    s.set_timesteps(steps)
    calls, outputs, trajectory, injected = [], [], [], []
    flow = run["model"]["kind"] == "flow"
    model = flow_model(mix, calls, outputs) if flow else vp_discrete_model(mix, run["model"]["prediction_type"], calls, outputs)
    init_sigma = float(getattr(s, "init_noise_sigma", 1.0))
    x = noise * init_sigma
    out = dict(run)
    # JSON has no infinities: they are written as strings, as in the shared files
    out["resolved_config"] = {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.config.items()}
    out["set_timesteps"] = {"num_inference_steps": steps}
    out["init_noise_sigma"] = init_sigma
    out["timesteps"] = floats(s.timesteps)
    out["x_init"] = x.tolist()
    if getattr(s, "sigmas", None) is not None and "scheduler_sigmas" in run:
        out["scheduler_sigmas"] = floats(s.sigmas)
    generator = torch.Generator().manual_seed(run["generator_seed"]) if "generator_seed" in run else None
    for i, t in enumerate(s.timesteps):
        x_in = x if flow else s.scale_model_input(x, t)
        y = model(x_in, t)
        del draws[:]
        kwargs = dict(run["step_kwargs"])
        if generator is not None:
            kwargs["generator"] = generator
        x = s.step(y, t, x, **kwargs).prev_sample
        if generator is not None:
            injected.append(list(draws) if draws else None)  # DDPM's last step adds no noise
        if getattr(s, "state_in_first_order", True) or i == len(s.timesteps) - 1:  # Heun: only completed steps
            trajectory.append(x.tolist())
    if not torch.isfinite(x).all():
        raise FloatingPointError("non-finite values in the trajectory")
    out.update(model_call_timesteps=calls, trajectory=trajectory, final=x.tolist(), model_outputs=outputs)
    if generator is not None:
        out["injected_noise"] = injected
    return out


def kdiffusion_sigmas(K, root, run, steps):
    schedule = run["sigma_schedule"]
    lo, hi = run["sigma_min"], run["sigma_max"]
    if schedule.startswith("k_diffusion.sampling.get_sigmas_karras"):
        return K.get_sigmas_karras(steps, lo, hi, rho=7.0)
    if schedule.startswith("k_diffusion.sampling.get_sigmas_exponential"):
        return K.get_sigmas_exponential(steps, lo, hi)
    if schedule.startswith("sigmas of diffusers DPMSolverMultistepScheduler"):
        s = diffusers_class(root, "DPMSolverMultistepScheduler")(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                                                 timestep_spacing="linspace")
        s.set_timesteps(steps)
        return torch.as_tensor(s.sigmas, dtype=torch.float64)
    raise ValueError("unknown sigma schedule: " + schedule)


def run_kdiffusion(K, root, run, mix, noise, steps):
    sigmas = kdiffusion_sigmas(K, root, run, steps)
    calls, outputs, trajectory, injected = [], [], [], []

    def model(x, sigma):
        calls.append(float(sigma.flatten()[0]))
        y = mix.x0(x, 1.0, float(sigma.flatten()[0]))
        outputs.append(y.tolist())
        return y

    x = noise * sigmas[0]
    out = dict(run)
    out["sigmas"] = floats(sigmas)
    out["x_init"] = x.tolist()
    kwargs = dict(run["kwargs"])
    if "noise_sampler" in run:
        seed = int(run["noise_sampler"].split("manual_seed(")[1].split(")")[0])
        gen = torch.Generator().manual_seed(seed)

        def noise_sampler(sigma, sigma_next):
            z = torch.randn(x.shape, generator=gen, dtype=torch.float64)
            injected.append({"sigma": float(sigma), "sigma_next": float(sigma_next), "noise": z.tolist()})
            return z

        kwargs["noise_sampler"] = noise_sampler
    fn = getattr(K, run["function"].rsplit(".", 1)[1])
    # k-diffusion's callback sees the state at the start of step i: the states after each step are
    # those of steps 1.. and the final one.
    final = fn(model, x, sigmas, disable=True, callback=lambda d: trajectory.append(d["x"].tolist()) if d["i"] > 0 else None, **kwargs)
    out.update(model_call_sigmas=calls, trajectory=trajectory + [final.tolist()], final=final.tolist(), model_outputs=outputs)
    if "noise_sampler" in run:
        out["injected_noise"] = injected
    return out


def max_diff(a, b, where=""):
    """The largest difference between two JSON values and where it is ("" when equal)."""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf, f"{where}: length {len(a)} vs {len(b)}"
        return max((max_diff(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))), default=(0.0, ""), key=lambda d: d[0])
    if isinstance(a, dict) and isinstance(b, dict):
        return max((max_diff(a[k], b.get(k), f"{where}.{k}") for k in a), default=(0.0, ""), key=lambda d: d[0])
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b), where
    return (0.0, "") if a == b else (math.inf, f"{where}: {a!r} vs {b!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", required=True, help="folder with src/diffusers/schedulers and k_diffusion at the template's commits")
    p.add_argument("--template", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--out", help="the file to write")
    p.add_argument("--check", action="store_true", help="compare every run with the template (use with the template's steps)")
    p.add_argument("--more", action="store_true",
                   help="also run the first run of each diffusers scheduler with each other timestep_spacing (NAME_leading, ...), "
                        "and flow matching with FlowMatchHeunDiscreteScheduler")
    a = p.parse_args()
    with open(a.template) as f:
        template = json.load(f)
    root = load_diffusers(a.src)
    K = load_kdiffusion(a.src)
    mix = Mixture(template["denoiser"]["gmm"])
    noise = torch.tensor(template["noise"])
    out = dict(template)
    out["meta"] = dict(template["meta"], generator="diffuse scripts/make-reference.py from " + os.path.basename(a.template))
    out["num_inference_steps"] = a.steps
    out["runs"], out["errors"] = {}, {}
    runs = dict(template["runs"])
    if a.more:
        for name, run in template["runs"].items():
            if run["scheduler"] == "FlowMatchEulerDiscreteScheduler":
                runs[name.replace("euler", "heun")] = dict(run, scheduler="FlowMatchHeunDiscreteScheduler")
        seen = set()
        for name, run in template["runs"].items():
            spacing = run["resolved_config"].get("timestep_spacing")
            if spacing is None or run["constructor_kwargs"].get("use_karras_sigmas") or run["scheduler"] in seen:
                continue
            seen.add(run["scheduler"])
            for other in ("leading", "trailing", "linspace"):
                kwargs = dict(run["constructor_kwargs"], timestep_spacing=other)
                kwargs.pop("steps_offset", None)  # diffusers' recommended offset belongs to SD's leading spacing
                if other == "leading":
                    kwargs["steps_offset"] = 1
                if other != spacing and f"{name}_{other}" not in runs and not any(
                        r["scheduler"] == run["scheduler"] and r["resolved_config"].get("timestep_spacing") == other for r in runs.values()):
                    runs[f"{name}_{other}"] = dict(run, constructor_kwargs=kwargs)
    for name, run in runs.items():
        try:
            if run["library"] == "huggingface/diffusers":
                out["runs"][name] = run_diffusers(root, run, mix, noise, a.steps)
            else:
                out["runs"][name] = run_kdiffusion(K, root, run, mix, noise, a.steps)
        except Exception as e:  # recorded, as the shared files do
            out["errors"][name] = repr(e)
            if a.check:
                raise
        if a.check and name in out["runs"] and name in template["runs"]:
            d, where = max_diff(run, out["runs"][name])
            print(f"{name}: max difference to the template {d:.3g} {where}")
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f)
        os.replace(tmp, a.out)
    print(f"{len(out['runs'])} runs, {len(out['errors'])} errors {sorted(out['errors'])}", file=sys.stderr)


if __name__ == "__main__":
    main()
