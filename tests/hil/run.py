"""Runs the HIL tests; prints the guest's logs and serial console for each
failure and ends with `N passed, N failed`."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_hil  # noqa: E402


class Result(unittest.TextTestResult):
    def _dump(self, test):
        if test_hil.B is not None:
            self.stream.write("---- guest logs for %s ----\n%s\n" % (test, test_hil.B.guest_logs()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def main():
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(test_hil)
    names = sys.argv[1:]
    if names:
        suite = unittest.TestSuite(t for t in iter_tests(suite) if any(n in t.id() for n in names))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    # A setUpModule/tearDownModule error is no test of its own: it fails
    # the suite without taking a test from the passed.
    failed_tests = len([t for t, _ in res.failures + res.errors if isinstance(t, unittest.TestCase)])
    if failed or not res.testsRun:
        serial = test_hil.B.serial_log() if test_hil.B is not None else ""
        print("---- serial console (%s) ----" % (test_hil.B.serial if test_hil.B else "none"))
        print(serial[-8000:])
    print("HIL suite took %.0f s" % (time.monotonic() - t0))
    passed = res.testsRun - failed_tests - len(res.skipped)
    if res.testsRun == 0 and failed == 0:
        failed = 1      # setUpModule failed: nothing ran
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def iter_tests(s):
    for t in s:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


if __name__ == "__main__":
    sys.exit(main())
