"""mediastat: Interaction Server reporting events in, Stat Server actions and statistics out.

The data flow is visible in the layout: ``records`` (events, actions, statistics; validation and
codecs) → ``core`` (pure interaction tracker and agent/place media state) → ``stats`` (pure
aggregation) → ``replay`` (offline driver) and ``stream`` (Faust adapters) on ``kafka``.
"""

__version__ = "0.1.0"
