"""Every code block in README.md and docs/*.md runs, or is checked, by name.

A block that shows Python, a shell command or a run config carries `<!-- snippet: NAME -->` on the line before
its opening fence. `CHECKS` says how each named block is checked:

- Python blocks are exec'd in a temporary directory (after the set-up they need, e.g. a tiny saved hybrid where
  the block expects the demo's), and what they promise is asserted;
- shell blocks, in a temporary directory: cheap commands run (`--help` through the venv's `manticore` script,
  first on PATH, in a process of its own; other `manticore` commands through `manticore.cli.main`, the script's
  function, in this process, which has torch imported already); commands too heavy for a unit test are checked
  honestly and cheaply instead: `make -n TARGET` in the repo root, `manticore ...` parsed by the CLI's own parser
  (every flag given in full) and its run config loaded and validated, as the command does before any work,
  `torchrun` / `accelerate launch` / `lm_eval` parsed by their own parsers, `python -m MODULE` found, runnable
  as a script and declaring the flags used, `pip install` extras found in pyproject.toml;
- YAML run configs are loaded and validated by the run-config loader.

The page-wide checks: every such block is marked, no name is used twice, every name has a check and every check
a block; relative links and their anchors resolve; the `manticore.*` paths, repository paths, `make` targets and
`manticore` commands named in inline code exist; no page refers to issue numbers; the README stays a front door.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import json
import linecache
import os
import re
import shlex
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIGS = ROOT / "src" / "manticore" / "configs"
QUICKSTART = CONFIGS / "quickstart.yaml"
BIN = Path(sys.executable).parent  # the venv's bin: `manticore`, `python`, `torchrun`, ...
MARKED_LANGUAGES = {"python", "py", "bash", "sh", "shell", "console", "yaml", "yml"}  # blocks that need a marker
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*([\w.-]+)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```\s*([\w-]*)")
EXAMPLE_ENV = {"NODE_RANK": "0", "HOST": "localhost"}  # values for the variables a shell block leaves to the user
README_LIMIT = 15_000  # bytes: a front door, not a lab notebook

try:
    from manticore.testing import tiny_config
except ImportError:  # before the tiny models moved into the package
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import tiny_config


# -- reading the pages --------------------------------------------------------------------------------------------
@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    name: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a page, each with the marker on the line before it; and the markers that precede
    no block (as 'page:line name')."""
    lines = page.read_text().splitlines()
    blocks, stray, i = [], [], 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        if marker and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
            stray.append(f"{page.relative_to(ROOT)}:{i + 1} {marker.group(1)}")
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, indent = i, fence.group(1)
        i += 1
        while i < len(lines) and not lines[i].startswith(indent + "```"):
            i += 1
        previous = MARKER.match(lines[start - 1]) if start else None
        code = "\n".join(line[len(indent):] for line in lines[start + 1:i]) + "\n"
        blocks.append(Block(page, start + 1, fence.group(2).lower(), code, previous.group(1) if previous else None))
        i += 1
    return blocks, stray


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in read_blocks(page)[0]]


def named_blocks() -> dict[str, Block]:
    return {block.name: block for block in all_blocks() if block.name}


def prose(page: Path) -> str:
    """A page without its fenced blocks."""
    return re.sub(r"^\s*```.*?^\s*```", "", page.read_text(), flags=re.S | re.M)


def inline_code(page: Path) -> list[str]:
    return re.findall(r"`([^`\n]+)`", prose(page))


# -- running and checking -----------------------------------------------------------------------------------------
@dataclass
class Context:
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture


def environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def commands(block: Block) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blank lines dropped; in a console
    block, only the `$ ` lines."""
    text = block.code.replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    if block.language == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    return [line for line in lines if line and not line.startswith("#")]


def argv_of(command: str) -> list[str]:
    def value(match: re.Match) -> str:
        assert match.group(1) in EXAMPLE_ENV, f"{command!r} uses ${match.group(1)}; give it an example value"
        return EXAMPLE_ENV[match.group(1)]

    return shlex.split(re.sub(r"\$(\w+)", value, command), comments=True)


def run_ok(command: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=environment(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def assert_exact_flags(argv: list[str], args, what: str) -> None:
    """argparse accepts an abbreviated long flag; the docs must show the whole one (its dest, as every parser here
    names them)."""
    for token in argv:
        if token.startswith("--") and len(token) > 2:
            dest = token[2:].split("=", 1)[0].replace("-", "_")
            assert hasattr(args, dest), f"{what}: {token.split('=', 1)[0]} is not a flag of its own (abbreviated?)"


def check_make(argv: list[str]) -> None:
    """The target exists: `make -n` prints what it would run, in the repo root, running nothing."""
    done = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, env=environment(), capture_output=True, text=True)
    assert done.returncode == 0, f"make -n {' '.join(argv[1:])}: {done.stderr}"


def parse_manticore(argv: list[str], ctx: Context):
    """The CLI's own parser takes argv, every flag given in full; None for --help (which must exit 0)."""
    from manticore import cli

    parser = cli.build_parser()
    if "--help" in argv or "-h" in argv:
        with pytest.raises(SystemExit) as done:
            parser.parse_args(argv)
        assert done.value.code == 0
        ctx.capsys.readouterr()
        return None
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:
        raise AssertionError(f"manticore {' '.join(argv)}: the CLI refused it:\n{ctx.capsys.readouterr().err}") from err
    assert_exact_flags(argv, args, f"manticore {argv[0]}")
    return args


def check_manticore(argv: list[str], cwd: Path, ctx: Context) -> None:
    """Parsed by the CLI's own parser; a command driven by a run config has it loaded and validated in full, as
    the command does before any work (nothing runs)."""
    from manticore import cli

    args = parse_manticore(argv, ctx)
    if args is None:  # --help
        return
    from manticore.workflow.run_config import load_run_config, shipped_config

    ctx.monkeypatch.chdir(cwd)
    if hasattr(args, "config"):  # a stage or `run`
        cli.load_config(args)
    elif args.command == "demo":
        load_run_config(CONFIGS / "demo.yaml", list(args.set or []))
    elif args.command == "quickstart":
        shipped_config("quickstart", [f"out_dir={args.out}"])
    elif args.command == "experiments":
        from manticore.workflow.experiments import load_experiments, select

        select([name.split("/", 1)[0] for name in args.names], load_experiments())


def check_torchrun(argv: list[str], cwd: Path, ctx: Context) -> None:
    from torch.distributed.run import get_args_parser

    args = get_args_parser().parse_args(argv[1:])
    assert args.module and args.training_script == "manticore.cli", argv
    assert_exact_flags(argv[1:argv.index("-m")], args, "torchrun")
    check_manticore(args.training_script_args, cwd, ctx)


def check_accelerate(argv: list[str], cwd: Path, ctx: Context) -> None:
    from accelerate.commands.launch import launch_command_parser

    assert argv[1] == "launch", argv
    args = launch_command_parser().parse_args(argv[2:])
    assert args.module and args.training_script == "manticore.cli", argv
    assert_exact_flags(argv[2:argv.index("-m")], args, "accelerate launch")
    check_manticore(args.training_script_args, cwd, ctx)


def check_lm_eval(argv: list[str], ctx: Context) -> None:
    from lm_eval._cli import HarnessCLI

    ctx.monkeypatch.setattr(sys, "argv", ["lm_eval", *argv[1:]])
    args = HarnessCLI().parse_args()  # lm_eval's own parser, with its legacy `run` insertion
    assert args.model == "hf" and args.model_args.get("trust_remote_code") is True, argv
    assert_exact_flags(argv[1:], args, "lm_eval")


