"""The worker's web side: a live wallboard, a query API over the statistics, Prometheus metrics.

It reads the compacted ``<prefix>.stat.<StatType>`` topics itself (every worker holds every
latest value, so any worker answers any query) and knows nothing of the stages beyond the counters
they keep; see :mod:`pipeline.web.server`.
"""
