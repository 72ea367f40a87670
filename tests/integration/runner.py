"""Runs integration test modules with unittest and prints, last, one line
"N passed, N failed" that tests/run-all.sh reads.  For every failed test the
logs of the daemons it started are printed (tail), after all tests ran.

usage: BUILD=build python3 tests/integration/runner.py tests/integration/test_x.py ...
"""

import importlib.util
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LOG_TAIL = int(os.environ.get("WEBKVM_LOG_TAIL", "150"))


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.stream.write("    (%.1f s)\n" % (time.monotonic() - self._t0))
        self.stream.flush()


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return unittest.defaultTestLoader.loadTestsFromModule(mod)


def main(argv):
    sys.path.insert(0, HERE)
    suite = unittest.TestSuite()
    load_errors = 0
    for path in argv[1:]:
        try:
            suite.addTests(load(path))
        except Exception as e:  # a module that does not even import is a failure
            print("%s: cannot load: %s: %s" % (path, type(e).__name__, e))
            load_errors += 1
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    result = runner.run(suite)

    bad = []
    for test, _ in result.failures + result.errors:
        if test not in bad:
            bad.append(test)
    for test, _ in result.unexpectedSuccesses:
        if test not in bad:
            bad.append(test)
    for test in bad:
        for what, text in getattr(test, "daemon_logs", []):
            lines = text.splitlines()
            print("---- %s: daemon log of %s, last %d of %d lines ----"
                  % (test.id(), what, min(LOG_TAIL, len(lines)), len(lines)))
            print("\n".join(lines[-LOG_TAIL:]))
            print("---- end of log ----")

    failed = len(bad) + load_errors
    skipped = len(result.skipped)
    passed = result.testsRun - len(bad) - skipped
    if skipped:
        print("%d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