def check_python_module(argv: list[str]) -> None:
    """`python -m MODULE ARGS`: the module exists, runs as a script, and declares every flag used."""
    assert argv[1] == "-m", f"{argv}: show tools as `python -m MODULE`"
    spec = importlib.util.find_spec(argv[2])
    assert spec is not None and spec.origin, f"no module {argv[2]}"
    tree = ast.parse(Path(spec.origin).read_text())
    assert any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body), \
        f"{argv[2]} has no `if __name__ == '__main__'`"
    declared = {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "add_argument"
                for arg in node.args if isinstance(arg, ast.Constant) and str(arg.value).startswith("-")}
    for flag in (a.split("=", 1)[0] for a in argv[3:] if a.startswith("-")):
        assert flag in declared, f"{argv[2]} declares no {flag} (it has {sorted(declared)})"


def check_pip(argv: list[str]) -> None:
    """`pip install -e '.[extras]'`: the extras exist in pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    target = argv[-1]
    assert argv[1] == "install" and target.startswith(".["), argv
    for extra in target[2:-1].split(","):
        assert extra in extras, f"no extra {extra!r}; pyproject has {sorted(extras)}"


def check_statically(command: str, cwd: Path, ctx: Context) -> None:
    argv = argv_of(command)
    checks = {"make": lambda: check_make(argv), "manticore": lambda: check_manticore(argv[1:], cwd, ctx),
              "torchrun": lambda: check_torchrun(argv, cwd, ctx), "accelerate": lambda: check_accelerate(argv, cwd, ctx),
              "lm_eval": lambda: check_lm_eval(argv, ctx), "python": lambda: check_python_module(argv),
              "pip": lambda: check_pip(argv)}
    assert argv[0] in checks, f"no check for the command {command!r}"
    checks[argv[0]]()


def shell(run: tuple[str, ...] = (), setup: Callable[[Context], None] | None = None) -> Callable[[Block, Context], None]:
    """Commands starting with one of `run` are run in the temporary directory: `--help` through the venv's
    `manticore` script in a process of its own (it imports no torch), other `manticore` commands through
    `manticore.cli.main`, the script's function, in this process (a new process would spend seconds importing
    torch). The rest are checked statically. The temporary directory holds a link to the checkout's src/ and
    copies of the quickstart config as my-run.yaml and run.yaml, the configs the blocks name."""

    def check(block: Block, ctx: Context) -> None:
        (ctx.tmp / "src").symlink_to(ROOT / "src")
        for name in ("my-run.yaml", "run.yaml"):
            (ctx.tmp / name).write_text(QUICKSTART.read_text())
        if setup is not None:
            setup(ctx)
        found = commands(block)
        assert found, f"{block.where}: no commands"
        for command in found:
            if not command.startswith(run):
                check_statically(command, ctx.tmp, ctx)
            elif command.startswith("manticore ") and "--help" not in command:
                ctx.monkeypatch.chdir(ctx.tmp)
                argv = argv_of(command)[1:]
                parse_manticore(argv, ctx)
                cli_output(argv, ctx)  # the console script's own function, in this process
            else:
                run_ok(command, ctx.tmp)  # the venv's script, in a process of its own

    return check


def exec_python(block: Block, ctx: Context) -> dict:
    """Exec the block as a module of its own (so dataclasses, inspect.getsource and pickling work), in ctx.tmp."""
    ctx.monkeypatch.chdir(ctx.tmp)
    name = "docs_snippet_" + re.sub(r"\W", "_", block.name)
    filename = f"<{block.where} {block.name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    ctx.monkeypatch.setitem(sys.modules, name, module)
    ctx.monkeypatch.setitem(linecache.cache, filename, (len(block.code), None, block.code.splitlines(True), filename))
    exec(compile(block.code, filename, "exec"), module.__dict__)
    return module.__dict__


@contextlib.contextmanager
def registers(registry, name: str):
    """The block registers `name` in `registry` (a mapping of name -> entry); it is removed again afterwards, so
    the rest of the test session never sees it."""
    assert name not in registry, f"{name!r} is already registered: the snippet would shadow a built-in"
    try:
        yield
        assert name in registry, f"the snippet did not register {name!r}"
    finally:
        registry.pop(name, None)


def load_config(text: str, ctx: Context, overrides: list[str] = ()):
    from manticore.workflow.run_config import load_run_config

    path = ctx.tmp / "config.yaml"
    path.write_text(text)
    return load_run_config(path, [f"out_dir={ctx.tmp / 'run'}", *overrides])


def cli_output(argv: list[str], ctx: Context) -> str:
    """`manticore ARGV` in this process (where a snippet's registrations are visible); its stdout."""
    from manticore import cli

    ctx.capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as done:  # --help
        code = done.code
    out = ctx.capsys.readouterr()
    assert code == 0, f"manticore {' '.join(argv)} exited {code}: {out.err}"
    return out.out


# -- the checks, by name ------------------------------------------------------------------------------------------
def saved_components(ctx: Context) -> None:
    """Tiny GPT-Neo and Mamba checkpoints where the README's `manticore build` expects its components."""
    from transformers import AutoModelForCausalLM

    for family, path in (("gpt_neo", "path/to/gpt-neo"), ("mamba", "path/to/mamba")):
        AutoModelForCausalLM.from_config(tiny_config(family)).save_pretrained(ctx.tmp / path)


def saved_demo_hybrid(ctx: Context) -> None:
    """A stand-in for the hybrid `make demo` saves: tiny GPT-Neo + Mamba, byte-level tokenizer beside it."""
    import torch

    from manticore import ManticoreForCausalLM
    from manticore.tasks.tokenizers import ByteTokenizer

    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=259, max_positions=256), tiny_config("mamba", vocab=259)], num_blocks=2)
    hybrid.save_pretrained(ctx.tmp / "runs/demo/retrain/model")
    ByteTokenizer().hf_tokenizer().save_pretrained(ctx.tmp / "runs/demo/retrain/model")


