"""The package installs offline into a virtualenv made from Debian's
python3, as its README says, and is imported from there."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InstallTest(unittest.TestCase):
    def test_pip_install_offline_into_a_venv(self):
        work = tempfile.mkdtemp(prefix="hmt-venv")
        try:
            venv = os.path.join(work, "v")
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
            src = os.path.join(work, "src")  # a copy: pip's build leaves build/ and *.egg-info behind
            shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
            pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-index", "--no-build-isolation", src],
                                 capture_output=True, text=True)
            self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
            out = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                  "import hellomgr_tornado, tornado; print(hellomgr_tornado.__file__, tornado.version)"],
                                 capture_output=True, text=True, cwd=work)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(os.path.join(venv, "lib"), out.stdout, "imported from the venv")
        finally:
            shutil.rmtree(work)


if __name__ == "__main__":
    unittest.main()
