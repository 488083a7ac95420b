"""`python -m bench` (make bench): the HTTP benchmarks of bench.run, then bench.ledger (with PostgreSQL
among the backends) and bench.webhooks, in one result file.

The driver sits above the three so that none of them imports another's driver (bench.ledger builds on
bench.run's servers and helpers; bench.run knows nothing of it).
"""

import sys
import time

from . import ledger, run, webhooks


def main(argv=None) -> int:
    started = time.monotonic()
    options = run.parse_args(argv)
    results = run.measure(options)
    extra = []
    if options.ledger and "postgres" in options.backends:
        ledger_options = ledger.parse_args([])
        ledger_options.postgres_url, ledger_options.label = options.postgres_url, options.label
        results["ledger"] = ledger.bench(ledger_options)
        extra.append(ledger.report(results["ledger"]))
    if options.webhooks:
        results["webhooks"] = webhooks.bench(webhooks.parse_args([]))
    results["seconds"] = round(time.monotonic() - started, 1)
    run.report(results, options, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