def check_readme_python(block: Block, ctx: Context) -> None:
    import torch

    scope = exec_python(block, ctx)
    assert scope["out"].logits.shape == (2, 32, 256) and torch.isfinite(scope["out"].loss)
    assert (ctx.tmp / "my-hybrid" / "model.safetensors").exists()
    assert {id(p) for p in scope["arch"]}.isdisjoint(id(p) for p in scope["weights"])
    ids = scope["ids"]
    assert torch.allclose(scope["reloaded"](ids).logits, scope["model"](ids).logits, atol=1e-5)


def check_model_python(block: Block, ctx: Context) -> None:
    import torch

    scope = exec_python(block, ctx)
    assert scope["scores"].shape == (4, 3)
    assert scope["projectors"] and {id(p) for p in scope["projectors"]}.isdisjoint(id(p) for p in scope["components"])
    assert torch.equal(scope["small"].mixture_weights(), torch.ones(2, 1))  # only Mamba is left
    model = scope["model"]
    assert model.is_activation_checkpointing and next(model.parameters()).dtype == torch.bfloat16


def check_inference_generate(block: Block, ctx: Context) -> None:
    saved_demo_hybrid(ctx)
    scope = exec_python(block, ctx)
    assert len(scope["texts"]) == 2 and all(t.startswith(p) for t, p in zip(scope["texts"], scope["prompts"]))
    assert scope["generated"][0]["generated_text"].startswith("To be")


def check_inference_push(block: Block, ctx: Context) -> None:
    """Exec'd against a stand-in Hub (offline): the files committed are exactly the saved directory's."""
    from transformers.utils import hub

    saved_demo_hybrid(ctx)
    committed = {}

    class Api:
        def create_repo(self, repo_id, **kwargs):
            return types.SimpleNamespace(repo_id=repo_id)

        def create_commit(self, repo_id, operations, **kwargs):
            committed.update({op.path_in_repo: repo_id for op in operations})

    ctx.monkeypatch.setattr(hub, "hf_api", lambda: Api())
    exec_python(block, ctx)
    saved = {p.name for p in (ctx.tmp / "runs/demo/retrain/model").iterdir()}
    assert set(committed) == saved and "README.md" in saved and set(committed.values()) == {"your-name/manticore-demo"}


