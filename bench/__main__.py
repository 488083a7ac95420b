"""`python -m bench` (make bench): the HTTP benchmarks of bench.run, then bench.ledger (with PostgreSQL
among the backends), bench.webhooks, bench.comments, bench.reviews, bench.stream and bench.search (with PostgreSQL
among the backends) (BENCH_LEDGER, BENCH_WEBHOOKS, BENCH_COMMENTS_RUN, BENCH_REVIEWS, BENCH_STREAM, BENCH_SEARCH = 0
leave one out).

The driver sits above the three so that none of them imports another's driver (bench.ledger builds on
bench.run's servers and helpers; bench.run knows nothing of it).
"""

import os
import sys
import time

from . import comments, ledger, reviews, run, search, stream, webhooks


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
    if os.environ.get("BENCH_COMMENTS_RUN", "1") != "0":
        results["comments"] = comments.measure(comments.parse_args([]))
        comments.save(results["comments"])
        extra.append(comments.report(results["comments"]))
    if os.environ.get("BENCH_REVIEWS", "1") != "0":
        reviews.main([])  # decide with 5 reviewers; prints its table, bench-results/reviews-latest.json
    if os.environ.get("BENCH_STREAM", "1") != "0":
        results["stream"] = stream.measure(stream.parse_args([]))  # uvicorn's streams beside gunicorn
        stream.save(results["stream"])
        extra.append(stream.report(results["stream"]))
    if os.environ.get("BENCH_SEARCH", "1") != "0" and "postgres" in options.backends:
        search_options = search.parse_args([])  # 10,000 projects and decisions, 1M audit rows (BENCH_SEARCH_*)
        search_options.postgres_url = options.postgres_url
        results["search"] = search.bench(search_options)
        if "skipped" not in results["search"]:
            search.save(results["search"])
        extra.append(search.report(results["search"]))
    results["seconds"] = round(time.monotonic() - started, 1)
    run.report(results, options, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
