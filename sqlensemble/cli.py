"""The one console entry point, ``sqlensemble``, and its subcommands.

Each subcommand is a module with ``make_parser()`` and ``main(argv) -> int``; it is imported only
when called, so ``sqlensemble --help`` stays instant and never imports torch or vLLM.

    sqlensemble schema DB_PATH --style mschema
    sqlensemble exec DB_PATH "SELECT 1"
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module, one-line help). Behaviour that varies is data.
COMMANDS: dict[str, tuple[str, str]] = {
    "schema": ("sqlensemble.commands.schema", "print the schema text the prompts use"),
    "exec": ("sqlensemble.commands.exec", "run SQL through the guard and the read-only executor"),
    "synth": ("sqlensemble.synth.cli", "write a synthetic BIRD-format benchmark"),
    "train": ("sqlensemble.train.cli", "assemble data, build the CPU base, fine-tune and merge generators"),
    "gateway": ("sqlensemble.ensemble.cli", "run the ensemble gateway (OpenAI-compatible API)"),
    "serve": ("sqlensemble.serve.cli", "start vLLM engines for the generators and the gateway"),
    "download": ("sqlensemble.commands.download", "download checkpoints for hosts without network"),
    "eval": ("sqlensemble.eval.cli", "evaluate a BIRD-format dev set through the gateway"),
    "demo": ("sqlensemble.eval.demo", "synth -> train -> serve -> eval here, reusing finished stages"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: sqlensemble COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'sqlensemble COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from sqlensemble import __version__

        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"sqlensemble: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest))


if __name__ == "__main__":
    raise SystemExit(main())