def check_workflow_python(block: Block, ctx: Context) -> None:
    """Exec'd with my-run.yaml the quickstart config at a few steps: every stage's result by name, α per block."""
    config = yaml.safe_load(QUICKSTART.read_text())
    config["train"] = {**config.get("train", {}), "max_steps": 2, "eval_batches": 1}
    config["stages"] = {**config.get("stages", {}), "pretrain": {**config["stages"]["pretrain"],
                                                                 "train": {"max_steps": 2}}}
    config["run"] = ["pretrain", "search", "retrain", "report"]
    (ctx.tmp / "my-run.yaml").write_text(yaml.safe_dump(config))
    scope = exec_python(block, ctx)
    assert set(scope["results"]) == {"pretrain", "search", "retrain", "report"}
    assert len(scope["results"]["search"]["alphas"]) == config["num_blocks"]
    assert scope["retrained"]["test"] == scope["results"]["retrain"]["test"]
    assert (ctx.tmp / "runs/my-run/report.md").exists()


def check_tasks_python(block: Block, ctx: Context) -> None:
    scope = exec_python(block, ctx)
    task = scope["task"]
    assert task.kind == "lm" and task.train[0]["input_ids"].shape == task.train[0]["labels"].shape
    assert set(task.chance) == {"loss", "accuracy", "macro_accuracy"}


def check_adapter(block: Block, ctx: Context) -> None:
    """The hand-written adapter registers, is the one a hybrid uses, and reproduces OLMo exactly (one-hot, L=2)."""
    import torch
    from transformers import AutoModelForCausalLM, OlmoConfig

    import manticore
    from manticore.components import ADAPTERS

    with registers(ADAPTERS, "olmo"):
        scope = exec_python(block, ctx)
        torch.manual_seed(0)
        olmo = AutoModelForCausalLM.from_config(OlmoConfig(
            vocab_size=61, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            bos_token_id=None, eos_token_id=None, pad_token_id=None)).eval()
        hybrid = manticore.ManticoreForCausalLM.from_components([olmo], num_blocks=2, embeddings_from=0).eval()
        assert any(isinstance(module, scope["OlmoAdapter"]) for module in hybrid.modules())
        ids = torch.randint(0, 61, (2, 12))
        with torch.no_grad():
            assert (hybrid(ids).logits - olmo(ids).logits).abs().max() < 1e-4


def check_stage(block: Block, ctx: Context) -> None:
    """The stage becomes a subcommand with its settings in --help, its section validates, and it runs."""
    from manticore.workflow.run_config import load_run_config
    from manticore.workflow.stages import STAGES

    with registers(STAGES, "count-parameters"):
        exec_python(block, ctx)
        assert "trainable_only: false" in cli_output(["count-parameters", "--help"], ctx)
        run = str(ctx.tmp / "run")
        cfg = load_run_config(QUICKSTART, ["stages.count-parameters.trainable_only=true", f"out_dir={run}"])
        assert cfg.stage_settings("count-parameters").trainable_only is True
        out = cli_output(["count-parameters", "--config", str(QUICKSTART), "--out", run], ctx)
        assert json.loads(out)["parameters"] > 0


def check_search(block: Block, ctx: Context) -> None:
    """The algorithm registers, takes its hyperparameters from a run config, builds its optimizer and samples α;
    `manticore search --help` lists it."""
    import torch
    from manticore.train.search import ALGORITHMS, SearchConfig

    with registers(ALGORITHMS, "mine"):
        exec_python(block, ctx)
        cfg = load_config(QUICKSTART.read_text(), ctx, ["search.algorithm=mine", "search.hyperparameters={momentum: 0.5}"])
        algorithm = SearchConfig(**cfg.stage_settings("search").search.to_dict()).build()
        logits = torch.zeros(2, 3, requires_grad=True)
        optimizer = algorithm.optimizer([logits], lr=0.1)
        assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["momentum"] == 0.5
        assert torch.allclose(algorithm.sample(logits).sum(-1), torch.ones(2))
        help_text = cli_output(["search", "--help"], ctx)
        assert "mine:" in help_text and "momentum: 0.9" in help_text


