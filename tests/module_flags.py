"""Prints, as one JSON object, the flags each named module's `--helpfull` lists.

    python -m tests.module_flags gan.main gan.sample ...

What `python -m MODULE --helpfull` prints, for many modules at the cost of one start: importing
JAX and TensorFlow takes about 5 s of the 6 s each separate run would spend, so they are
imported once here and each module's --helpfull runs in a forked child (its own flag registry,
its own exit), two at a time.
"""

import json
import os
import re
import runpy
import sys
import tempfile
import traceback

import flax  # noqa: F401  (imported once, before forking, for every child)
import jax  # noqa: F401
import tensorflow  # noqa: F401
import tensorflow_datasets  # noqa: F401

FLAG_LINE = re.compile(r"^\s+--(?:\[no\])?([\w.-]+)", re.M)
PARALLEL = 2


def _help_in_child(module: str, output: str) -> int:
    """Forks a child that runs `module` as `python -m module --helpfull` into `output`; returns
    its pid. A child that fails (an import error...) writes its traceback to stderr, exits 1."""
    pid = os.fork()
    if pid:
        return pid
    status = 0
    with open(output, "w") as stream:
        os.dup2(stream.fileno(), 1)
        sys.argv = [module, "--helpfull"]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit:  # absl exits after printing the help
            pass
        except BaseException:  # noqa: BLE001  (reported to the parent through the status)
            traceback.print_exc()
            status = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)


def main(modules: list[str]) -> None:
    flags, failed = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        outputs = {module: os.path.join(scratch, module) for module in modules}
        running = {}

        def wait_for_one():
            pid, status = os.wait()
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append(running[pid])
            del running[pid]

        for module in modules:
            running[_help_in_child(module, outputs[module])] = module
            if len(running) == PARALLEL:
                wait_for_one()
        while running:
            wait_for_one()
        for module, output in outputs.items():
            with open(output) as stream:
                flags[module] = sorted(set(FLAG_LINE.findall(stream.read())))
    if failed:
        sys.exit(f"--helpfull failed for {sorted(failed)} (tracebacks above)")
    print(json.dumps(flags))


if __name__ == "__main__":
    main(sys.argv[1:])
