"""The WSGI module loads the URLconf at start-up and freezes what start-up made, so full garbage
collections under load walk only what requests create."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_wsgi_application_loads_the_urls_and_freezes_startup_objects():
    script = ("import gc, sys; import commandcentral.wsgi as w; "
              "print(gc.get_freeze_count(), 'commandcentral.urls' in sys.modules, 'projects.api' in sys.modules, "
              "callable(w.application))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "ENV_FILE": "/dev/null",
                               "DATABASE_URL": "sqlite:///:memory:"})
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, urls, views, app = done.stdout.split()
    assert int(frozen) > 20_000  # start-up objects, out of every later collection
    assert (urls, views, app) == ("True", "True", "True")