def check_task(block: Block, ctx: Context) -> None:
    """The task registers, builds with its settings, and a run config that names it validates."""
    from manticore.tasks import TASKS

    with registers(TASKS, "my/parity"):
        scope = exec_python(block, ctx)
        task = scope["task"]
        assert task.kind == "classification" and task.train[0]["input_ids"].shape == (32,)
        assert int(task.train[0]["labels"]) in (0, 1) and 0.4 < task.chance["accuracy"] < 0.7
        load_config(QUICKSTART.read_text(), ctx, ["task={name: my/parity, seq_len: 32}"])
        with pytest.raises(ValueError, match="seq_len"):  # typed from the builder's annotations
            load_config(QUICKSTART.read_text(), ctx, ["task={name: my/parity, seq_len: many}"])


def check_report_section(block: Block, ctx: Context) -> None:
    """Listed in the report's sections, the section renders its table from a run directory."""
    from manticore.report import report

    scope = exec_python(block, ctx)
    stage = ctx.tmp / "run" / "search"
    stage.mkdir(parents=True)
    (stage / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "split": "train", "loss": loss}) + "\n"
                                                 for s, loss in ((1, 2.0), (2, 1.5))))
    ctx.monkeypatch.setattr(report, "SECTIONS", (*report.SECTIONS, scope["section"]))
    text = report.write_report(ctx.tmp / "run").read_text()
    assert "## Final train loss" in text and "| `search` | 1.5000 |" in text


def check_bad_value(block: Block, ctx: Context) -> None:
    """Run (through `manticore.cli.main`): exit status 2 at once, exactly the message shown, nothing written."""
    from manticore import cli

    (ctx.tmp / "my-run.yaml").write_text(QUICKSTART.read_text())
    ctx.monkeypatch.chdir(ctx.tmp)
    (command,) = commands(block)
    ctx.capsys.readouterr()
    code = cli.main(argv_of(command)[1:])
    shown = [line for line in block.code.splitlines() if line.strip() and not line.startswith("$ ")]
    err = ctx.capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == shown, (code, err)
    assert not (ctx.tmp / "runs").exists()


def check_run_config(block: Block, ctx: Context) -> None:
    cfg = load_config(block.code, ctx)
    for name in cfg.run:
        cfg.stage_settings(name)


def check_streaming_config(block: Block, ctx: Context) -> None:
    """A fragment: merged into the quickstart config, the whole validates and the stage gets the streamed task."""
    fragment = yaml.safe_load(block.code)
    values = yaml.safe_load(QUICKSTART.read_text())
    for stage, settings in fragment["stages"].items():
        values["stages"].setdefault(stage, {}).update(settings)
    cfg = load_config(yaml.safe_dump(values), ctx)
    assert cfg.stage_settings("pretrain-projectors").task["name"] == "lm/stream"


def check_cost_python(block: Block, ctx: Context) -> None:
    """The counts the page states: no KV bytes for Mamba alone, fewer FLOPs than the GPT-Neo layout, a measured
    latency."""
    scope = exec_python(block, ctx)
    costs = scope["costs"]
    assert costs.cost([1, 1], "kv_bytes", context=4096) == 0
    assert 0 < costs.cost([1, 1], "flops") < costs.cost([0, 1], "flops") < costs.cost([0, 0], "flops")
    assert costs.cost([0, 1], "decode_latency") > 0


