import faulthandler
import os
import sys

from ops.cli import main

faulthandler.enable()  # a crash in a C extension still leaves a trace in the Job's log
code = main()
# Calls left behind by a deadline run on daemon threads, possibly inside C code; ending the process
# here, once the output is flushed, keeps interpreter shutdown from tearing them down mid-call.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
