import os
import sys

from .cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # the reader went away (`... | head`): stop quietly, as other command-line tools do;
    # stdout goes to /dev/null so the interpreter's final flush cannot fail again
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
raise SystemExit(code)