def check_cost_config(block: Block, ctx: Context) -> None:
    """A `search` fragment: merged into the quickstart config, it validates into the search's cost settings."""
    fragment = yaml.safe_load(block.code)
    values = yaml.safe_load(QUICKSTART.read_text())
    values["search"] = fragment["search"]
    cfg = load_config(yaml.safe_dump(values), ctx)
    cost = cfg.stage_settings("search").search.cost
    assert (cost.measure, cost.weight, cost.budget, cost.prune_below) == ("kv_bytes", 5.0, 1.1, 0.02)


@dataclass
class Check:
    how: str
    run: Callable[[Block, Context], None]


CHECKS: dict[str, Check] = {
    "readme-make": Check("`make -n demo`, `make -n test` in the repo root", shell()),
    "readme-install": Check("the extras named are in pyproject.toml", shell()),
    "readme-python": Check("exec'd: logits (2, 32, 256), my-hybrid/model.safetensors, reloaded logits equal",
                           check_readme_python),
    "readme-cli": Check("build and inspect run in this process on tiny saved GPT-Neo and Mamba at path/to/...; "
                        "`search --help` through the venv's script; `run --config` parsed, its config validated",
                        shell(run=("manticore build", "manticore inspect", "manticore search --help"),
                              setup=saved_components)),
    "model-python": Check("exec'd: classifier scores (4, 3), disjoint parameter groups, discretized α one-hot on "
                          "Mamba, checkpointing on, bf16", check_model_python),
    "workflow-cli": Check("`search --help` (the script), `tasks` and `build --head classification` (in this process, "
                          "tiny saved components) run; every other command parsed by the CLI's parser, its run config "
                          "(my-run.yaml: the quickstart config) validated, the experiment names looked up",
                          shell(run=("manticore search --help", "manticore tasks", "manticore build"),
                                setup=saved_components)),
    "workflow-run-config": Check("loaded and validated by load_run_config, every stage in `run` built",
                                 check_run_config),
    "workflow-python": Check("exec'd on the quickstart config at a few steps: results by stage, α per block, the "
                             "resumed retrain kept as it was, the report written", check_workflow_python),
    "inference-push": Check("exec'd against a stand-in Hub: it commits exactly the files save_pretrained wrote, card "
                            "included", check_inference_push),
    "workflow-bad-value": Check("run in this process: exit status 2, exactly the error shown, nothing written",
                                check_bad_value),
    "inference-generate": Check("exec'd on a tiny saved hybrid at runs/demo/retrain/model: texts continue the "
                                "prompts, the pipeline continues 'To be'", check_inference_generate),
    "inference-lm-eval": Check("`eval-harness` parsed by the CLI's parser; `lm_eval` by lm-eval's own",
                               shell()),
    "tasks-python": Check("exec'd: an LM task with aligned labels and a chance level", check_tasks_python),
    "scale-launch": Check("torchrun and accelerate parsed by their own parsers, `-m manticore.cli`, the manticore "
                          "arguments parsed and run.yaml validated with train.strategy=fsdp", shell()),
    "scale-streaming-config": Check("merged into the quickstart config and validated", check_streaming_config),
    "performance-commands": Check("`make -n TARGET`; each `python -m` module exists, runs as a script and declares "
                                  "the flags used", shell()),
    "extending-adapter": Check("exec'd: registered, used by a hybrid, one-hot hybrid = OLMo to 1e-4 at L=2 "
                               "(unregistered afterwards)", check_adapter),
    "extending-stage": Check("exec'd: `count-parameters --help` lists its setting, its section validates, the stage "
                             "runs on the quickstart config (unregistered afterwards)", check_stage),
    "extending-search": Check("exec'd: hyperparameters from a run config, SGD with momentum 0.5, α sums to 1, listed "
                              "by `search --help` (unregistered afterwards)", check_search),
    "extending-task": Check("exec'd: a classification task of 32 bits; a run config naming it validates, a wrong "
                            "type is refused (unregistered afterwards)", check_task),
    "cost-python": Check("exec'd: Mamba alone keeps no KV cache, FLOPs order the layouts, a measured latency",
                         check_cost_python),
    "cost-config": Check("merged into the quickstart config and validated into search.cost", check_cost_config),
    "cost-pareto": Check("parsed by the CLI's parser, its config validated with the override", shell()),
    "extending-report-section": Check("exec'd and added to the report's sections: its table is in report.md",
                                      check_report_section),
}


