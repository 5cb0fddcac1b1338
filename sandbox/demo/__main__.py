"""``python -m sandbox.demo [--keep]`` from the checkout's root (what ``scripts/demo.sh`` runs)."""

import argparse

from sandbox.demo.run import run_demo

parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=run_demo.__doc__)
parser.add_argument("--keep", action="store_true", help="keep the sandbox directory")
raise SystemExit(run_demo(keep=parser.parse_args().keep))