# -- the tests ----------------------------------------------------------------------------------------------------
def test_every_code_block_is_marked_once():
    unmarked = [b.where for b in all_blocks() if b.language in MARKED_LANGUAGES and not b.name]
    assert not unmarked, f"blocks without a `<!-- snippet: NAME -->` line before them: {unmarked}"
    untyped = [b.where for b in all_blocks() if not b.language]
    assert not untyped, f"blocks without a language (use ```text for plain text): {untyped}"
    seen: dict[str, str] = {}
    for block in all_blocks():
        if block.name:
            assert block.name not in seen, f"snippet {block.name!r} at {block.where} and at {seen[block.name]}"
            seen[block.name] = block.where
    stray = [s for page in PAGES for s in read_blocks(page)[1]]
    assert not stray, f"markers followed by no code block: {stray}"


def test_every_marker_has_a_check_and_every_check_a_marker():
    assert set(named_blocks()) == set(CHECKS), (sorted(set(named_blocks()) - set(CHECKS)),
                                                sorted(set(CHECKS) - set(named_blocks())))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_snippet(name, tmp_path, monkeypatch, capsys):
    block = named_blocks().get(name)
    assert block is not None, f"no block is marked {name!r}"
    CHECKS[name].run(block, Context(tmp_path, monkeypatch, capsys))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_links_and_anchors_resolve():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(page)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and anchor not in {slug(h) for h in re.findall(r"^#+ (.+)$", prose(file), re.M)}:
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_paths_named_in_inline_code_exist():
    """`manticore.x.y` names import (module or attribute), repository paths exist."""
    missing = []
    for page in PAGES:
        for span in inline_code(page):
            for dotted in re.findall(r"(?<![\w.])manticore(?:\.[A-Za-z_]\w*)+", span):
                if not resolves(dotted):
                    missing.append(f"{page.name}: {dotted}")
            for path in re.findall(r"(?<![\w./])((?:src|tests|docs)/[\w./-]+)", span):
                if not (ROOT / path).exists():
                    missing.append(f"{page.name}: {path}")
    assert not missing, missing


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_commands_named_in_inline_code_exist(capsys):
    """`make TARGET` is a target; `manticore ...` parses (placeholders such as <stage> or RUN_DIR are skipped)."""
    from manticore import cli

    for page in PAGES:
        for span in inline_code(page):
            if span.startswith("make "):
                check_make(shlex.split(span))
            elif span.startswith("manticore ") and not re.search(r"<|\.\.\.|\b[A-Z_]{3,}\b|\[", span):
                argv = shlex.split(span)[1:]
                try:
                    args = cli.build_parser().parse_args(argv)
                except SystemExit as done:
                    assert done.code == 0, f"{page.name}: `{span}` does not parse: {capsys.readouterr().err}"
                    continue
                assert_exact_flags(argv, args, f"{page.name}: `{span}`")
    capsys.readouterr()


def test_no_issue_numbers():
    found = [f"{page.name}: {m.group(0)!r}" for page in PAGES
             for m in re.finditer(r"\bissues?\s*#?\d+|(?<![&\w/])#\d+\b", page.read_text(), re.I)]
    assert not found, found


def test_index_lists_every_page():
    index = ROOT / "docs" / "index.md"
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index.read_text()))
    assert linked == {page.name for page in PAGES[1:] if page != index}


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= README_LIMIT, f"README.md is {len(text.encode())} bytes; move detail to docs/"
    assert "make demo" in text and "make test" in text
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", text))
    assert linked == {page.name for page in PAGES[1:]}, sorted({page.name for page in PAGES[1:]} ^ linked)
